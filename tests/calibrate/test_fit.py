"""The fit finds the coefficients of a known engine again: the fake engine is the simulator with a "true"
profile, the fit starts from the default profile."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fake_engine import measured_on_simulator, probe_set

from slotune.calibrate.fit import Coordinates, Param, frontend_per_prompt_token_s
from slotune.calibrate.probes import EngineLimits, first_probes, mixed_probe, probe_plan
from slotune.calibrate.profile import fit_profile, merge_probe_sets
from slotune.catalog import load_profile
from slotune.errors import InputError
from slotune.models import EngineConfig

LIMITS = EngineLimits(
    max_model_len=2048, max_num_seqs=128, max_num_batched_tokens=2048, block_size=32, kv_cache_tokens=524288
)
BASE = EngineConfig(max_model_len=2048, block_size=32, kv_cache_memory_bytes=2**30)
CONFIGS = {"default": BASE, "eager": BASE.model_copy(update={"enforce_eager": True})}
TRUE = {
    "mfu_decode": 0.12,
    "mfu_prefill": 0.3,
    "frontend_s": 0.012,
    "step_cpu_s": 0.002,
    "compiled_launch_per_layer_s": 4e-4,
    "eager_launch_per_layer_s": 2e-3,
    "launch_overlap": 0.6,
}


@pytest.fixture(scope="module")
def probes():  # type: ignore[no-untyped-def]
    base = load_profile()
    true = base.model_copy(update={"coefficients": base.coefficients.model_copy(update=TRUE)})
    plan = probe_plan(LIMITS, "quick")
    data = []
    for mode in ("default", "eager"):
        planned = first_probes(LIMITS, plan, mode)  # type: ignore[arg-type]
        if mode == "default":
            planned.append(mixed_probe(LIMITS, plan.mixed_batch, plan.mixed_prompt_tokens, 32, 0.05, 2))
        data += [measured_on_simulator(true, p, mode, CONFIGS[mode]) for p in planned]  # type: ignore[arg-type]
    return data


def test_fit_reproduces_the_probes_and_finds_the_determined_coefficients(probes) -> None:  # type: ignore[no-untyped-def]
    profile = fit_profile([probe_set(probes, CONFIGS)], max_evaluations=150)
    cal = profile.calibration
    assert cal is not None
    assert cal.rms_log_error is not None and cal.rms_log_error < 0.03
    c = profile.coefficients
    # What the probes pin down: compute efficiencies (the tiny model's decode is its LM head) and the frontend.
    for name in ("mfu_decode", "mfu_prefill", "frontend_s"):
        assert getattr(c, name) == pytest.approx(TRUE[name], rel=0.05), name
    # Every probe's statistics are recorded with what the fitted profile predicts.
    assert {p.mode for p in cal.probes} == {"default", "eager"}
    assert all(p.predicted.keys() == p.measured.keys() for p in cal.probes)
    assert "tpot_p50_s" in next(p for p in cal.probes if p.kind == "decode").samples_s


def test_fit_from_the_default_probes_alone_fits_no_eager_terms(probes) -> None:  # type: ignore[no-untyped-def]
    default_only = [p for p in probes if p.mode == "default"]
    profile = fit_profile([probe_set(default_only, {"default": BASE})], max_evaluations=20)
    assert profile.calibration is not None
    assert "eager_launch_per_layer_s" not in profile.calibration.fitted
    assert "compiled_launch_per_layer_s" in profile.calibration.fitted
    assert "graph_launch_s" not in profile.calibration.fitted  # a CPU has no CUDA graphs


def test_merging_keeps_one_server_per_mode_and_refuses_another_device(probes) -> None:  # type: ignore[no-untyped-def]
    default = probe_set([p for p in probes if p.mode == "default"], {"default": BASE})
    eager = probe_set([p for p in probes if p.mode == "eager"], {"eager": CONFIGS["eager"]})
    merged = merge_probe_sets([default, eager, default])
    assert [s.mode for s in merged.servers] == ["default", "eager"]
    assert len(merged.probes) == len(probes)
    with pytest.raises(InputError, match="one model and device"):
        merge_probe_sets([default, eager.model_copy(update={"gpu": "h200"})])


def test_frontend_time_per_prompt_token_from_the_servers_histograms(probes) -> None:  # type: ignore[no-untyped-def]
    prefill = [p for p in probes if p.kind in ("tiny", "prefill") and p.mode == "default"]
    # vLLM's TTFT = queue + prefill + frontend; 2 us of frontend per prompt token plus 1 ms.
    with_server = []
    for p in prefill:
        tokens = max(r.prompt_tokens for r in p.workload.requests)
        server = {"queue_time_s": 1e-4, "prefill_time_s": 0.01, "ttft_s": 0.0101 + 1e-3 + 2e-6 * tokens}
        with_server.append(p.model_copy(update={"server_s": server}))
    assert frontend_per_prompt_token_s(with_server) == pytest.approx(2e-6, rel=1e-6)
    assert frontend_per_prompt_token_s([p.model_copy(update={"server_s": {}}) for p in prefill]) == 0.0


def test_coordinates_start_at_zero_and_round_trip() -> None:
    params = [Param("a", 1e-6, 1.0), Param("f", 0.0, 1.0, log_scale=False)]
    coords = Coordinates(params, [1e-3, 0.25])  # type: ignore[arg-type]
    x0 = coords.x0()
    assert list(x0) == [0.0, 0.25]
    values = coords.values(x0 + np.asarray([math.log(2), 0.5]))
    assert values == pytest.approx({"a": 2e-3, "f": 0.75})
    lower, upper = coords.bounds()
    assert lower[0] == pytest.approx(math.log(1e-3)) and upper[0] == pytest.approx(math.log(1e3))
