"""The API server's time outside the engine step: in TTFT and E2E, not in ITL; requests queue for its serial part."""

from __future__ import annotations

import itertools

import pytest
from sim_helpers import workload

from slotune.load import Job
from slotune.models import EngineConfig, GpuSpec, LoadSpec, ModelSpec, RequestSpec
from slotune.simulate import Simulator, load_profile
from slotune.simulate.frontend import Frontend, delayed_jobs

CONFIG = EngineConfig(max_model_len=4096)


def _profile(frontend_s: float, per_token_s: float = 0.0):  # type: ignore[no-untyped-def]
    base = load_profile()
    coefficients = base.coefficients.model_copy(
        update={"frontend_s": frontend_s, "frontend_per_prompt_token_s": per_token_s}
    )
    return base.model_copy(update={"coefficients": coefficients})


def test_one_request_takes_the_delay_on_ttft_and_e2e_only(model: ModelSpec, gpu: GpuSpec, facts) -> None:  # type: ignore[no-untyped-def]
    wl = workload([(0.0, 512, 20)])
    plain = Simulator(model, gpu, facts=facts).run(wl, CONFIG).records[0]
    slow = Simulator(model, gpu, facts=facts, profile=_profile(0.004, 1e-5)).run(wl, CONFIG).records[0]
    delay = 0.004 + 512 * 1e-5
    assert slow.arrival_s == plain.arrival_s == 0.0
    assert slow.ttft_s == pytest.approx(plain.ttft_s + delay)  # type: ignore[operator]
    assert slow.e2e_s == pytest.approx(plain.e2e_s + delay)  # type: ignore[operator]
    assert slow.itls_s == pytest.approx(plain.itls_s)


def test_a_closed_loop_user_sends_when_the_response_ends(model: ModelSpec, gpu: GpuSpec, facts) -> None:  # type: ignore[no-untyped-def]
    wl = workload([(0.0, 256, 8)] * 3)
    load = LoadSpec(kind="concurrency", concurrency=1, num_requests=3)
    records = Simulator(model, gpu, facts=facts, profile=_profile(0.01)).run(wl, CONFIG, load=load).records
    for before, after in itertools.pairwise(records):
        assert after.arrival_s == pytest.approx(before.finish_s)  # type: ignore[arg-type]
        assert after.ttft_s > 0.01  # type: ignore[operator]


def test_a_short_prompt_waits_for_the_long_prompt_sent_before_it() -> None:
    # vLLM tokenizes on one thread: 4,000 tokens at 1 us each, then 10 tokens, then 2 ms in parallel.
    def job(seq: int, send_s: float, prompt: int) -> Job:
        spec = RequestSpec(request_id=f"r{seq}", arrival_s=send_s, prompt_tokens=prompt, output_tokens=1)
        return Job(seq, spec, 0, send_s, False)

    jobs = [job(0, 0.0, 4000), job(1, 0.001, 10), job(2, 0.5, 10)]
    out = list(delayed_jobs(jobs, Frontend(_profile(0.002, 1e-6).coefficients)))
    assert [j.seq for j in out] == [0, 1, 2]
    assert [j.send_s for j in out] == pytest.approx([0.006, 0.00401 + 0.002, 0.50201])


def test_requests_sent_together_queue_for_the_api_servers_serial_work() -> None:
    def job(seq: int, send_s: float) -> Job:
        spec = RequestSpec(request_id=f"r{seq}", arrival_s=send_s, prompt_tokens=10, output_tokens=1)
        return Job(seq, spec, 0, send_s, False)

    coefficients = _profile(0.002).coefficients.model_copy(update={"frontend_serial_s": 0.001})
    frontend = Frontend(coefficients)
    # Three at once and one after the queue has drained: 1 ms each, one at a time, then 2 ms in parallel.
    out = list(delayed_jobs([job(0, 0.0), job(1, 0.0), job(2, 0.0), job(3, 0.1)], frontend))
    assert [j.send_s for j in out] == pytest.approx([0.003, 0.004, 0.005, 0.103])


def test_a_burst_waits_in_the_frontend_on_the_clients_clock(model: ModelSpec, gpu: GpuSpec, facts) -> None:  # type: ignore[no-untyped-def]
    wl = workload([(0.0, 64, 4)] * 8)
    serial = _profile(0.002).coefficients.model_copy(update={"frontend_serial_s": 0.005})
    profile = load_profile().model_copy(update={"coefficients": serial})
    parallel = Simulator(model, gpu, facts=facts, profile=_profile(0.002)).run(wl, CONFIG).records
    queued = Simulator(model, gpu, facts=facts, profile=profile).run(wl, CONFIG).records
    assert all(r.arrival_s == 0.0 for r in queued)  # reported at the client's send
    ttfts = sorted(r.ttft_s for r in queued)  # type: ignore[type-var]
    # The last of 8 waits for 7 others' 5 ms: TTFT grows by at least 35 ms over the parallel frontend.
    assert ttfts[-1] >= max(r.ttft_s for r in parallel) + 0.035  # type: ignore[type-var, operator]
