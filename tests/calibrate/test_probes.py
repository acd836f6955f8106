"""Probe shapes follow the engine's limits; statistics read the client's records or the server's histograms."""

from __future__ import annotations

import pytest

from slotune.calibrate.probes import (
    EngineLimits,
    decode_probes,
    engine_side,
    first_probes,
    measure,
    measured_value,
    mixed_probe,
    prefix_probe,
    probe_plan,
    samples,
)
from slotune.models import RequestRecord
from slotune.models.calibration import ProbeStatistic

CPU = EngineLimits(
    max_model_len=2048, max_num_seqs=128, max_num_batched_tokens=2048, block_size=32, kv_cache_tokens=524288
)
H200 = EngineLimits(
    max_model_len=8192, max_num_seqs=1024, max_num_batched_tokens=8192, block_size=16, kv_cache_tokens=900_000
)


@pytest.mark.parametrize("limits", [CPU, H200], ids=["cpu", "h200"])
@pytest.mark.parametrize("scale", ["quick", "full"])
def test_every_request_fits_the_engine(limits: EngineLimits, scale: str) -> None:
    plan = probe_plan(limits, scale)  # type: ignore[arg-type]
    probes = first_probes(limits, plan, "default")
    probes.append(mixed_probe(limits, plan.mixed_batch, plan.mixed_prompt_tokens, 128, 0.01, 4))
    for probe in probes:
        for r in probe.workload.requests:
            assert r.prompt_tokens + r.output_tokens <= limits.max_model_len, probe.name
        assert probe.concurrency <= limits.max_num_seqs + 1
    kinds = {p.kind for p in probes}
    assert kinds == {"tiny", "prefill", "prefix", "decode", "mixed"}
    assert "prefix" not in {p.kind for p in first_probes(limits, plan, "eager")}


def test_decode_probes_fit_the_kv_cache_and_a_bounded_prefill() -> None:
    small = EngineLimits(
        max_model_len=8192,
        max_num_seqs=1024,
        max_num_batched_tokens=8192,
        block_size=16,
        kv_cache_tokens=40_000,
    )
    for probe in decode_probes(small, probe_plan(small, "full")):
        held = sum(r.prompt_tokens + r.output_tokens for r in probe.workload.requests)
        assert held <= 0.9 * 40_000
        assert sum(r.prompt_tokens for r in probe.workload.requests) <= 16 * 8192
    assert decode_probes(H200, probe_plan(H200, "full"))  # the big GPU keeps its probes


def test_prefix_probe_repeats_whole_blocks_and_a_half_block() -> None:
    probe = prefix_probe(CPU, 1000, 3)
    first, *hits = probe.workload.requests
    assert first.prompt_tokens == 31 * 32 + 16 and len(first.prefix_block_ids) == 31
    assert all(h.prefix_block_ids == first.prefix_block_ids for h in hits) and len(hits) == 3
    assert probe.statistics[0].group == "hit"


def _record(rid: str, ttft: float, tpot: float, n: int = 5, scheduled: float = 0.001) -> RequestRecord:
    first = 0.01 + ttft
    return RequestRecord(
        request_id=rid,
        arrival_s=0.01,
        scheduled_s=0.01 + scheduled,
        first_token_s=first,
        finish_s=first + tpot * (n - 1),
        output_tokens=n,
        prompt_tokens=10,
    )


def test_client_and_server_statistics() -> None:
    records = [_record("hit0", 0.010, 0.002), _record("hit1", 0.030, 0.004), _record("warm", 0.5, 0.1)]
    hits = ProbeStatistic(metric="ttft", group="hit")
    assert hits.name == "ttft_p50_s[hit]"
    assert measure(hits, records) == pytest.approx(0.020)
    assert measure(ProbeStatistic(metric="tpot"), records) == pytest.approx(0.004)
    itl = ProbeStatistic(metric="itl", source="server")
    assert itl.name == "server_itl_mean_s"
    # vLLM's ITL histogram: one sample per output step, so the mean weighs requests by their steps.
    assert engine_side(itl, records) == pytest.approx((0.002 + 0.004 + 0.1) * 4 / 12)
    prefill = ProbeStatistic(metric="prefill", source="server")
    assert engine_side(prefill, records) == pytest.approx(
        ((0.010 - 0.001) + (0.030 - 0.001) + (0.5 - 0.001)) / 3
    )
    assert measured_value(itl, records, {"itl_s": 0.05}) == 0.05
    assert measured_value(prefill, records, {}) is None
    assert samples([hits, itl], records) == {"ttft_p50_s[hit]": (0.01, 0.03)}
