"""Operations: optimizing the wrong metric and flying blind (seed, section 4, layer 3), as seen in benchmark
results (no SLO filter, no warm-up, lengths unlike production) and in a live server's `/metrics` (preemptions,
a full KV cache with a queue, a prefix hit rate far below what the traffic shares).

`check_metrics(scrape, ...)` style functions take only the evidence they read, so a live watcher can run them
on each scrape (`slotune.audit.rules_for("metrics")`)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from slotune.audit.evidence import Evidence
from slotune.audit.metrics import MetricsScrape
from slotune.audit.registry import Hit, Rule
from slotune.audit.rules._common import flag_fix
from slotune.models import RequestRecord
from slotune.models.audit import EvidenceKind, Fix
from slotune.slo import format_slo
from slotune.vllm_metrics import names as vllm_names
from slotune.workload.analyze import prefix_reuse_of

PREEMPTION_SHARE = 0.01  # preemptions per finished request
KV_FULL = 0.9
LOW_HIT_RATIO = 0.5  # measured hit rate below half the expected one
MIN_EXPECTED_HIT_RATE = 0.2
LENGTH_RATIO = 2.0  # benchmark mean lengths more than 2x off production's
MIN_WARMUP_S = 10.0


def _slo_text(ev: Evidence) -> str:
    if ev.slo is not None:
        return format_slo(ev.slo)
    return "interactive-chat"


def check_bench_slo(ev: Evidence) -> list[Hit]:
    hits = []
    for b in ev.bench:
        if b.report.result.slo is not None:
            continue
        hits.append(
            Hit(
                severity="low",
                confidence="high",
                message=(
                    f"{b.source} was measured without an SLO: its throughput counts every request, however late, so "
                    "it reports a capacity no user would accept (goodput, the requests that met the SLO, is missing)"
                ),
                evidence=("bench",),
                observed={"result": b.source},
                fixes=(
                    Fix(
                        kind="bench",
                        target="--slo",
                        value=_slo_text(ev),
                        text=f"re-run slotune bench with --slo '{_slo_text(ev)}'",
                    ),
                ),
            )
        )
    return hits


def check_bench_warmup(ev: Evidence) -> list[Hit]:
    hits = []
    for b in ev.bench:
        spec = b.report.load.spec
        if b.report.num_warmup > 0 or spec.warmup_s > 0:
            continue
        duration = b.report.window.duration_s
        value = max(MIN_WARMUP_S, round(0.1 * duration))
        hits.append(
            Hit(
                severity="low",
                confidence="high",
                message=(
                    f"{b.source} measured from the first request: its numbers include a cold server (empty prefix "
                    "cache, first-time kernel compilation, a batch still filling up)"
                ),
                evidence=("bench",),
                observed={"warm-up requests": 0, "window s": duration},
                fixes=(
                    Fix(
                        kind="bench",
                        target="--warmup-s",
                        value=f"{value:g}",
                        current="0",
                        text=f"re-run slotune bench with --warmup-s {value:g}",
                    ),
                ),
            )
        )
    return hits


def _bench_means(
    records: tuple[RequestRecord, ...], num: int, prompt: int, output: int
) -> tuple[float, float] | None:
    if records:
        ok = [r for r in records if r.ok]
        if ok:
            return float(np.mean([r.prompt_tokens for r in ok])), float(
                np.mean([r.output_tokens for r in ok])
            )
    return (prompt / num, output / num) if num else None


def check_bench_lengths(ev: Evidence) -> list[Hit]:
    assert ev.requests is not None
    columns = ev.requests.columns
    prod_prompt = float(columns.prompt_tokens.mean())
    measured = columns.measured_output
    prod_output = float(measured.mean()) if measured.size else None
    hits = []
    for b in ev.bench:
        s = b.report.result.summary
        means = _bench_means(b.report.result.records, s.num_requests, s.prompt_tokens, s.output_tokens)
        if means is None:
            continue
        off = [
            f"{name} {bench:,.0f} vs {prod:,.0f} tokens"
            for name, bench, prod in (("prompt", means[0], prod_prompt), ("output", means[1], prod_output))
            if prod and bench and not (1 / LENGTH_RATIO <= bench / prod <= LENGTH_RATIO)
        ]
        if not off:
            continue
        hits.append(
            Hit(
                severity="medium",
                confidence="high",
                message=(
                    f"{b.source} used lengths unlike the logged production traffic (mean {'; '.join(off)}): prefill "
                    "and decode costs, KV usage and batch sizes all scale with them, so its numbers do not transfer"
                ),
                evidence=("bench", "requests"),
                observed={
                    "bench prompt mean": means[0],
                    "production prompt mean": prod_prompt,
                    "bench output mean": means[1],
                    "production output mean": prod_output,
                },
                fixes=(
                    Fix(
                        kind="bench",
                        target="--workload",
                        value=ev.requests.path,
                        text=f"re-run slotune bench with --workload {ev.requests.path} (the logged requests, replayed)",
                    ),
                ),
            )
        )
    return hits


def fitting_max_num_seqs(ev: Evidence) -> int | None:
    """Requests of the served mean prompt + output length that the KV cache holds at once, from the scrape's
    cache size and token counters (or a benchmark's)."""
    if ev.metrics is not None:
        m = ev.metrics
        capacity, finished = m.kv_capacity_tokens, m.requests_finished
        if capacity and finished and m.prompt_tokens is not None and m.generation_tokens is not None:
            per_request = (m.prompt_tokens + m.generation_tokens) / finished
            return max(1, int(capacity // per_request)) if per_request > 0 else None
    for b in ev.bench:
        engine, s = b.report.result.engine, b.report.result.summary
        if engine is not None and engine.kv_capacity_tokens and s.num_requests:
            per_request = (s.prompt_tokens + s.output_tokens) / s.num_requests
            return max(1, int(engine.kv_capacity_tokens // per_request)) if per_request > 0 else None
    return None


def _kv_fix(ev: Evidence) -> tuple[Fix, ...]:
    utilization = ev.engine_config.gpu_memory_utilization
    fixes = []
    if utilization < 0.95:
        fixes.append(
            flag_fix(
                "--gpu-memory-utilization",
                "0.95",
                f"{utilization:g}",
                "raise --gpu-memory-utilization to 0.95 for more KV cache",
            )
        )
    seqs = fitting_max_num_seqs(ev)
    if seqs is not None:
        fixes.append(
            flag_fix(
                "--max-num-seqs",
                str(seqs),
                None,
                f"or set --max-num-seqs {seqs}: the requests of the served mean length the KV cache holds at once",
            )
        )
    fixes.append(
        Fix(
            kind="action",
            target="replicas",
            text="or add replicas (or tensor-parallel GPUs) for more KV capacity",
        )
    )
    return tuple(fixes)


def metrics_preemption_hits(scrape: MetricsScrape) -> list[Hit]:
    preempted, finished = scrape.num_preemptions, scrape.requests_finished
    if not preempted or not finished or preempted / finished < PREEMPTION_SHARE:
        return []
    return [
        Hit(
            severity="medium",
            confidence="high",
            message=(
                f"the server preempted {preempted:,.0f} times for {finished:,.0f} finished requests "
                f"({preempted / finished:.1%}): its KV cache ran out and vLLM recomputed evicted requests from scratch"
            ),
            evidence=("metrics",),
            observed={vllm_names.NUM_PREEMPTIONS: preempted, vllm_names.REQUEST_SUCCESS: finished},
            fixes=(),
        )
    ]


def check_preemptions(ev: Evidence) -> list[Hit]:
    hits = metrics_preemption_hits(ev.metrics) if ev.metrics is not None else []
    for b in ev.bench:
        n = b.report.result.summary.num_preemptions
        window = b.report.result.server.window if b.report.result.server is not None else None
        counted = window.num_preemptions if window is not None and window.num_preemptions is not None else n
        finished = b.report.result.summary.num_requests
        if counted and finished and counted / finished >= PREEMPTION_SHARE:
            hits.append(
                Hit(
                    severity="medium",
                    confidence="high",
                    message=f"{b.source}: {counted:,.0f} preemptions for {finished:,} requests: the KV cache ran out under this load",
                    evidence=("bench",),
                    observed={"preemptions": counted, "requests": finished},
                    fixes=(),
                )
            )
    return [replace(h, fixes=_kv_fix(ev)) for h in hits]


def metrics_kv_hits(scrape: MetricsScrape) -> list[Hit]:
    usage, waiting = scrape.kv_usage, scrape.num_waiting
    if usage is None or waiting is None or usage <= KV_FULL or waiting <= 0:
        return []
    return [
        Hit(
            severity="medium",
            confidence="medium",
            message=(
                f"at the scrape the KV cache was {usage:.0%} full with {waiting:,.0f} request(s) waiting: new requests "
                "queue for memory, not for compute, and TTFT grows with the queue"
            ),
            evidence=("metrics",),
            observed={vllm_names.KV_CACHE_USAGE: usage, vllm_names.NUM_REQUESTS_WAITING: waiting},
            fixes=(),
        )
    ]


def check_kv_saturation(ev: Evidence) -> list[Hit]:
    hits = metrics_kv_hits(ev.metrics) if ev.metrics is not None else []
    for b in ev.bench:
        server = b.report.result.server
        gauges = server.gauges if server is not None else {}
        kv, waiting = gauges.get("kv_cache_usage"), gauges.get("num_requests_waiting")
        if kv is not None and waiting is not None and kv.max > KV_FULL and waiting.max > 0:
            hits.append(
                Hit(
                    severity="medium",
                    confidence="high",
                    message=f"{b.source}: the KV cache reached {kv.max:.0%} with up to {waiting.max:,.0f} request(s) waiting (mean {waiting.mean:,.1f})",
                    evidence=("bench",),
                    observed={
                        "kv usage max": kv.max,
                        "waiting max": waiting.max,
                        "waiting mean": waiting.mean,
                    },
                    fixes=(),
                )
            )
    return [replace(h, fixes=_kv_fix(ev)) for h in hits]


def _measured_hit_rate(ev: Evidence) -> tuple[float, EvidenceKind, int | None] | None:
    """(hit rate, evidence, KV capacity in tokens) where prefix caching ran and was queried."""
    if (
        ev.metrics is not None
        and ev.metrics.prefix_caching_enabled is not False
        and ev.metrics.prefix_queries
    ):
        rate = ev.metrics.prefix_hit_rate
        if rate is not None:
            return rate, "metrics", ev.metrics.kv_capacity_tokens
    for b in ev.bench:
        engine = b.report.result.engine
        if engine is not None and engine.prefix_query_tokens and engine.prefix_hit_rate is not None:
            return engine.prefix_hit_rate, "bench", engine.kv_capacity_tokens
    return None


def check_low_hit_rate(ev: Evidence) -> list[Hit]:
    assert ev.requests is not None
    measured = _measured_hit_rate(ev)
    if measured is None:
        return []
    rate, kind, capacity = measured
    sample = ev.requests.sample
    block = sample.hash_block_size
    reuse = prefix_reuse_of(sample, block_size=block, cache_blocks=capacity // block if capacity else None)
    expected = (
        reuse.lru_token_fraction if reuse.lru_token_fraction is not None else reuse.unbounded_token_fraction
    )
    if expected is None or expected < MIN_EXPECTED_HIT_RATE or rate >= LOW_HIT_RATIO * expected:
        return []
    fixes: list[Fix] = []
    structure = ev.requests.prompts
    if structure is not None and structure.blocked_static_fraction > 0:
        fixes.append(
            Fix(
                kind="request",
                target="messages",
                text="put static prompt text before per-request text (see prompt-dynamic-prefix)",
            )
        )
    fixes.append(
        Fix(
            kind="action",
            target="routing",
            text="route requests that share a prefix to the same replica (prefix-aware routing); one replica's cache serves only its own traffic",
        )
    )
    fixes.append(
        flag_fix(
            "--gpu-memory-utilization",
            None,
            None,
            "and give the KV cache more memory so shared prefixes are not evicted",
        )
    )
    return [
        Hit(
            severity="medium",
            confidence="medium",
            message=(
                f"the server's prefix cache hit rate is {rate:.0%} while the logged requests share {expected:.0%} of their "
                "prompt tokens with earlier ones"
                + (
                    f" (replayed against its {capacity:,}-token KV cache)"
                    if capacity and reuse.lru_token_fraction is not None
                    else ""
                )
                + ": requests that could share a prefix miss it (evicted, spread over replicas, or not byte-identical)"
            ),
            evidence=(kind, "requests"),
            observed={
                "measured hit rate": rate,
                "expected hit rate": expected,
                "kv capacity tokens": capacity,
            },
            fixes=tuple(fixes),
        )
    ]


RULES = (
    Rule(
        "bench-no-slo",
        "benchmark without an SLO filter",
        "operations",
        "a saved benchmark measured without --slo (throughput without goodput)",
        (("bench",),),
        check_bench_slo,
    ),
    Rule(
        "bench-no-warmup",
        "benchmark without warm-up",
        "operations",
        "a saved benchmark whose measurement started with the first request",
        (("bench",),),
        check_bench_warmup,
    ),
    Rule(
        "bench-lengths-unlike-production",
        "benchmark lengths unlike production",
        "operations",
        "benchmark mean prompt or output length more than 2x off the request log's",
        (("bench",), ("requests",)),
        check_bench_lengths,
    ),
    Rule(
        "metrics-preemptions",
        "preemptions",
        "operations",
        "vllm:num_preemptions_total above 1% of finished requests",
        (("metrics", "bench"),),
        check_preemptions,
    ),
    Rule(
        "metrics-kv-saturated-queue",
        "KV cache full with requests waiting",
        "operations",
        "KV-cache usage above 0.9 while requests wait",
        (("metrics", "bench"),),
        check_kv_saturation,
    ),
    Rule(
        "metrics-low-prefix-hit-rate",
        "low prefix hit rate despite shared prefixes",
        "operations",
        "a measured prefix hit rate under half of what the logged requests share",
        (("metrics", "bench"), ("requests",)),
        check_low_hit_rate,
    ),
)
