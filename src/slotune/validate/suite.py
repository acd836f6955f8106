"""A fidelity suite: real workloads scaled to what an engine serves, loads from light to saturated, several
engine configurations; and the tables that sum up the simulator's error over them (benchmarks/fidelity.py).

- Workloads: a trace's lengths scaled by a factor and capped at the engine's max_model_len (a prompt that
  is cut keeps the prefix blocks that still fit); prefix block sizes scale with the prompt.
- Loads: open loops at fractions of the workload's knee, the highest rate at which the simulator (with the
  calibrated profile) keeps the median E2E within twice its light-load value.
- Errors: per run, simulated / measured - 1; per metric, the mean absolute error over runs (MAE).
- Contrasts: for each configuration against the defaults, on the same workload and load, the measured
  ratio and the simulated ratio of a metric; the direction is right when both move the same way (or both
  stay within 2 %), and the size within 15 % when the ratios agree to 15 %.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from slotune.models import LoadSpec, RunResult, Workload
from slotune.models.load import ArrivalKind
from slotune.models.validation import ValidationReport

# The metrics the suite's goals name: mean latencies and output throughput.
GOALS = {"e2e": 0.05, "ttft": 0.10, "itl": 0.05, "tpot": 0.05, "output_throughput": 0.05}
CONTRAST_METRICS = (("e2e", "mean"), ("ttft", "mean"), ("tpot", "mean"), ("output_throughput", ""))
NO_CHANGE = 0.02
CONTRAST_TOLERANCE = 0.15


def scaled_workload(
    workload: Workload, *, prompt_scale: float, output_scale: float, max_total_tokens: int, name: str
) -> Workload:
    """Lengths x scale (at least 1 token), prompt + output capped at `max_total_tokens` (the output first
    keeps its length, the prompt is cut); prefix blocks scale with the prompt."""
    block = max(1, round(workload.hash_block_size * prompt_scale))
    requests = []
    for r in workload.requests:
        output = max(1, min(round(r.output_tokens * output_scale), max_total_tokens // 2))
        prompt = max(1, min(round(r.prompt_tokens * prompt_scale), max_total_tokens - output))
        blocks = r.prefix_block_ids[: prompt // block] if r.prefix_block_ids else ()
        requests.append(
            r.model_copy(
                update={"prompt_tokens": prompt, "output_tokens": output, "prefix_block_ids": blocks}
            )
        )
    return workload.model_copy(
        update={"requests": tuple(requests), "hash_block_size": block, "name": name, "digest": ""}
    )


def open_loop(rate_rps: float, duration_s: float, arrival: ArrivalKind = "poisson") -> LoadSpec:
    """An open loop at `rate_rps` for about `duration_s` of sends: rate x duration requests (at least 8), so
    that a light load is measured on as many requests as its time allows and a trace's first long gap does
    not leave the window empty. `arrival="trace"` keeps the workload's own burstiness."""
    return LoadSpec(
        kind="rate",
        rate_rps=rate_rps,
        arrival=arrival,
        num_requests=max(8, round(rate_rps * duration_s)),
    )


def knee_rate(
    simulate: Callable[[LoadSpec], RunResult],
    duration_s: float,
    *,
    low_rps: float = 0.05,
    high_rps: float = 500.0,
    arrival: ArrivalKind = "poisson",
) -> float:
    """The highest open-loop rate whose simulated median E2E stays within twice the light-load one
    (bisection on log rate, 10 steps), with the arrivals the runs will use."""
    base = simulate(open_loop(low_rps, duration_s, arrival)).summary.e2e_s.p50 or 0.0
    lo, hi = math.log(low_rps), math.log(high_rps)
    for _ in range(10):
        mid = (lo + hi) / 2
        p50 = simulate(open_loop(math.exp(mid), duration_s, arrival)).summary.e2e_s.p50
        if p50 is not None and p50 <= 2 * base:
            lo = mid
        else:
            hi = mid
    return math.exp(lo)


LOAD_LEVELS = {"light": 0.3, "knee": 0.9, "saturated": 1.6}


@dataclass(frozen=True)
class SuiteRun:
    """One validation of the suite: which configuration, workload and load level it was."""

    config: str
    workload: str
    level: str
    report: ValidationReport


def mae(runs: Sequence[SuiteRun], metric: str, stat: str = "mean") -> float | None:
    errors = [abs(e) for r in runs if (e := r.report.error(metric, stat)) is not None]
    return float(np.mean(errors)) if errors else None


def _value(report: ValidationReport, metric: str, stat: str, side: str) -> float | None:
    for e in report.errors:
        if e.metric == metric and e.stat == stat:
            return e.measured if side == "measured" else e.simulated
    return None


@dataclass(frozen=True)
class Contrast:
    config: str
    workload: str
    level: str
    metric: str
    measured_ratio: float
    simulated_ratio: float

    @property
    def direction_ok(self) -> bool:
        m, s = self.measured_ratio - 1, self.simulated_ratio - 1
        if abs(m) <= NO_CHANGE and abs(s) <= NO_CHANGE:
            return True
        return m * s > 0

    @property
    def size_ok(self) -> bool:
        return abs(self.simulated_ratio / self.measured_ratio - 1) <= CONTRAST_TOLERANCE


