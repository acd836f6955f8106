"""Workload readers, one module per format, in a registry keyed by format name; plus format detection."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from slotune.errors import InputError
from slotune.models import Workload
from slotune.workload.formats import (
    azure_csv,
    canonical_jsonl,
    etalon_csv,
    mooncake_jsonl,
    openai_log,
    sharegpt_json,
)
from slotune.workload.formats._common import ReadOptions

Reader = Callable[[Path, ReadOptions], Workload]

READERS: dict[str, Reader] = {
    azure_csv.NAME: azure_csv.read,
    mooncake_jsonl.NAME: mooncake_jsonl.read,
    sharegpt_json.NAME: sharegpt_json.read,
    etalon_csv.NAME: etalon_csv.read,
    openai_log.NAME: openai_log.read,
    canonical_jsonl.NAME: canonical_jsonl.read,
}
FORMAT_NAMES = tuple(READERS)

_WHAT_EACH_NEEDS = (
    "azure-csv (header TIMESTAMP,ContextTokens,GeneratedTokens), "
    "etalon-csv (header num_prefill_tokens,num_decode_tokens), "
    "mooncake-jsonl (lines with timestamp, input_length, output_length, hash_ids), "
    "sharegpt-json (an array of {id, conversations}), "
    "openai-log-jsonl (lines with a chat 'messages' or completion 'prompt' body), "
    "canonical-jsonl (slotune's own: lines with request_id, arrival_s, prompt_tokens, output_tokens)"
)


def _undetected(path: Path, why: str) -> InputError:
    return InputError(
        "--format",
        None,
        f"pass --format with one of: {', '.join(FORMAT_NAMES)}. They look like: {_WHAT_EACH_NEEDS}",
        problem=f"cannot tell the format of {path.name}: {why}",
    )


def _detect_json_line(path: Path, first_line: str) -> str:
    try:
        obj = json.loads(first_line)
    except json.JSONDecodeError:
        raise _undetected(path, "its first line is not JSON") from None
    if not isinstance(obj, dict):
        raise _undetected(path, "its first line is not a JSON object")
    if canonical_jsonl.HEADER_KEY in obj or {"request_id", "arrival_s", "prompt_tokens"} <= obj.keys():
        return canonical_jsonl.NAME
    if {"input_length", "output_length"} <= obj.keys():
        return mooncake_jsonl.NAME
    body = obj.get("request", obj.get("body", obj))
    if isinstance(body, dict) and any(k in body for k in openai_log.REQUEST_KEYS):
        return openai_log.NAME
    raise _undetected(path, f"its first object has keys {sorted(obj)[:8]}")


def _detect_csv(path: Path, first_line: str) -> str:
    columns = {c.strip().lower() for c in first_line.split(",")}
    if {c.lower() for c in azure_csv.COLUMNS} <= columns:
        return azure_csv.NAME
    if {c.lower() for c in etalon_csv.COLUMNS} <= columns:
        return etalon_csv.NAME
    raise _undetected(path, f"its header is {first_line.strip()[:120]!r}")


def detect_format(path: Path) -> str:
    """Sniff the first non-blank line: '[' -> ShareGPT JSON, '{' -> one of the JSONL formats, else CSV."""
    if path.is_dir():
        raise InputError("FILE", str(path), "give a file, not a directory", problem="is a directory")
    if not path.is_file():
        raise InputError("FILE", str(path), "give the path of an existing workload file", problem="not found")
    with path.open("r", encoding="utf-8-sig", errors="replace") as f:
        first_line = ""
        for line in f:
            if line.strip():
                first_line = line.strip()
                break
    if not first_line:
        raise InputError(
            "FILE", str(path), "give a file that holds at least one request", problem="empty file"
        )
    if first_line.startswith("["):
        return sharegpt_json.NAME
    if first_line.startswith("{"):
        return _detect_json_line(path, first_line)
    return _detect_csv(path, first_line)


def reader_for(fmt: str) -> Reader:
    key = fmt.strip().lower()
    if key not in READERS:
        raise InputError("--format", fmt, f"use one of: {', '.join(FORMAT_NAMES)}", problem="unknown format")
    return READERS[key]
