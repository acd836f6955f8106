"""validate/compare: the errors of a simulated run against a measured one, field by field."""

from __future__ import annotations

import pytest
from fake_real import ENGINE, GPU, TINY_CONFIG, FakeReal

from slotune.models import LoadSpec
from slotune.validate.api import deployment_for, validate
from slotune.workload.synth import synthesize


def test_errors_are_simulated_over_measured_minus_one() -> None:
    load = LoadSpec(kind="rate", rate_rps=2.0, arrival="constant", num_requests=12)
    workload = synthesize(preset="chatbot", num_requests=12, seed=1)
    workload = workload.model_copy(
        update={
            "requests": tuple(
                r.model_copy(update={"prompt_tokens": 64, "output_tokens": 8}) for r in workload.requests
            )
        }
    )
    report = validate(
        FakeReal(load), deployment_for(TINY_CONFIG, GPU, "default"), workload, ENGINE, load=load
    )
    assert report.kind == "validate" and report.profile.startswith("default@")
    ttft = next(e for e in report.errors if e.metric == "ttft" and e.stat == "mean")
    assert ttft.relative_error == pytest.approx(ttft.simulated / ttft.measured - 1)  # type: ignore[operator]
    # The "real" engine is 20 % slower in compute and has a 5 ms frontend: the simulator is too fast.
    assert report.error("ttft", "mean") < -0.05  # type: ignore[operator]
    assert report.error("e2e", "mean") < 0  # type: ignore[operator]
    # The same schedule on both sides: every request of the measured run was simulated.
    assert report.measured.summary.num_requests == report.simulated.summary.num_requests == 12
    # 64 MiB of KV cache at 2,048 B per token: 32,768 tokens, as vLLM would log.
    assert report.kv.vllm_tokens == report.kv.planner_tokens == report.kv.simulator_tokens == 32768
    assert report.kv.error("planner") == 0.0 and report.error("kv_capacity_simulator") == 0.0
    assert report.measured_plot is not None and "e2e" in report.measured_plot.cdf
    assert report.measured.records == () and report.host_load is not None


def test_a_kv_capacity_vllm_disagrees_with_shows_as_an_error() -> None:
    load = LoadSpec(kind="concurrency", concurrency=2, num_requests=4)
    workload = synthesize(preset="chatbot", num_requests=4, seed=2)
    report = validate(
        FakeReal(load, kv_tokens=30000), deployment_for(TINY_CONFIG, GPU, None), workload, ENGINE, load=load
    )
    assert report.kv.error("planner") == pytest.approx(32768 / 30000 - 1)
