"""A request log as audit evidence: one column per fact over every request, and a sample with its text.

Every line counts for the columns (lengths, max_tokens, stop, temperature, top_p, arrival), which is what the
rules on lengths and sampling read; the first `sample_size` requests in arrival order (their text, shared
prefixes, system prompts) feed the prompt-structure rules and the planner's and simulator's estimates.

An OpenAI request log is read in one light pass (orjson, no tokenizer) when every line carries
`usage.prompt_tokens`; other formats, and logs without usage, go through slotune's workload readers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from slotune.audit.prompts import (
    PromptStructure,
    analyze_prompts,
    chars_per_token,
    text_prefix_blocks,
)
from slotune.errors import InputError
from slotune.models import RequestSpec, SamplingParams, Workload
from slotune.models.workload_stats import WorkloadStats
from slotune.workload import analyze, detect_format, read_workload
from slotune.workload.digest import with_digest
from slotune.workload.tokenizer import render_chatml

DEFAULT_SAMPLE_SIZE = 2000
OPENAI_LOG = "openai-log-jsonl"


@dataclass(frozen=True, slots=True)
class RequestColumns:
    """One entry per request, in file order. NaN: not given (max_tokens, temperature, top_p) or not measured
    (output tokens of a request logged without usage or response)."""

    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    max_tokens: np.ndarray
    has_stop: np.ndarray
    temperature: np.ndarray
    top_p: np.ndarray
    has_sampling: bool  # the file carries request parameters (a trace of lengths does not)

    @property
    def num_requests(self) -> int:
        return int(self.prompt_tokens.size)

    @property
    def measured_output(self) -> np.ndarray:
        return self.output_tokens[~np.isnan(self.output_tokens)]

    @property
    def total_tokens(self) -> np.ndarray:
        """Prompt + output per request, output measured where it was, else its max_tokens, else nothing."""
        out = np.where(np.isnan(self.output_tokens), self.max_tokens, self.output_tokens)
        return self.prompt_tokens + np.nan_to_num(out, nan=0.0)


@dataclass(frozen=True, slots=True)
class RequestLog:
    path: str
    format: str
    columns: RequestColumns
    sample: Workload  # the first requests in arrival order, with prefix block ids where text allows
    sample_stats: WorkloadStats
    prompts: PromptStructure | None
    # Characters per prompt token in the sample (text blocks stand for token blocks at this ratio).
    chars_per_token: float | None = None

    @property
    def num_requests(self) -> int:
        return self.columns.num_requests

    @property
    def sample_note(self) -> str:
        n, total = len(self.sample.requests), self.num_requests
        return f"the first {n:,} of {total:,} requests" if n < total else f"all {total:,} requests"


@dataclass(slots=True)
class _Line:
    body: dict[str, Any]
    usage: dict[str, Any]
    timestamp_s: float | None


def _body(obj: dict[str, Any]) -> dict[str, Any] | None:
    for key in ("request", "body"):
        if isinstance(obj.get(key), dict):
            return obj[key]
    return obj if ("messages" in obj or "prompt" in obj) else None


def _timestamp(obj: dict[str, Any]) -> float | None:
    raw = obj.get("timestamp")
    if raw is None and isinstance(obj.get("response"), dict):
        raw = obj["response"].get("created")
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw)
        except ValueError:
            try:
                return datetime.fromisoformat(raw.strip().replace("Z", "+00:00")).timestamp()
            except ValueError:
                return None
    return None


def _lines(path: Path) -> Iterator[tuple[int, _Line | None]]:
    """(line number, parsed line); None where a line lacks usage.prompt_tokens (the caller falls back)."""
    with path.open("rb") as f:
        for line_no, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise InputError(
                    f"{path.name} line {line_no}",
                    raw[:80].decode("utf-8", "replace"),
                    "make every line one JSON object (JSONL)",
                    problem=f"bad JSON ({exc})",
                ) from exc
            body = _body(obj) if isinstance(obj, dict) else None
            if body is None:
                raise InputError(
                    f"{path.name} line {line_no}",
                    raw[:80].decode("utf-8", "replace"),
                    'give a chat ("messages") or completion ("prompt") request body, or wrap it in "request"',
                )
            response = obj.get("response")
            usage = obj.get("usage") or (response.get("usage") if isinstance(response, dict) else None) or {}
            if not isinstance(usage, dict) or not isinstance(usage.get("prompt_tokens"), int | float):
                yield line_no, None
                continue
            yield line_no, _Line(body, usage, _timestamp(obj))


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan


def _prompt_text(body: dict[str, Any]) -> tuple[str, int]:
    """The prompt as the server sees it (chat rendered as ChatML, as slotune's workload reader does)."""
    messages = body.get("messages")
    if isinstance(messages, list):
        pairs = []
        for m in messages:
            if isinstance(m, dict):
                content = m.get("content")
                if isinstance(content, list):
                    content = "".join(
                        p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
                    )
                pairs.append((str(m.get("role", "")), content if isinstance(content, str) else ""))
        rendered = render_chatml(pairs)
        return rendered.text, rendered.system_chars
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    return (prompt, 0) if isinstance(prompt, str) else ("", 0)


def _stop(body: dict[str, Any]) -> tuple[str, ...] | None:
    stop = body.get("stop")
    if isinstance(stop, str):
        return (stop,)
    if isinstance(stop, list) and stop:
        return tuple(str(s) for s in stop)
    return None


def _sample_request(index: int, line: _Line, arrival_s: float) -> RequestSpec:
    body = line.body
    text, system_chars = _prompt_text(body)
    prompt_tokens = max(1, int(line.usage["prompt_tokens"]))
    completion = line.usage.get("completion_tokens")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    measured = isinstance(completion, int | float) and completion >= 1
    system_tokens = round(prompt_tokens * system_chars / len(text)) if system_chars and text else None
    stop_ids = body.get("stop_token_ids")
    return RequestSpec(
        request_id=str(body.get("request_id", index)),
        arrival_s=max(0.0, arrival_s),
        prompt_tokens=prompt_tokens,
        output_tokens=int(completion) if measured and completion is not None else int(max_tokens or 128),
        is_output_estimated=not measured,
        text=text,
        sampling=SamplingParams(
            temperature=_number(body.get("temperature")) if "temperature" in body else None,
            top_p=_number(body.get("top_p")) if "top_p" in body else None,
            max_tokens=int(max_tokens) if isinstance(max_tokens, int | float) and max_tokens >= 1 else None,
            stop=_stop(body),
            stop_token_ids=tuple(stop_ids) if isinstance(stop_ids, list) and stop_ids else None,
        ),
        system_prompt_tokens=system_tokens or None,
    )


def _read_openai_light(path: Path, sample_size: int) -> tuple[RequestColumns, list[RequestSpec]] | None:
    """The columns and the sample in one pass; None when some line has no usage.prompt_tokens."""
    prompt: list[float] = []
    output: list[float] = []
    limit: list[float] = []
    stop: list[bool] = []
    temperature: list[float] = []
    top_p: list[float] = []
    kept: list[tuple[int, _Line]] = []
    t0: float | None = None
    for _, line in _lines(path):
        if line is None:
            return None
        body, usage = line.body, line.usage
        prompt.append(float(usage["prompt_tokens"]))
        output.append(_number(usage.get("completion_tokens")))
        limit.append(_number(body.get("max_completion_tokens", body.get("max_tokens"))))
        stop.append(_stop(body) is not None or bool(body.get("stop_token_ids")))
        temperature.append(_number(body.get("temperature")))
        top_p.append(_number(body.get("top_p")))
        if len(kept) < sample_size:
            kept.append((len(prompt) - 1, line))
            if line.timestamp_s is not None:
                t0 = line.timestamp_s if t0 is None else min(t0, line.timestamp_s)
    if not prompt:
        raise InputError(
            "--requests", str(path), "give a request log with at least one request", problem="empty"
        )
    columns = RequestColumns(
        prompt_tokens=np.asarray(prompt),
        output_tokens=np.where(np.asarray(output) >= 1, np.asarray(output), np.nan),
        max_tokens=np.asarray(limit),
        has_stop=np.asarray(stop, dtype=bool),
        temperature=np.asarray(temperature),
        top_p=np.asarray(top_p),
        has_sampling=True,
    )
    sample = [
        _sample_request(
            i, line, (line.timestamp_s - t0) if line.timestamp_s is not None and t0 is not None else 0.0
        )
        for i, line in kept
    ]
    sample.sort(key=lambda r: r.arrival_s)
    return columns, sample


def _columns_of(requests: tuple[RequestSpec, ...]) -> RequestColumns:
    def sampled(get: Any) -> np.ndarray:
        return np.asarray(
            [
                math.nan if r.sampling is None or get(r.sampling) is None else get(r.sampling)
                for r in requests
            ],
            dtype=float,
        )

    return RequestColumns(
        prompt_tokens=np.asarray([r.prompt_tokens for r in requests], dtype=float),
        output_tokens=np.asarray(
            [math.nan if r.is_output_estimated else r.output_tokens for r in requests], dtype=float
        ),
        max_tokens=sampled(lambda s: s.max_tokens),
        has_stop=np.asarray(
            [r.sampling is not None and bool(r.sampling.stop or r.sampling.stop_token_ids) for r in requests],
            dtype=bool,
        ),
        temperature=sampled(lambda s: s.temperature),
        top_p=sampled(lambda s: s.top_p),
        has_sampling=any(r.sampling is not None for r in requests),
    )


def _with_text_blocks(requests: list[RequestSpec], block_size: int) -> tuple[list[RequestSpec], float | None]:
    """Prefix block ids from the prompts' text, for requests that have text but neither token nor block ids."""
    if not requests or any(r.text is None or r.prefix_block_ids or r.prompt_token_ids for r in requests):
        return requests, None
    texts = [r.text or "" for r in requests]
    tokens = [r.prompt_tokens for r in requests]
    ratio = chars_per_token(texts, tokens)
    blocks = text_prefix_blocks(texts, tokens, block_size, ratio)
    return [
        r.model_copy(update={"prefix_block_ids": b}) for r, b in zip(requests, blocks, strict=True)
    ], ratio


def read_request_log(
    path: str | Path,
    *,
    fmt: str | None = None,
    tokenizer_path: str | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    block_size: int = 16,
) -> RequestLog:
    """Columns over the whole file and a sample of its first requests (see the module docstring)."""
    if sample_size < 1:
        raise InputError("--sample-requests", sample_size, "give a sample of at least 1 request")
    file = Path(path)
    name = fmt or detect_format(file)
    light = _read_openai_light(file, sample_size) if name == OPENAI_LOG and tokenizer_path is None else None
    if light is not None:
        columns, sample = light
        hash_block = block_size
    else:
        read = read_workload(file, fmt=name, tokenizer_path=tokenizer_path)
        columns = _columns_of(read.requests)
        sample = list(read.requests[:sample_size])
        hash_block = read.hash_block_size
    sample, ratio = _with_text_blocks(sample, block_size)
    if ratio is not None:
        hash_block = block_size
    workload = with_digest(
        Workload(name=file.stem, requests=tuple(sample), hash_block_size=hash_block, source=str(file))
    )
    return RequestLog(
        path=str(file),
        format=name,
        columns=columns,
        sample=workload,
        sample_stats=analyze(workload, block_size=block_size),
        prompts=analyze_prompts([r.text for r in sample if r.text]),
        chars_per_token=ratio,
    )
