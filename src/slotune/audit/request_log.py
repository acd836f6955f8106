"""A request log as audit evidence: one column per fact over every request, and a sample with its text.

Every line counts for the columns (lengths, max_tokens, stop, temperature, top_p, arrival), which is what the
rules on lengths and sampling read; the first `sample_size` requests in arrival order (their text, shared
prefixes, system prompts) feed the prompt-structure rules and the planner's and simulator's estimates.

An OpenAI request log is read in one light pass (orjson, no tokenizer) when every line carries
`usage.prompt_tokens`; other formats, and logs without usage, go through slotune's workload readers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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
from slotune.workload.formats._common import DEFAULT_OUTPUT_TOKENS
from slotune.workload.formats.openai_log import parse_timestamp, render_prompt, request_body, sampling_params

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
    line_no: int
    body: dict[str, Any]
    usage: dict[str, Any]
    sampling: SamplingParams
    timestamp_s: float | None


def _bad_line(path: Path, line_no: int, raw: bytes, fix: str, problem: str | None = None) -> InputError:
    return InputError(
        f"{path.name} line {line_no}", raw[:80].decode("utf-8", "replace"), fix, problem=problem
    )


def _lines(path: Path) -> Iterator[_Line | None]:
    """Each request line, checked as slotune's OpenAI-log reader checks it; None where a line lacks
    usage.prompt_tokens (the caller then falls back to that reader)."""
    with path.open("rb") as f:
        for line_no, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise _bad_line(
                    path, line_no, raw, "make every line one JSON object (JSONL)", f"bad JSON ({exc})"
                ) from exc
            body = request_body(obj) if isinstance(obj, dict) else None
            if body is None:
                raise _bad_line(
                    path,
                    line_no,
                    raw,
                    'give a chat ("messages") or completion ("prompt") request body, or wrap it in "request"',
                )
            response = obj.get("response")
            usage = obj.get("usage") or (response.get("usage") if isinstance(response, dict) else None) or {}
            if not isinstance(usage, dict) or not isinstance(usage.get("prompt_tokens"), int | float):
                yield None
                continue
            sampling = sampling_params(body, path=path, line_no=line_no)
            yield _Line(line_no, body, usage, sampling, parse_timestamp(obj, path=path, line_no=line_no))


def _count(value: Any) -> float:
    return (
        float(value)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 1
        else math.nan
    )


def _sample_request(index: int, line: _Line, arrival_s: float, path: Path) -> RequestSpec:
    text, system_chars = render_prompt(line.body, path=path, line_no=line.line_no)
    prompt_tokens = max(1, int(line.usage["prompt_tokens"]))
    completion = _count(line.usage.get("completion_tokens"))
    measured = not math.isnan(completion)
    system_tokens = round(prompt_tokens * system_chars / len(text)) if system_chars and text else None
    return RequestSpec(
        request_id=str(line.body.get("request_id", index)),
        arrival_s=max(0.0, arrival_s),
        prompt_tokens=prompt_tokens,
        output_tokens=int(completion) if measured else (line.sampling.max_tokens or DEFAULT_OUTPUT_TOKENS),
        is_output_estimated=not measured,
        text=text,
        sampling=line.sampling,
        system_prompt_tokens=system_tokens or None,
    )


def _read_openai_light(path: Path, sample_size: int) -> tuple[RequestColumns, list[RequestSpec]] | None:
    """The columns and the sample in one pass; None when some line has no usage.prompt_tokens."""
    prompt: list[float] = []
    output: list[float] = []
    sampling: list[SamplingParams] = []
    kept: list[tuple[int, _Line]] = []
    for line in _lines(path):
        if line is None:
            return None
        prompt.append(float(line.usage["prompt_tokens"]))
        output.append(_count(line.usage.get("completion_tokens")))
        sampling.append(line.sampling)
        if len(kept) < sample_size:
            kept.append((len(prompt) - 1, line))
    if not prompt:
        raise InputError(
            "--requests", str(path), "give a request log with at least one request", problem="empty"
        )
    times = [line.timestamp_s for _, line in kept if line.timestamp_s is not None]
    t0 = min(times) if times else 0.0
    sample = [_sample_request(i, line, (line.timestamp_s or t0) - t0, path) for i, line in kept]
    sample.sort(key=lambda r: r.arrival_s)
    return _columns(np.asarray(prompt), np.asarray(output), sampling), sample


def _columns(
    prompt: np.ndarray, output: np.ndarray, sampling: Sequence[SamplingParams | None]
) -> RequestColumns:
    def values(get: Any) -> np.ndarray:
        return np.asarray(
            [math.nan if s is None or get(s) is None else get(s) for s in sampling], dtype=float
        )

    return RequestColumns(
        prompt_tokens=prompt.astype(float),
        output_tokens=output.astype(float),
        max_tokens=values(lambda s: s.max_tokens),
        has_stop=np.asarray(
            [s is not None and bool(s.stop or s.stop_token_ids) for s in sampling], dtype=bool
        ),
        temperature=values(lambda s: s.temperature),
        top_p=values(lambda s: s.top_p),
        has_sampling=any(s is not None for s in sampling),
    )


def _columns_of(requests: tuple[RequestSpec, ...]) -> RequestColumns:
    prompt = np.asarray([r.prompt_tokens for r in requests], dtype=float)
    output = np.asarray(
        [math.nan if r.is_output_estimated else r.output_tokens for r in requests], dtype=float
    )
    return _columns(prompt, output, [r.sampling for r in requests])


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
