"""How big a run is before it starts: the requests it will send and the memory they take, checked against a
limit so that a slip (`--rate 1e9`) is refused in a second instead of allocating hundreds of GiB.

The limit is a number of requests (`--request-limit`, default DEFAULT_REQUEST_LIMIT); a run above it is refused
with its size and the time and memory it would take, and the flag raises it. Memory is checked whatever the
limit: a run that cannot fit in this machine's available memory is refused.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from slotune.errors import InputError

if TYPE_CHECKING:
    from slotune.models import LoadSpec, RequestSpec

DEFAULT_REQUEST_LIMIT = 100_000
LIMIT_FLAG = "--request-limit"
# What a run holds per request, measured on `simulate` (records with one timestamp per output chunk): about
# 18 kB per chatbot request (mean output ~210 tokens), i.e. ~2 kB plus ~75 bytes per output token.
BYTES_PER_REQUEST = 2_000
BYTES_PER_OUTPUT_TOKEN = 75
# The share of available memory a run may plan to use (the rest: Python, numpy, the OS).
MEMORY_SHARE = 0.8
MAX_COUNT = 10**18
AMOUNT_FLAGS = "--rate, --duration or --num-requests"
CLOSED_LOOP_AMOUNT_FLAGS = "--concurrency, --duration or --num-requests"


def amount_flags_of(load: LoadSpec) -> str:
    """The flags that set a run's size, for the fix of a refused one."""
    return CLOSED_LOOP_AMOUNT_FLAGS if load.kind == "concurrency" else AMOUNT_FLAGS


def planned_requests(
    load: LoadSpec, *, workload_requests: int | None = None, replay_rate_rps: float | None = None
) -> int | None:
    """Requests the run sends, warm-up included; for a closed loop with a time window or a warm-up, the fewest it
    sends (only the run can tell the rest). `workload_requests`: the workload's size (a replay, or one pass of an
    open loop without an amount); `replay_rate_rps`: the rate a replay's workload is synthesized at (a preset),
    when it is not read from a file."""
    if load.kind == "concurrency":
        return _closed_loop_requests(load)
    rate = load.rate_rps if load.kind == "rate" else replay_rate_rps
    if rate is None:  # a file replayed at its own times (as many as it holds), or an offline batch
        return workload_requests if workload_requests is not None else load.num_requests
    scale = load.time_scale if load.kind == "replay" else 1.0
    warm = rate * load.warmup_s / scale
    if load.duration_s is not None:
        return count_of(rate * (load.warmup_s + load.duration_s) / scale)
    if load.num_requests is not None:
        return count_of(load.num_requests + warm)
    if workload_requests is None:  # a preset without an amount: its default window
        return None
    return count_of(workload_requests + warm)


def _closed_loop_requests(load: LoadSpec) -> int | None:
    users = load.concurrency or 0
    if load.warmup_s > 0:  # every user's first request is a warm-up one, on top of the measured amount
        measured = load.num_requests if load.duration_s is None and load.num_requests is not None else 0
        return count_of(users + measured)
    if load.duration_s is None:
        return load.num_requests
    return min(users, load.num_requests) if load.num_requests is not None else users  # each user's first


def count_of(value: float) -> int:
    """A count of requests, capped where a float stops being one (1e308 s of warm-up is still 'too many')."""
    return math.ceil(value) if value < MAX_COUNT else MAX_COUNT


def mean_output_tokens(requests: Sequence[RequestSpec]) -> float:
    return sum(r.output_tokens for r in requests) / len(requests) if requests else 1.0


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), else free physical pages; None where neither is known."""
    meminfo = Path("/proc/meminfo")
    try:
        for line in meminfo.read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def memory_bytes(num_requests: int, mean_output_tokens: float) -> int:
    return int(num_requests * (BYTES_PER_REQUEST + BYTES_PER_OUTPUT_TOKEN * max(mean_output_tokens, 1.0)))


def _gb(num_bytes: float) -> str:
    return f"{num_bytes / 1e9:,.1f} GB"


def check_run_size(
    num_requests: int | None,
    *,
    limit: int = DEFAULT_REQUEST_LIMIT,
    mean_output_tokens: float = 200.0,
    what: str = "the run",
    available_bytes: int | None = None,
    amount_flags: str = AMOUNT_FLAGS,
) -> None:
    """Refuse a run over `limit` requests, or one whose requests would not fit in memory (`available_bytes`,
    default: this machine's available memory). The fix names `amount_flags`, the command's flags that set the
    size."""
    if limit < 1:
        raise InputError(
            LIMIT_FLAG, limit, f"give {LIMIT_FLAG} 1 or more (default {DEFAULT_REQUEST_LIMIT:,})"
        )
    if num_requests is None:
        return
    need = memory_bytes(num_requests, mean_output_tokens)
    have = available_memory_bytes() if available_bytes is None else available_bytes
    if have is not None and need > MEMORY_SHARE * have:
        raise InputError(
            "planned requests",
            num_requests,
            f"lower {amount_flags}",
            problem=f"{what} would hold about {_gb(need)} of records; this machine has {_gb(have)} available",
        )
    if num_requests > limit:
        raise InputError(
            "planned requests",
            num_requests,
            f"lower {amount_flags}, or raise {LIMIT_FLAG} to {num_requests:,} to run it anyway",
            problem=f"{what} would send {num_requests:,} requests (about {_gb(need)} of records), over "
            f"{LIMIT_FLAG} {limit:,}",
        )


def check_progress(num_done: int, *, limit: int) -> None:
    """The same limit while a run goes, for runs whose size is known only as they go (a closed loop over a
    time window)."""
    if num_done > limit:
        raise InputError(
            "requests",
            num_done,
            f"lower --duration or --concurrency, or give --num-requests N, or raise {LIMIT_FLAG}",
            problem=f"the run passed {LIMIT_FLAG} {limit:,} requests before its --duration ended",
        )
