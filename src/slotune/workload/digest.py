"""A workload's identity: sha256 over its requests' canonical JSON lines and its block size.

Names and sources do not change it, so the same requests read from a file, synthesized again from the same
seed, or selected from a trace in memory carry the same digest, and saved results can say which workload
they measured.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from slotune.models import RequestSpec, Workload


def request_line(spec: RequestSpec) -> str:
    """A request as one line of slotune's canonical JSONL (fields at their defaults left out)."""
    return json.dumps(
        spec.model_dump(mode="json", exclude_defaults=True), separators=(",", ":"), ensure_ascii=False
    )


def digest_of_lines(lines: Iterable[str], hash_block_size: int) -> str:
    h = hashlib.sha256(f"hash_block_size={hash_block_size}\n".encode())
    for line in lines:
        h.update(line.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def workload_digest(workload: Workload) -> str:
    """The workload's digest: the one it carries (readers and builders fill it in), else computed."""
    if workload.digest:
        return workload.digest
    return digest_of_lines((request_line(r) for r in workload.requests), workload.hash_block_size)


def with_digest(workload: Workload) -> Workload:
    """The workload with its digest computed from its requests (for one built or changed in memory)."""
    computed = digest_of_lines((request_line(r) for r in workload.requests), workload.hash_block_size)
    return workload.model_copy(update={"digest": computed})
