"""Tensor-parallel communication from a measurement: benchmarks/allreduce_probe.py's output, fitted to the
step-cost model's all-reduce term

    t(bytes) = allreduce_latency_s + 2 (n - 1) / n x bytes / (link_bytes_per_s x interconnect_efficiency)

by weighted linear least squares (numpy.linalg.lstsq on t and bytes, each row divided by its measured time,
so every size counts by its relative error). Rows inside CUDA graphs are used where the file has them: vLLM's
decode steps replay graphs, and eager all-reduces carry ~35 us of launch time that graphs do not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from slotune.errors import InputError

_ROW = re.compile(r"^tp=(?P<tp>\d+)\s+graph=(?P<graph>True|False)\s+(?P<kib>\d+)\s+KiB\s+(?P<us>[\d.]+)\s+us")


@dataclass(frozen=True, slots=True)
class AllreduceRow:
    tp: int
    graph: bool
    num_bytes: int
    seconds: float


@dataclass(frozen=True, slots=True)
class AllreduceFit:
    tensor_parallel_size: int
    graph: bool
    allreduce_latency_s: float
    interconnect_efficiency: float
    max_abs_relative_error: float
    num_rows: int
    source: str


def parse_rows(text: str) -> list[AllreduceRow]:
    rows = []
    for line in text.splitlines():
        m = _ROW.match(line.strip())
        if m:
            rows.append(
                AllreduceRow(int(m["tp"]), m["graph"] == "True", int(m["kib"]) * 1024, float(m["us"]) * 1e-6)
            )
    return rows


def fit_allreduce(rows: list[AllreduceRow], link_bytes_per_s: float, source: str = "") -> AllreduceFit:
    """The latency and link efficiency that best explain the rows (graph rows where there are any)."""
    if not rows:
        raise InputError("allreduce", source, "give the output of benchmarks/allreduce_probe.py")
    graph = any(r.graph for r in rows)
    used = [r for r in rows if r.graph == graph]
    n = used[0].tp
    ring = 2 * (n - 1) / n
    t = np.asarray([r.seconds for r in used])
    a = np.column_stack([np.ones(len(used)), ring * np.asarray([r.num_bytes for r in used], dtype=float)])
    (latency, inv_rate), *_ = np.linalg.lstsq(a / t[:, None], t / t, rcond=None)
    if inv_rate <= 0:
        raise InputError("allreduce", source, "the times do not grow with size: measure larger buffers")
    latency = max(0.0, float(latency))
    efficiency = min(1.0, 1.0 / (float(inv_rate) * link_bytes_per_s))
    fitted = latency + a[:, 1] / (efficiency * link_bytes_per_s)
    return AllreduceFit(
        tensor_parallel_size=n,
        graph=graph,
        allreduce_latency_s=latency,
        interconnect_efficiency=efficiency,
        max_abs_relative_error=float(np.max(np.abs(fitted / t - 1))),
        num_rows=len(used),
        source=source,
    )


def read_allreduce_rows(path: Path) -> list[AllreduceRow]:
    """The measured rows of an allreduce_probe.py output file (read before any probe runs: a wrong file costs
    a second, not a calibration)."""
    fix = "give the output file of benchmarks/allreduce_probe.py"
    if not path.is_file():
        raise InputError("allreduce", str(path), fix)
    try:
        rows = parse_rows(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError("allreduce", str(path), fix, problem=str(exc)) from exc
    if not rows:
        raise InputError("allreduce", str(path), fix, problem="no 'tp=N graph=... KiB ... us' rows")
    if any(r.tp < 2 for r in rows):
        raise InputError("allreduce", str(path), fix, problem="an all-reduce needs tp=2 or more")
    return rows


def fit_allreduce_file(path: Path, link_bytes_per_s: float) -> AllreduceFit:
    return fit_allreduce(read_allreduce_rows(path), link_bytes_per_s, str(path))
