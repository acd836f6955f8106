"""Engine steps as the clients saw them, per fidelity run: how long each step took and at which host speed.

    python benchmarks/gpu/eager_steps.py [results/fidelity-h200] [--config eager] [--slow-ms 17]

A step's end is when its tokens reach the clients: every request's token times (records' chunk_times_s) are
merged and the times within 1.5 ms of each other are one step; a step's duration is the gap to the previous one.
Steps that start a request (its first token) are left out, so what remains are decode-only steps. Under
--enforce-eager the H200's decode steps are the host's launches, 13-15 ms from 1 to 64 sequences; a step over
`--slow-ms` is one of the host's slow stretches (docs/calibration.md, "Eager steps"). Per run the table gives the
share of such steps, the median of each speed, the mean of all steps, vLLM's ITL and, where collect.py left its
reports, the simulator's ITL: the runs differ in the share, not in either speed.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np

SAME_STEP_S = 0.0015
IDLE_S = 0.2  # a longer gap is the engine waiting for work, not a step


def step_gaps_s(records: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(duration of each step, whether it delivered a request's first token), from the clients' token times."""
    events = sorted((t, i == 0) for r in records for i, t in enumerate(r.get("chunk_times_s") or []))
    ends: list[float] = []
    first: list[bool] = []
    last = -np.inf
    for t, is_first in events:
        if t - last < SAME_STEP_S:
            first[-1] = first[-1] or is_first
        else:
            ends.append(t)
            first.append(is_first)
        last = t
    gaps = np.diff(np.asarray(ends))
    return gaps, np.asarray(first[1:], dtype=bool)


def run_row(entry: dict[str, Any], slow_s: float, simulated_itl_s: float | None) -> str:
    result = entry["result"]
    gaps, first = step_gaps_s(result["records"])
    steps = gaps[(gaps < IDLE_S) & ~first]
    if not len(steps):
        return f"| {entry['workload']} | {entry['level']} | 0 | | | | | |"
    slow = steps[steps > slow_s]
    fast = steps[steps <= slow_s]

    def ms(values: np.ndarray) -> str:
        return f"{np.median(values) * 1e3:.1f}" if len(values) else "-"

    sim = "-" if simulated_itl_s is None else f"{simulated_itl_s * 1e3:.1f}"
    return (
        f"| {entry['workload']} | {entry['level']} | {len(steps)} | {len(slow) / len(steps):.2f} | {ms(fast)} | "
        f"{ms(slow)} | {steps.mean() * 1e3:.1f} | {result['summary']['itl_s']['mean'] * 1e3:.1f} | {sim} |"
    )


def simulated_itl_s(reports: Path, entry: dict[str, Any]) -> float | None:
    path = reports / f"{entry['config']}-{entry['workload']}-{entry['level']}.json"
    if not path.exists():
        return None
    return float(json.loads(path.read_text())["simulated"]["summary"]["itl_s"]["mean"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", default=Path("results/fidelity-h200"))
    parser.add_argument("--config", default="eager", help="the configuration's folder under FOLDER")
    parser.add_argument("--slow-ms", type=float, default=17.0, help="a decode step longer than this is slow")
    args = parser.parse_args()
    print(
        "| workload | load | decode steps | slow share | fast median ms | slow median ms | mean ms "
        "| vLLM ITL ms | simulated ITL ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for path in sorted((args.folder / args.config).glob("runs-*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    entry = json.loads(line)
                    sim = simulated_itl_s(args.folder / "reports", entry)
                    print(run_row(entry, args.slow_ms / 1e3, sim))


if __name__ == "__main__":
    main()
