"""OpenAI-API request logs as JSONL: one chat or completion request per line.

A line is either the request body itself ({"messages": ...} or {"prompt": ...}) or a record wrapping it:
{"timestamp": ..., "request" (or "body"): {...}, "response": {...}, "usage": {...}}. `timestamp` is
optional (seconds as a number, or an ISO date-time); `usage` may sit at the top or inside `response`.
Chat prompts are rendered as ChatML before tokenizing; completion prompts are tokenized as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from slotune.errors import InputError
from slotune.models import RequestSpec, SamplingParams, Workload
from slotune.workload.formats._common import (
    ReadOptions,
    build_workload,
    iter_json_lines,
    parse_count,
    read_text,
    where,
)
from slotune.workload.tokenizer import encode_many, load_tokenizer, render_chatml

NAME = "openai-log-jsonl"
REQUEST_KEYS = ("messages", "prompt")


@dataclass(slots=True)
class _Line:
    line_no: int
    body: dict[str, Any]
    timestamp_s: float | None
    prompt_text: str
    system_chars: int
    usage: dict[str, Any]
    response_text: str | None


def request_body(obj: dict[str, Any]) -> dict[str, Any] | None:
    for key in ("request", "body"):
        if isinstance(obj.get(key), dict):
            return obj[key]
    return obj if any(k in obj for k in REQUEST_KEYS) else None


def _content_text(content: Any, *, path: Path, line_no: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        # Content parts: only text parts carry prompt text we can count.
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    raise InputError(
        f"{where(path, line_no)}, messages.content", content, "make content a string or a parts list"
    )


def render_prompt(body: dict[str, Any], *, path: Path, line_no: int) -> tuple[str, int]:
    if "messages" in body:
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            raise InputError(f"{where(path, line_no)}, messages", messages, "make messages a non-empty list")
        pairs = []
        for m in messages:
            if not isinstance(m, dict) or not isinstance(m.get("role"), str):
                raise InputError(
                    f"{where(path, line_no)}, messages", m, 'give each message a "role" and "content"'
                )
            pairs.append((m["role"], _content_text(m.get("content"), path=path, line_no=line_no)))
        rendered = render_chatml(pairs)
        return rendered.text, rendered.system_chars
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if isinstance(prompt, str):
        return prompt, 0
    raise InputError(
        f"{where(path, line_no)}, prompt",
        prompt,
        "give one prompt string per line (split batched prompts into separate lines)",
        problem="not a single prompt string",
    )


def parse_timestamp(obj: dict[str, Any], *, path: Path, line_no: int) -> float | None:
    raw = obj.get("timestamp")
    if raw is None:
        response = obj.get("response")
        raw = response.get("created") if isinstance(response, dict) else None
    if raw is None:
        return None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(raw.strip().replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise InputError(
        f"{where(path, line_no)}, timestamp", raw, "make timestamp seconds as a number or an ISO date-time"
    )


def _response_text(response: Any) -> str | None:
    if (
        not isinstance(response, dict)
        or not isinstance(response.get("choices"), list)
        or not response["choices"]
    ):
        return None
    texts = []
    for choice in response["choices"]:
        if not isinstance(choice, dict):
            continue
        message = choice.get("message")
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            texts.append(message["content"])
        elif isinstance(choice.get("text"), str):
            texts.append(choice["text"])
    return "".join(texts) if texts else None


def _parse_line(line_no: int, obj: dict[str, Any], path: Path) -> _Line:
    body = request_body(obj)
    if body is None:
        raise InputError(
            where(path, line_no),
            sorted(obj)[:8],
            'give a chat ("messages") or completion ("prompt") request body, or wrap it in "request"',
            problem="no request body on this line",
        )
    text, system_chars = render_prompt(body, path=path, line_no=line_no)
    response = obj.get("response")
    usage = obj.get("usage") or (response.get("usage") if isinstance(response, dict) else None) or {}
    if not isinstance(usage, dict):
        raise InputError(f"{where(path, line_no)}, usage", usage, "make usage an object with token counts")
    return _Line(
        line_no=line_no,
        body=body,
        timestamp_s=parse_timestamp(obj, path=path, line_no=line_no),
        prompt_text=text,
        system_chars=system_chars,
        usage=usage,
        response_text=_response_text(response),
    )


def _number(body: dict[str, Any], key: str, *, path: Path, line_no: int) -> float | None:
    raw = body.get(key)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise InputError(f"{where(path, line_no)}, {key}", raw, f"make {key} a number")
    return float(raw)


def sampling_params(body: dict[str, Any], *, path: Path, line_no: int) -> SamplingParams:
    raw_max = body.get("max_completion_tokens", body.get("max_tokens"))
    max_tokens = (
        None
        if raw_max is None
        else parse_count(raw_max, field="max_tokens", path=path, line_no=line_no, minimum=1)
    )
    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if stop is not None and not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
        raise InputError(f"{where(path, line_no)}, stop", stop, "make stop a string or a list of strings")
    stop_ids = body.get("stop_token_ids")
    if stop_ids is not None and not (
        isinstance(stop_ids, list) and all(isinstance(s, int) for s in stop_ids)
    ):
        raise InputError(
            f"{where(path, line_no)}, stop_token_ids", stop_ids, "make stop_token_ids a list of ints"
        )
    ignore_eos = body.get("ignore_eos")
    return SamplingParams(
        temperature=_number(body, "temperature", path=path, line_no=line_no),
        top_p=_number(body, "top_p", path=path, line_no=line_no),
        max_tokens=max_tokens,
        stop=tuple(stop) if stop is not None else None,
        stop_token_ids=tuple(stop_ids) if stop_ids is not None else None,
        ignore_eos=ignore_eos if isinstance(ignore_eos, bool) else None,
    )


@dataclass(slots=True)
class _Tokens:
    prompt_ids: list[int] | None = None
    response_tokens: int | None = None
    system_tokens: int | None = None


def _tokenize(lines: list[_Line], tokenizer: Tokenizer | None) -> list[_Tokens]:
    """Token counts for every line, in batches (the tokenizer runs them in parallel)."""
    if tokenizer is None:
        return [_Tokens() for _ in lines]
    prompts = encode_many(tokenizer, [ln.prompt_text for ln in lines])
    responses = encode_many(tokenizer, [ln.response_text or "" for ln in lines])
    systems = encode_many(tokenizer, [ln.prompt_text[: ln.system_chars] for ln in lines])
    return [
        _Tokens(
            prompt_ids=p,
            response_tokens=len(r) if ln.response_text is not None else None,
            system_tokens=len(sy) if ln.system_chars else None,
        )
        for ln, p, r, sy in zip(lines, prompts, responses, systems, strict=True)
    ]


def _to_request(line: _Line, tokens: _Tokens, index: int, path: Path, options: ReadOptions) -> RequestSpec:
    n = line.line_no
    ids = tokens.prompt_ids
    if "prompt_tokens" in line.usage:
        prompt_tokens = parse_count(
            line.usage["prompt_tokens"], field="usage.prompt_tokens", path=path, line_no=n
        )
    else:
        assert ids is not None  # read() demands a tokenizer when usage lacks prompt_tokens
        prompt_tokens = len(ids)
    sampling = sampling_params(line.body, path=path, line_no=n)
    is_estimated = False
    if "completion_tokens" in line.usage:
        output = parse_count(
            line.usage["completion_tokens"], field="usage.completion_tokens", path=path, line_no=n, minimum=1
        )
    elif tokens.response_tokens is not None:
        output = max(1, tokens.response_tokens)
    else:
        output = sampling.max_tokens or options.default_output_tokens
        is_estimated = True
    return RequestSpec(
        request_id=str(line.body.get("request_id", index)),
        arrival_s=line.timestamp_s or 0.0,
        prompt_tokens=max(1, prompt_tokens),
        output_tokens=output,
        is_output_estimated=is_estimated,
        text=line.prompt_text,
        prompt_token_ids=tuple(ids) if ids is not None else None,
        sampling=sampling,
        system_prompt_tokens=tokens.system_tokens,
    )


def read(path: Path, options: ReadOptions) -> Workload:
    lines = [_parse_line(line_no, obj, path) for line_no, obj in iter_json_lines(path, read_text(path))]
    with_time = [ln.timestamp_s is not None for ln in lines]
    if any(with_time) and not all(with_time):
        first = next(ln for ln in lines if ln.timestamp_s is None)
        raise InputError(
            f"{where(path, first.line_no)}, timestamp",
            None,
            "give every line a timestamp, or none of them",
            problem="some lines have a timestamp and this one has not",
        )
    tokenizer = None
    if options.tokenizer_path is not None:
        tokenizer = load_tokenizer(options.tokenizer_path)
    elif lines_without := [ln.line_no for ln in lines if "prompt_tokens" not in ln.usage]:
        raise InputError(
            "--tokenizer",
            None,
            f"pass --tokenizer path/to/tokenizer.json (line {lines_without[0]} and {len(lines_without) - 1} "
            "more have no usage.prompt_tokens, so prompts must be tokenized)",
            problem="a tokenizer is needed for text",
        )
    tokens = _tokenize(lines, tokenizer)
    requests = [
        _to_request(line, tok, i, path, options)
        for i, (line, tok) in enumerate(zip(lines, tokens, strict=True))
    ]
    return build_workload(path, NAME, requests)
