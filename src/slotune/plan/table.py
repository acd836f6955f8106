"""The plan table as CSV, for a spreadsheet: one row per option (one for a single plan), raw numbers in SI units
named in the header, the same figures `plan` prints."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence

from slotune.models import CapacityPlan
from slotune.plan.planner import throughput_per_gpu

CellOf = Callable[[CapacityPlan], object]

COLUMNS: tuple[tuple[str, CellOf], ...] = (
    ("model", lambda p: p.model),
    ("gpu", lambda p: p.gpu),
    ("tensor_parallel_size", lambda p: p.tensor_parallel_size),
    ("quantization", lambda p: p.quantization),
    ("fits", lambda p: p.fits),
    ("weights_bytes_per_gpu", lambda p: p.memory.weights_bytes),
    ("kv_cache_tokens", lambda p: p.kv.capacity_tokens),
    ("max_concurrency", lambda p: p.kv.max_concurrency),
    ("ttft_p50_s", lambda p: p.latency.ttft_p50_s),
    ("ttft_p99_s", lambda p: p.latency.ttft_p99_s),
    ("itl_batch1_s", lambda p: p.latency.itl_by_batch_s.get(1)),
    ("output_tokens_per_s", lambda p: p.throughput.output_tokens_per_s),
    ("output_tokens_per_s_per_gpu", throughput_per_gpu),
    ("usd_per_mtok", lambda p: p.cost.usd_per_mtok),
    ("usd_per_gpu_hour", lambda p: p.cost.price.usd_per_gpu_hour if p.cost.price else None),
    ("price_source", lambda p: p.cost.price.source if p.cost.price else None),
    ("meets_slo", lambda p: p.verdict.meets_slo),
    ("min_tp", lambda p: p.verdict.min_tp),
)


def plans_csv(plans: Sequence[CapacityPlan]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([name for name, _ in COLUMNS])
    for plan in plans:
        writer.writerow(["" if (v := cell(plan)) is None else v for _, cell in COLUMNS])
    return out.getvalue()
