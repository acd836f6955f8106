"""CLI start-up time: `slotune --help` and `slotune plan --help` beside `python -c pass` (the interpreter alone)
and `import typer` (the CLI framework's floor), median of N runs each, interleaved so machine load hits all alike.

    PYTHONPATH=$PWD/src .venv/bin/python benchmarks/cli_startup.py [--runs 15]

`slotune` is the installed entry script, what a user runs; it imports slotune from PYTHONPATH when set (a
work tree) and from the installation otherwise: the first line printed says which. The last line is the
machine's load average, which the timings depend on. Goal (issue 8): both help commands <= 0.3 s on the 2-core
development VM (docs/contributing.md has the numbers).

Bytecode caches are warm, as a user's installation has them (pip compiles an installed package; a work tree
writes its .pyc on the first run): the runs get PYTHONDONTWRITEBYTECODE unset (the development VM sets it,
which made every run compile slotune's own modules, ~15 ms) and one untimed run of each command comes first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import typer'": [sys.executable, "-c", "import typer"],
    "slotune --help": [str(BIN / "slotune"), "--help"],
    "slotune plan --help": [str(BIN / "slotune"), "plan", "--help"],
    "slotune simulate --help": [str(BIN / "slotune"), "simulate", "--help"],
}
GOAL_S = 0.3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    where = subprocess.run(
        [sys.executable, "-c", "import slotune; print(slotune.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"slotune from {Path(where).parent}")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for command in CASES.values():  # untimed: writes the .pyc files a user's installation has
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.runs):
        for name, command in CASES.items():
            start = time.perf_counter()
            subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["python -c pass"])
    print(f"{'command':28} {'median s':>9} {'min s':>7} {'x python':>9}  goal")
    for name, values in times.items():
        median = statistics.median(values)
        goal = ""
        if name.startswith("slotune") and "simulate" not in name:
            goal = "ok" if median <= GOAL_S else f"MISSED (> {GOAL_S} s)"
        print(f"{name:28} {median:9.3f} {min(values):7.3f} {median / base:9.1f}  {goal}")
    print("load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
