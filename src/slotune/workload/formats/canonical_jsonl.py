"""slotune's canonical workload JSONL.

Line 1 is a header object {"slotune_workload": 1, "name", "hash_block_size", "source", "num_requests",
"digest"}; every further line is one RequestSpec (fields at their defaults left out). Serialization is
deterministic, so the same workload always gives the same bytes and the same digest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from slotune.errors import InputError
from slotune.models import RequestSpec, Workload
from slotune.workload.digest import digest_of_lines, request_line
from slotune.workload.formats._common import ReadOptions, build_workload, iter_json_lines, read_text, where

NAME = "canonical-jsonl"
HEADER_KEY = "slotune_workload"
FORMAT_VERSION = 1


def render(workload: Workload) -> str:
    lines = [request_line(r) for r in workload.requests]
    header = {
        HEADER_KEY: FORMAT_VERSION,
        "name": workload.name,
        "hash_block_size": workload.hash_block_size,
        "source": workload.source,
        "num_requests": len(lines),
        "digest": digest_of_lines(lines, workload.hash_block_size),
    }
    return "\n".join([json.dumps(header, separators=(",", ":"), ensure_ascii=False), *lines]) + "\n"


def _request(obj: dict[str, Any], *, path: Path, line_no: int) -> RequestSpec:
    try:
        return RequestSpec.model_validate(obj)
    except ValidationError as exc:
        raise InputError.from_validation(
            exc,
            field=where(path, line_no),
            joiner=", ",
            fix="give each line a request_id, arrival_s >= 0, prompt_tokens >= 1 and output_tokens >= 1 "
            "(see docs/workload.md for the schema)",
        ) from exc


def read(path: Path, options: ReadOptions) -> Workload:
    header: dict[str, Any] = {}
    requests: list[RequestSpec] = []
    for line_no, obj in iter_json_lines(path, read_text(path)):
        if HEADER_KEY in obj:
            if requests or header:
                raise InputError(where(path, line_no), HEADER_KEY, "keep one header, on the first line")
            if obj[HEADER_KEY] != FORMAT_VERSION:
                raise InputError(
                    f"{where(path, line_no)}, {HEADER_KEY}",
                    obj[HEADER_KEY],
                    f"write the file with this slotune (format version {FORMAT_VERSION})",
                    problem="unknown format version",
                )
            header = obj
            continue
        requests.append(_request(obj, path=path, line_no=line_no))
    hash_block_size = header.get("hash_block_size", 16)
    if not isinstance(hash_block_size, int) or hash_block_size < 1:
        raise InputError(
            f"{path.name} header, hash_block_size", hash_block_size, "make it a positive integer"
        )
    workload = build_workload(path, NAME, requests, hash_block_size=hash_block_size, rebase=False)
    return workload.model_copy(
        update={
            "name": str(header.get("name") or workload.name),
            "source": str(header.get("source") or workload.source),
        }
    )
