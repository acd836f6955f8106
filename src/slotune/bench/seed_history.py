"""Which seeds a server has already been sent, so that a repeated run is told its prompts may be cached.

A run's prompts are a pure function of its seed (slotune.bench.prompts). Run twice against the same server, the
second run finds its prompts in the server's prefix cache and looks faster than the workload is. Each run
appends (server, model, seed, the server's prompt-token counter after the run) to a small file in the cache
folder; a later run with the same seed against the same server is warned. The counter tells a restart apart:
it only grows while the server lives, so a lower value now means a new process with an empty cache.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from slotune.files import cache_dir, write_atomically

log = logging.getLogger(__name__)

HISTORY_FILE = "bench_seeds.jsonl"
KEEP_LINES = 1000  # the file stays small: older lines are dropped when it grows past this


@dataclass(frozen=True, slots=True)
class SeedUse:
    url: str
    model: str
    seed: int
    time_utc: str
    server_prompt_tokens: (
        float | None
    )  # the server's vllm:prompt_tokens counter after the run (None: no /metrics)


def history_path() -> Path:
    return cache_dir() / HISTORY_FILE


def _read(path: Path) -> list[SeedUse]:
    uses: list[SeedUse] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return uses
    for line in lines:
        try:
            uses.append(SeedUse(**json.loads(line)))
        except (ValueError, TypeError):
            continue  # a line from another version, or cut short: history is a courtesy, not a record
    return uses


def earlier_use(url: str, model: str, seed: int, server_prompt_tokens: float | None) -> SeedUse | None:
    """The latest run with this seed against this server and model that the server may still remember."""
    found = None
    for use in _read(history_path()):
        if (use.url, use.model, use.seed) != (url.rstrip("/"), model, seed):
            continue
        restarted = (
            use.server_prompt_tokens is not None
            and server_prompt_tokens is not None
            and server_prompt_tokens < use.server_prompt_tokens
        )
        if not restarted:
            found = use
    return found


def remember(url: str, model: str, seed: int, server_prompt_tokens: float | None) -> None:
    """Add this run to the history (a failure to write only loses the warning next time)."""
    path = history_path()
    use = SeedUse(
        url.rstrip("/"), model, seed, datetime.now(UTC).isoformat(timespec="seconds"), server_prompt_tokens
    )
    lines = [json.dumps(asdict(u)) for u in _read(path)[-(KEEP_LINES - 1) :]] + [json.dumps(asdict(use))]
    try:
        write_atomically(path, "\n".join(lines) + "\n")
    except OSError as exc:
        log.debug("could not write the seed history %s: %s", path, exc)


def unused_seed(url: str, model: str) -> int:
    """A seed this server and model have not been sent (one above the highest in the history)."""
    seeds = [u.seed for u in _read(history_path()) if (u.url, u.model) == (url.rstrip("/"), model)]
    return max(seeds, default=-1) + 1


def warning(use: SeedUse, *, fresh_seed: int) -> str:
    known = use.server_prompt_tokens is not None
    since = "" if known else " (unless it restarted since)"
    return (
        f"this server already ran --seed {use.seed} at {use.time_utc}{since}: its prefix cache may still hold "
        f"these prompts, which makes TTFT look better than the workload gets; give a new seed (e.g. --seed "
        f"{fresh_seed}) or restart the server"
    )
