"""The evaluator starts each capacity search from the most similar configuration measured under the same SLO."""

from __future__ import annotations

from fakes import FakeProber

from slotune.models import SLO, EngineConfig, LoadSpec, SLOTarget
from slotune.slo import resolve_slo
from slotune.tune.evaluate import Evaluator

LOAD = LoadSpec(kind="rate", rate_rps=1.0, arrival="poisson", num_requests=200)


def _capacity(config: EngineConfig) -> float:
    # Chunk size is the lever (as on the interactive SLO); prefix caching changes nothing here.
    return {256: 7.3, 8192: 2.2}[config.max_num_batched_tokens or 8192]


def _evaluator() -> tuple[Evaluator, FakeProber]:
    prober = FakeProber(_capacity)
    evaluator = Evaluator(
        model="llama-3.1-8b",
        base=EngineConfig(),
        slo=resolve_slo("interactive-chat"),
        load=LOAD,
        prober=prober,
    )
    return evaluator, prober


def _params(tokens: int, caching: bool) -> dict[str, int | bool | str]:
    return {
        "gpu": "h100",
        "max_num_batched_tokens": tokens,
        "enable_prefix_caching": caching,
        "max_num_seqs": 128,
    }


def test_the_prior_is_the_nearest_configuration_measured_under_the_same_slo() -> None:
    evaluator, prober = _evaluator()
    assert evaluator.prior_rps(_params(256, False)) is None
    for tokens in (256, 8192):
        evaluator.evaluate(_params(tokens, False))
    near_small = evaluator.prior_rps(_params(256, True))
    assert near_small is not None and 7.3 / 1.05 < near_small <= 7.3
    # Another SLO (the grid's E2E limit) has priors of its own.
    other = SLO(name="e2e", targets=(SLOTarget(metric="e2e", stat="p99", threshold=30.0),))
    assert evaluator.prior_rps(_params(256, True), other) is None
    # A neighbour one flag away is found in two levels: its prior, then 5% above it.
    before = prober.num_runs
    point = evaluator.evaluate(_params(256, True))
    assert point.capacity is not None and prober.num_runs - before == 2


def test_without_a_prior_the_search_starts_at_one_request_per_second_and_doubles() -> None:
    evaluator, prober = _evaluator()
    evaluator.evaluate(_params(8192, False))
    assert prober.rates[:3] == [1.0, 2.0, 4.0]