def contrasts(runs: Sequence[SuiteRun], baseline: str = "default") -> list[Contrast]:
    """Every configuration against the baseline on the same workload and load level."""
    base = {(r.workload, r.level): r.report for r in runs if r.config == baseline}
    out = []
    for r in runs:
        if r.config == baseline or (r.workload, r.level) not in base:
            continue
        ref = base[(r.workload, r.level)]
        for metric, stat in CONTRAST_METRICS:
            values = [
                _value(rep, metric, stat, side)
                for rep in (r.report, ref)
                for side in ("measured", "simulated")
            ]
            m_cfg, s_cfg, m_base, s_base = values
            if m_cfg is None or s_cfg is None or not m_base or not s_base:
                continue
            name = f"{metric}.{stat}" if stat else metric
            out.append(Contrast(r.config, r.workload, r.level, name, m_cfg / m_base, s_cfg / s_base))
    return out


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"


def run_table(runs: Sequence[SuiteRun]) -> str:
    """Markdown: one row per run, the relative error of each mean latency and the throughput."""
    head = "| config | workload | load | req | TTFT | ITL | TPOT | E2E | E2E p90 | E2E p99 | tok/s | preempt (m/s) | host load |"
    lines = [head, "|" + "---|" * 13]
    for r in runs:
        rep = r.report
        pre = [e for e in rep.errors if e.metric == "preemptions"]
        pm = (
            f"{pre[0].measured:.0f}/{pre[0].simulated:.0f}"
            if pre and pre[0].measured is not None and pre[0].simulated is not None
            else "-"
        )
        load = rep.measured.load.describe() if rep.measured.load is not None else ""
        host = f"{rep.host_load[0]:.1f}" if rep.host_load else "-"
        lines.append(
            f"| {r.config} | {r.workload} | {r.level} ({load}) | {rep.measured.summary.num_requests} | "
            f"{_pct(rep.error('ttft', 'mean'))} | {_pct(rep.error('itl', 'mean'))} | {_pct(rep.error('tpot', 'mean'))} | "
            f"{_pct(rep.error('e2e', 'mean'))} | {_pct(rep.error('e2e', 'p90'))} | {_pct(rep.error('e2e', 'p99'))} | "
            f"{_pct(rep.error('output_throughput'))} | {pm} | {host} |"
        )
    return "\n".join(lines)


def mae_table(runs: Sequence[SuiteRun]) -> str:
    """Markdown: MAE per metric and statistic against the goal, per configuration and overall."""
    configs = sorted({r.config for r in runs}, key=lambda c: (c != "default", c))
    head = "| metric | goal | " + " | ".join(configs) + " | all |"
    lines = [head, "|" + "---|" * (len(configs) + 3)]
    for metric, goal in GOALS.items():
        for stat in ("mean", "p50", "p90", "p99") if metric != "output_throughput" else ("",):
            cells = [mae([r for r in runs if r.config == c], metric, stat) for c in configs]
            total = mae(runs, metric, stat)
            shown = " | ".join("-" if v is None else f"{v:.1%}" for v in cells)
            mark = (
                ""
                if total is None or stat not in ("mean", "")
                else (" (met)" if total <= goal else " (missed)")
            )
            label = f"{metric} {stat}".strip()
            lines.append(
                f"| {label} | {goal:.0%} | {shown} | {'-' if total is None else f'{total:.1%}'}{mark} |"
            )
    return "\n".join(lines)


def contrast_table(items: Sequence[Contrast]) -> str:
    lines = [
        "| config | workload | load | metric | measured ratio | simulated ratio | direction | size within 15% |",
        "|" + "---|" * 8,
    ]
    for c in items:
        lines.append(
            f"| {c.config} | {c.workload} | {c.level} | {c.metric} | {c.measured_ratio:.3f} | {c.simulated_ratio:.3f} | "
            f"{'right' if c.direction_ok else 'WRONG'} | {'yes' if c.size_ok else 'no'} |"
        )
    if items:
        right = sum(c.direction_ok for c in items)
        size = sum(c.size_ok for c in items)
        lines.append(
            f"\n{right} of {len(items)} contrasts in the right direction; {size} of {len(items)} within 15 % in size."
        )
    return "\n".join(lines)


def kv_table(runs: Sequence[SuiteRun]) -> str:
    """KV capacity per configuration: vLLM's, the planner's, the simulator's (one row per configuration)."""
    lines = ["| config | vLLM (tokens) | planner | error | simulator | error | source |", "|" + "---|" * 7]
    seen = set()
    for r in runs:
        if r.config in seen:
            continue
        seen.add(r.config)
        kv = r.report.kv
        lines.append(
            f"| {r.config} | {kv.vllm_tokens or '-'} | {kv.planner_tokens or '-'} | {_pct(kv.error('planner'))} | "
            f"{kv.simulator_tokens or '-'} | {_pct(kv.error('simulator'))} | {kv.source} |"
        )
    return "\n".join(lines)
