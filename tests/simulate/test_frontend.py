"""The API server's time outside the engine step: in TTFT and E2E, not in ITL; open loops reordered by it."""

from __future__ import annotations

import itertools

import pytest
from sim_helpers import workload

from slotune.load import Job
from slotune.models import EngineConfig, GpuSpec, LoadSpec, ModelSpec, RequestSpec
from slotune.simulate import Simulator, load_profile
from slotune.simulate.frontend import delayed_jobs

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


def test_open_loop_jobs_reach_the_engine_in_delay_order() -> None:
    def job(seq: int, send_s: float, prompt: int) -> Job:
        spec = RequestSpec(request_id=f"r{seq}", arrival_s=send_s, prompt_tokens=prompt, output_tokens=1)
        return Job(seq, spec, 0, send_s, False)

    jobs = [job(0, 0.0, 4000), job(1, 0.001, 10), job(2, 0.5, 10)]
    out = list(delayed_jobs(jobs, lambda spec: 0.002 + 1e-6 * spec.prompt_tokens, 0.002))
    assert [j.seq for j in out] == [1, 0, 2]
    assert [j.send_s for j in out] == pytest.approx([0.001 + 0.00201, 0.006, 0.50201])
