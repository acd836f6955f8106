"""Helpers every reader shares: reading a file, parsing counts, and turning rows into a Workload."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slotune.errors import InputError
from slotune.models import RequestSpec, Workload

# vLLM's `vllm bench` uses 128 output tokens when a dataset gives none (its random dataset default);
# slotune uses the same stand-in and flags such requests with `is_output_estimated`.
DEFAULT_OUTPUT_TOKENS = 128


@dataclass(frozen=True, slots=True)
class ReadOptions:
    tokenizer_path: str | None = None
    default_output_tokens: int = DEFAULT_OUTPUT_TOKENS


def read_text(path: Path) -> str:
    if not path.exists():
        raise InputError("FILE", str(path), "give the path of an existing workload file", problem="not found")
    if path.is_dir():
        raise InputError("FILE", str(path), "give a file, not a directory", problem="is a directory")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            "FILE",
            str(path),
            "give a UTF-8 text file (CSV, JSON or JSONL)",
            problem=f"not UTF-8 text ({exc})",
        ) from exc
    if not text.strip():
        raise InputError(
            "FILE", str(path), "give a file that holds at least one request", problem="empty file"
        )
    return text


def where(path: Path, line_no: int) -> str:
    return f"{path.name} line {line_no}"


def parse_count(raw: Any, *, field: str, path: Path, line_no: int, minimum: int = 0) -> int:
    """A token count: a whole number >= minimum. Accepts JSON ints, "123" and "123.0"."""
    value: int | None = None
    if isinstance(raw, bool):
        value = None
    elif isinstance(raw, int):
        value = raw
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        try:
            value = int(text)
        except ValueError:
            try:
                as_float = float(text)
            except ValueError:
                value = None
            else:
                value = int(as_float) if as_float.is_integer() else None
    if value is None:
        raise InputError(
            f"{where(path, line_no)}, {field}",
            raw,
            f"make {field} a whole number of tokens",
            problem="not a whole number",
        )
    if value < minimum:
        problem = "negative length" if value < 0 else f"must be at least {minimum}"
        raise InputError(
            f"{where(path, line_no)}, {field}",
            value,
            f"fix or drop the row: {field} must be a count >= {minimum}",
            problem=problem,
        )
    return value


def parse_seconds(raw: Any, *, field: str, path: Path, line_no: int, scale: float = 1.0) -> float:
    """A timestamp given as a number (times `scale` gives seconds)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        value = None
    else:
        try:
            value = float(raw) * scale
        except ValueError:
            value = None
    if value is None or value != value:  # NaN check without importing math
        raise InputError(
            f"{where(path, line_no)}, {field}",
            raw,
            f"make {field} a number",
            problem="not a number",
        )
    return value


def iter_json_lines(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; bad JSON names its line."""
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(
                where(path, line_no),
                line[:80],
                "make every line one JSON object (JSONL)",
                problem=f"bad JSON ({exc.msg} at column {exc.colno})",
            ) from exc
        if not isinstance(obj, dict):
            raise InputError(
                where(path, line_no),
                line[:80],
                "make every line one JSON object",
                problem="not a JSON object",
            )
        yield line_no, obj


def require_key(obj: dict[str, Any], key: str, *, path: Path, line_no: int, fix: str) -> Any:
    if key not in obj:
        raise InputError(f"{where(path, line_no)}, {key}", None, fix, problem=f"missing field {key!r}")
    return obj[key]


def build_workload(
    path: Path, fmt: str, requests: Sequence[RequestSpec], *, hash_block_size: int = 16, rebase: bool = True
) -> Workload:
    """Requests in arrival order (stable: equal times keep file order), times relative to the first."""
    if not requests:
        raise InputError(
            "FILE", str(path), "give a file that holds at least one request", problem="no requests"
        )
    ordered = sorted(requests, key=lambda r: r.arrival_s)
    t0 = ordered[0].arrival_s
    if rebase and t0 != 0.0:
        ordered = [r.model_copy(update={"arrival_s": r.arrival_s - t0}) for r in ordered]
    return Workload(
        name=path.stem,
        requests=tuple(ordered),
        hash_block_size=hash_block_size,
        source=f"{fmt}:{path.name}",
    )
