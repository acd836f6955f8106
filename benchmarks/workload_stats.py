"""Check `slotune workload analyze` against the published statistics of the full public data files.

    .venv/bin/python benchmarks/workload_stats.py [--data-dir DIR]

Reads DIR/README.md (default /work/shared/data, or $SLOTUNE_DATA_DIR), runs `read_workload` + `analyze`
on every workload file in DIR, prints each statistic beside the README's value and the difference, and
exits 1 if any statistic differs from it by more than 0.6 units of the README's last digit (half a unit
is rounding; the extra tenth admits one README value that is rounded the wrong way, which is printed). Also times each analysis, checks that the
synthesis presets' length tables match the traces they come from, and times a large synthesis.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from slotune.models.workload_stats import WorkloadStats
from slotune.workload import analyze, read_workload, write_workload
from slotune.workload.build_preset_tables import build_tables
from slotune.workload.lengths import load_tables
from slotune.workload.synth import synthesize

# README statistics-table columns -> files.
COLUMNS = {
    "Azure code": "AzureLLMInferenceTrace_code.csv",
    "Azure conv": "AzureLLMInferenceTrace_conv.csv",
    "Mooncake synthetic": "synthetic_trace.jsonl",
}
# Files without published statistics: analyzed and timed only.
OTHER_FILES = ("ShareGPT_V3_filtered_500.json", "sharegpt_8k_filtered_stats_llama2_tokenizer.csv")
TOKENIZER = Path("tokenizers/qwen3/tokenizer.json")


@dataclass(frozen=True)
class Expected:
    file: str
    statistic: str
    text: str  # as the README writes it: "2,048", "2.57", "65"

    @property
    def value(self) -> float:
        return float(self.text.replace(",", ""))

    @property
    def decimals(self) -> int:
        return len(self.text.split(".")[1]) if "." in self.text else 0


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_readme(text: str) -> list[Expected]:
    expected: list[Expected] = []
    lines = text.splitlines()
    # The statistics table: a header row naming the COLUMNS, then "mean rate", "input tokens ...", ...
    header_at = next(i for i, line in enumerate(lines) if all(c in line for c in COLUMNS))
    columns = _cells(lines[header_at])[1:]
    for line in lines[header_at + 2 :]:
        if not line.startswith("|"):
            break
        label, *values = _cells(line)
        for column, value in zip(columns, values, strict=True):
            file = COLUMNS[column]
            if label == "mean rate":
                expected.append(Expected(file, "mean_rate_rps", value.split()[0]))
            else:
                kind = "prompt_tokens" if label.startswith("input") else "output_tokens"
                for stat, number in zip(("mean", "p50", "p99"), value.split(" / "), strict=True):
                    expected.append(Expected(file, f"{kind}.{stat}", number))
    # The files table: rows, and the facts written in its last column.
    facts = {
        r"inter-arrival CV ([\d.]+)|\bCV ([\d.]+)": "interarrival_cv",
        r"(\d+) req in one second": "peak_1s_requests",
        r"(\d+)% of input tokens reusable": "prefix_reuse.unbounded_token_percent",
    }
    for line in lines:
        cells = _cells(line) if line.startswith("| `") else []
        if len(cells) < 5 or cells[0].strip("`") not in COLUMNS.values():
            continue
        file = cells[0].strip("`")
        expected.append(Expected(file, "num_requests", cells[3]))
        for pattern, statistic in facts.items():
            match = re.search(pattern, line)
            if match:
                expected.append(Expected(file, statistic, next(g for g in match.groups() if g)))
    return expected


def measured(stats: WorkloadStats, statistic: str) -> float:
    if statistic == "prefix_reuse.unbounded_token_percent":
        fraction = stats.prefix_reuse.unbounded_token_fraction
        return float("nan") if fraction is None else 100 * fraction
    obj: object = stats
    for part in statistic.split("."):
        obj = getattr(obj, part)
    return float("nan") if obj is None else float(obj)  # type: ignore[arg-type]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("SLOTUNE_DATA_DIR", "/work/shared/data"))
    )
    args = parser.parse_args()
    data: Path = args.data_dir
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"data: {data}\n")

    expected = parse_readme((data / "README.md").read_text(encoding="utf-8"))
    stats: dict[str, WorkloadStats] = {}
    print(f"{'file':<50} {'read + analyze':>15}")
    for file in [*COLUMNS.values(), *OTHER_FILES]:
        tokenizer = str(data / TOKENIZER) if file.endswith(".json") else None
        start = time.perf_counter()
        stats[file] = analyze(read_workload(data / file, tokenizer_path=tokenizer))
        print(f"{file:<50} {time.perf_counter() - start:>13.2f} s")

    failures = 0
    print(f"\n{'file':<34} {'statistic':<38} {'README':>10} {'measured':>14} {'diff':>10}")
    for e in expected:
        value = measured(stats[e.file], e.statistic)
        unit = 10.0**-e.decimals
        ok = abs(value - e.value) <= 0.6 * unit
        failures += not ok
        note = (
            ""
            if round(value, e.decimals) == e.value
            else f" (exact rounding gives {round(value, e.decimals):,g})"
        )
        print(
            f"{e.file:<34} {e.statistic:<38} {e.text:>10} {value:>14.4f} {value - e.value:>+10.4f}"
            f"  {'ok' if ok else 'MISMATCH'}{note}"
        )

    print("\nfiles without published statistics:")
    for file in OTHER_FILES:
        s = stats[file]
        reuse = s.prefix_reuse.unbounded_token_fraction
        print(
            f"  {file}: {s.num_requests:,} requests; prompt mean {s.prompt_tokens.mean:,.1f} "
            f"p50 {s.prompt_tokens.p50:,.0f} p99 {s.prompt_tokens.p99:,.0f}; output mean "
            f"{s.output_tokens.mean:,.1f} ({s.num_output_estimated:,} estimated); prefix reuse "
            f"{'-' if reuse is None else f'{reuse:.1%}'} ({s.prefix_reuse.basis})"
        )

    fresh = build_tables(data)
    stored = load_tables()
    stale = [name for name in fresh if fresh[name] != stored.get(name)]
    failures += bool(stale)
    print(f"\npreset length tables match the traces: {'yes' if not stale else f'NO, stale: {stale}'}")

    start = time.perf_counter()
    workload = synthesize(preset="chatbot", num_requests=100_000, seed=0)
    synth_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_workload(workload, Path(tmp) / "w.jsonl")
        write_s = time.perf_counter() - start
    print(f"synthesize chatbot, 100,000 requests: {synth_s:.2f} s; write canonical JSONL: {write_s:.2f} s")

    print(f"\n{len(expected) - failures}/{len(expected)} published statistics reproduced")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
