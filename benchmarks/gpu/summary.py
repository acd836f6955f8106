"""The short table a GPU call prints last: per configuration, its probes and every measured run so far.

python benchmarks/gpu/summary.py /tmp/fid default eager
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path


def main() -> None:
    root = Path(sys.argv[1])
    print(
        f"{'config':<20}{'workload':<12}{'load':<11}{'rate':>8}{'req':>6}{'ok':>6}{'E2E ms':>9}{'TTFT ms':>9}{'tok/s':>9}"
    )
    for config in sys.argv[2:]:
        folder = root / config
        probes = sorted(p.name for p in folder.glob("probes-*.json"))
        wall = (
            (folder / f"wall-{config}.txt").read_text().strip()
            if (folder / f"wall-{config}.txt").exists()
            else "-"
        )
        print(f"{config}: probes {probes or 'none'}; wall {wall} s")
        runs = folder / f"runs-{config}.jsonl.gz"
        if not runs.exists():
            print(f"  no runs (see {folder / 'measure.log'})")
            continue
        try:
            with gzip.open(runs, "rt") as f:
                lines = [json.loads(line) for line in f if line.strip()]
        except (OSError, EOFError, json.JSONDecodeError) as exc:  # a run cut mid-write
            print(f"  runs file ends early: {exc}")
            continue
        for e in lines:
            s = e["result"]["summary"]
            rate = e["result"]["load"]["rate_rps"]
            print(
                f"{'':<20}{e['workload']:<12}{e['level']:<11}{rate:>8.2f}{s['num_requests']:>6}{s['num_ok']:>6}"
                f"{(s['e2e_s']['mean'] or 0) * 1e3:>9.0f}{(s['ttft_s']['mean'] or 0) * 1e3:>9.1f}{s['output_tokens_per_s']:>9.0f}"
            )


if __name__ == "__main__":
    main()
