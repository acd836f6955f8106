"""Mooncake trace JSONL (kvcache-ai/Mooncake, FAST'25): timestamp (ms), input_length, output_length, hash_ids.

One hash id per 512-token block of the prompt; equal leading ids mean a shareable KV prefix.
"""

from __future__ import annotations

from pathlib import Path

from slotune.errors import InputError
from slotune.models import RequestSpec, Workload
from slotune.workload.formats._common import (
    ReadOptions,
    build_workload,
    iter_json_lines,
    parse_count,
    parse_seconds,
    read_text,
    require_key,
    where,
)

NAME = "mooncake-jsonl"
HASH_BLOCK_SIZE = 512
FIELDS = ("timestamp", "input_length", "output_length", "hash_ids")
_FIX = "give each line timestamp (ms), input_length, output_length and hash_ids, as in Mooncake's traces"


def _hash_ids(raw: object, *, prompt_tokens: int, path: Path, line_no: int) -> tuple[int, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in raw):
        raise InputError(f"{where(path, line_no)}, hash_ids", raw, "make hash_ids a list of integers")
    num_blocks = -(-prompt_tokens // HASH_BLOCK_SIZE)
    if len(raw) > num_blocks:
        raise InputError(
            f"{where(path, line_no)}, hash_ids",
            f"{len(raw)} ids for {prompt_tokens} tokens",
            f"give at most ceil(input_length / {HASH_BLOCK_SIZE}) = {num_blocks} hash ids",
            problem="more hash ids than prompt blocks",
        )
    return tuple(raw)


def read(path: Path, options: ReadOptions) -> Workload:
    requests: list[RequestSpec] = []
    for line_no, obj in iter_json_lines(path, read_text(path)):
        get = {k: require_key(obj, k, path=path, line_no=line_no, fix=_FIX) for k in FIELDS[:3]}
        prompt_tokens = parse_count(
            get["input_length"], field="input_length", path=path, line_no=line_no, minimum=1
        )
        requests.append(
            RequestSpec(
                request_id=str(len(requests)),
                arrival_s=parse_seconds(
                    get["timestamp"], field="timestamp", path=path, line_no=line_no, scale=1e-3
                ),
                prompt_tokens=prompt_tokens,
                output_tokens=parse_count(
                    get["output_length"], field="output_length", path=path, line_no=line_no, minimum=1
                ),
                prefix_block_ids=_hash_ids(
                    obj.get("hash_ids", []), prompt_tokens=prompt_tokens, path=path, line_no=line_no
                ),
            )
        )
    return build_workload(path, NAME, requests, hash_block_size=HASH_BLOCK_SIZE)
