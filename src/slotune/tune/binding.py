"""What binds a configuration at its capacity: the resource or limit that stops it from holding the SLO at a
higher rate, read from the engine's counters at capacity and the SLO term that failed first just above it.

In order: the KV cache (full, or preempting), max_num_seqs (every seat taken), queueing (requests wait to be
scheduled), then the step time itself: compute-bound when the decode batch is past the roofline's crossover
(or the failing term is the prefill's TTFT), memory-bandwidth-bound below it.
"""

from __future__ import annotations

from slotune.models.tune import AtCapacity, Binding

KV_FULL = 0.9  # KV usage at or above this share of the pool counts as full
QUEUE_MEAN = 1.0  # mean requests waiting at or above this counts as queueing


def find_binding(
    at: AtCapacity,
    failed_term: str | None,
    max_num_seqs: int | None,
    crossover_batch_size: int | None = None,
) -> Binding:
    term = f"; first SLO term to fail above it: {failed_term}" if failed_term else ""
    rate = f"at {at.rate_rps:.3g} req/s"
    if at.num_preemptions > 0 or (at.kv_usage_max is not None and at.kv_usage_max >= KV_FULL):
        usage = f"{at.kv_usage_max:.0%}" if at.kv_usage_max is not None else "?"
        return Binding(
            kind="kv-capacity",
            slo_term=failed_term,
            evidence=f"KV cache {usage} full {rate}, {at.num_preemptions} preemptions{term}",
        )
    running = at.num_running_max
    if max_num_seqs is not None and running is not None and running >= max_num_seqs:
        return Binding(
            kind="max-num-seqs",
            slo_term=failed_term,
            evidence=f"{running:.0f} requests running {rate} = max_num_seqs {max_num_seqs}{term}",
        )
    waiting = at.num_waiting_mean
    if waiting is not None and waiting >= QUEUE_MEAN:
        return Binding(
            kind="queueing",
            slo_term=failed_term,
            evidence=f"{waiting:.1f} requests waiting on average {rate}{term}",
        )
    if failed_term is None:
        return Binding(kind="slo", evidence=f"the SLO holds {rate}; no higher level was tried")
    batch = f"{running:.0f}" if running is not None else "?"
    if failed_term.startswith("ttft"):
        kind = "compute"
        why = f"prefill work delays first tokens (batch up to {batch})"
    elif crossover_batch_size is not None and running is not None and running >= crossover_batch_size:
        kind = "compute"
        why = f"decode batch up to {batch} is past the roofline crossover ({crossover_batch_size})"
    else:
        kind = "bandwidth"
        cross = f", below the roofline crossover ({crossover_batch_size})" if crossover_batch_size else ""
        why = f"decode steps read weights and KV for a batch up to {batch}{cross}"
    return Binding(kind=kind, slo_term=failed_term, evidence=f"{why} {rate}{term}")
