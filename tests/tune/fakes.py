"""A prober with a known capacity per configuration, for testing the search without running anything."""

from __future__ import annotations

import random
from collections.abc import Callable

from slotune.models import SLO, Distribution, EngineConfig, EngineCounters, LoadSpec, RunSummary
from slotune.models.tune import Candidate
from slotune.tune.probe import Measured

NUM_REQUESTS = 200


def _flat(value: float) -> Distribution:
    return Distribution(
        count=NUM_REQUESTS, mean=value, min=value, p50=value, p90=value, p95=value, p99=value, max=value
    )


def summary_at(rate: float, *, met: bool, tpot_s: float = 0.02, e2e_s: float = 0.01) -> RunSummary:
    """A run of NUM_REQUESTS at `rate`; it met the SLO or not."""
    one = _flat(e2e_s)
    tpot = _flat(tpot_s)
    return RunSummary(
        num_requests=NUM_REQUESTS,
        num_ok=NUM_REQUESTS,
        num_failed=0,
        duration_s=NUM_REQUESTS / rate,
        request_throughput_rps=rate,
        output_tokens_per_s=rate * 100,
        total_tokens_per_s=rate * 300,
        prompt_tokens=NUM_REQUESTS * 200,
        cached_prompt_tokens=0,
        output_tokens=NUM_REQUESTS * 100,
        num_preemptions=0,
        ttft_s=one,
        itl_s=one,
        tpot_s=tpot,
        e2e_s=one,
        slo_name="test",
        slo_attainment=1.0 if met else 0.5,
        attainment_target=0.99,
        goodput_rps=rate if met else rate / 2,
        goodput_output_tokens_per_s=rate * 100 if met else rate * 50,
        slo_met=met,
    )


class FakeProber:
    """The SLO holds up to `capacity(config)` req/s; with `noise`, a level within `noise` (relative) of the
    capacity holds or not at random (a noisy engine)."""

    backend = "simulator"

    def __init__(
        self, capacity: Callable[[EngineConfig], float], *, noise: float = 0.0, seed: int = 0
    ) -> None:
        self.capacity = capacity
        self.noise = noise
        self.noisy = noise > 0
        self.rng = random.Random(seed)
        self.num_runs = 0
        self.rates: list[float] = []

    def measure(self, candidate: Candidate, config: EngineConfig, load: LoadSpec, slo: SLO) -> Measured:
        self.num_runs += 1
        rate = load.rate_rps or 0.0
        self.rates.append(rate)
        cap = self.capacity(config)
        if self.noise:
            cap *= 1 + self.rng.uniform(-self.noise, self.noise)
        met = rate <= cap
        engine = EngineCounters(source="simulator", kv_usage_max=0.3, num_running_max=8, num_waiting_mean=0.0)
        return Measured(summary_at(rate, met=met), engine, False, 0.001, {} if met else {"ttft p99<200ms": 3})
