"""The fit finds the coefficients of a known engine again: the fake engine is the simulator with a "true"
profile, the fit starts from the default profile."""

from __future__ import annotations

import math
import tarfile
from pathlib import Path

import numpy as np
import pytest
from fake_engine import measured_on_simulator, probe_set

from slotune.calibrate.fit import Coordinates, Param, forward_jacobian, frontend_per_prompt_token_s
from slotune.calibrate.probes import EngineLimits, decode_probe, first_probes, mixed_probe, probe_plan
from slotune.calibrate.profile import fit_profile, merge_probe_sets
from slotune.catalog import load_profile
from slotune.errors import InputError
from slotune.models import EngineConfig, HardwareProfile
from slotune.models.calibration import ProbeSet

LIMITS = EngineLimits(
    max_model_len=2048, max_num_seqs=128, max_num_batched_tokens=2048, block_size=32, kv_cache_tokens=524288
)
BASE = EngineConfig(max_model_len=2048, block_size=32, kv_cache_memory_bytes=2**30)
CONFIGS = {"default": BASE, "eager": BASE.model_copy(update={"enforce_eager": True})}
TRUE = {
    "mfu_decode": 0.12,
    "mfu_prefill": 0.3,
    "frontend_s": 0.012,
    "frontend_serial_s": 0.003,
    "step_cpu_s": 0.002,
    "compiled_launch_per_layer_s": 4e-4,
    "eager_launch_per_layer_s": 2e-3,
    "launch_overlap": 0.6,
    "prefill_attention_rate": 4.0,
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
    # What the probes pin down: compute efficiencies (the tiny model's decode is its LM head) and a lone
    # request's time in the frontend (its serial and parallel parts only split where bursts queue for it).
    for name in ("mfu_decode", "mfu_prefill"):
        assert getattr(c, name) == pytest.approx(TRUE[name], rel=0.05), name
    # Prompts of several lengths tell the attention's rate (quadratic in the prompt) from the GEMMs' (linear).
    assert c.prefill_attention_rate == pytest.approx(TRUE["prefill_attention_rate"], rel=0.15)
    lone = c.frontend_s + c.frontend_serial_s
    assert lone == pytest.approx(TRUE["frontend_s"] + TRUE["frontend_serial_s"], rel=0.05)
    # Every probe's statistics are recorded with what the fitted profile predicts.
    assert {p.mode for p in cal.probes} == {"default", "eager"}
    assert all(p.predicted.keys() == p.measured.keys() for p in cal.probes)
    assert "tpot_p50_s" in next(p for p in cal.probes if p.kind == "decode").samples_s


def test_server_speed_reads_a_slower_profile_from_the_probes(probes) -> None:  # type: ignore[no-untyped-def]
    from slotune.calibrate.profile import server_speed

    base = load_profile()
    true = base.model_copy(update={"coefficients": base.coefficients.model_copy(update=TRUE)})
    sets = probe_set(probes, CONFIGS)
    assert server_speed(true, sets) == pytest.approx(1.0, abs=0.02)
    # Every time term doubled and every efficiency halved: each step takes twice as long in the simulator, so
    # the probed server is twice as fast as that profile.
    c = true.coefficients
    times = {
        k: 2 * getattr(c, k)
        for k in ("step_cpu_s", "cpu_per_seq_s", "compiled_launch_per_layer_s", "eager_launch_per_layer_s")
    }
    rates = {k: getattr(c, k) / 2 for k in ("mfu_decode", "mfu_prefill")}
    slow = true.model_copy(
        update={"coefficients": c.model_copy(update={**times, **rates, "mem_bw_efficiency": 0.4})}
    )
    assert server_speed(slow, sets) == pytest.approx(2.0, rel=0.1)


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


def test_coordinates_start_at_one_and_round_trip() -> None:
    params = [Param("a", 1e-6, 1.0), Param("f", 0.0, 1.0, log_scale=False)]
    coords = Coordinates(params, [1e-3, 0.25])  # type: ignore[arg-type]
    x0 = coords.x0()
    # Not 0: least_squares' first trust radius is |x0| (at 0 the fit never leaves its start).
    assert list(x0) == [1.0, 1.25]
    values = coords.values(x0 + np.asarray([math.log(2), 0.5]))
    assert values == pytest.approx({"a": 2e-3, "f": 0.75})
    lower, upper = coords.bounds()
    assert lower[0] == pytest.approx(1 + math.log(1e-3)) and upper[0] == pytest.approx(1 + math.log(1e3))
    assert (lower[1], upper[1]) == (1.0, 2.0)


def test_the_jacobian_sees_the_trend_through_a_staircase() -> None:
    # An event simulation's statistic in one coefficient: flat between jumps of 1 % (a step boundary passing
    # an arrival), slope 1 in the large. A step of sqrt(eps) reads 0 or a jump's 1e6.
    def staircase(x: np.ndarray) -> np.ndarray:
        return np.floor(x * 100) / 100

    x = np.asarray([0.123])
    jac = forward_jacobian(staircase, x, staircase(x), upper=[10.0])
    assert jac[0, 0] == pytest.approx(1.0, abs=0.2)
    # Backwards at the upper bound.
    at_bound = forward_jacobian(staircase, x, staircase(x), upper=[0.15])
    assert at_bound[0, 0] == pytest.approx(1.0, abs=0.2)


# An H200 serving Llama-3.1-8B as the real one measured it (docs/fidelity.md): far from the default profile in
# every launch term (eager launches 13x the prior) and in both efficiencies.
GPU_TRUE = {
    "mem_bw_efficiency": 0.62,
    "mfu_prefill": 0.68,
    "frontend_s": 0.003,
    "frontend_serial_s": 0.0025,
    "piecewise_launch_per_layer_s": 1.8e-4,
    "compiled_launch_per_layer_s": 3.6e-4,
    "eager_launch_per_layer_s": 4.5e-4,
}
GPU_LIMITS = EngineLimits(
    max_model_len=4096, max_num_seqs=256, max_num_batched_tokens=8192, block_size=16, kv_cache_tokens=524288
)
GPU_BASE = EngineConfig(max_model_len=4096)
GPU_CONFIGS = {"default": GPU_BASE, "eager": GPU_BASE.model_copy(update={"enforce_eager": True})}


def test_fit_on_a_gpu_leaves_the_prior_and_recovers_a_known_profile() -> None:
    base = load_profile()
    true = base.model_copy(update={"coefficients": base.coefficients.model_copy(update=GPU_TRUE)})
    plan = probe_plan(GPU_LIMITS, "quick")
    data = [
        measured_on_simulator(true, p, mode, GPU_CONFIGS[mode], model="llama-3.1-8b", gpu="h200")  # type: ignore[arg-type]
        for mode in ("default", "eager")
        for p in first_probes(GPU_LIMITS, plan, mode)  # type: ignore[arg-type]
    ]
    sets = [probe_set(data, GPU_CONFIGS, model="llama-3.1-8b", gpu="h200", vllm_version="0.25.0")]
    profile = fit_profile(sets, max_evaluations=150)
    assert profile.vllm_version == "0.25.0"  # the engine rules of the release probed
    cal = profile.calibration
    assert cal is not None and cal.rms_log_error is not None and cal.rms_log_error < 0.03
    for name in ("mem_bw_efficiency", "mfu_prefill", "eager_launch_per_layer_s"):
        assert getattr(profile.coefficients, name) == pytest.approx(GPU_TRUE[name], rel=0.1), name


H200_RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "fidelity-h200"


def h200_probe_set(mode: str) -> ProbeSet:
    """The probes the lent H200 measured (vLLM 0.25.0, Llama-3.1-8B shape), as committed (the call that measured
    the mode: call 3 for the defaults, call 5 for eager alone on its host)."""
    (archive,) = H200_RESULTS.glob(f"call*-{mode}.tgz")
    with tarfile.open(archive) as tar:
        member = tar.extractfile(f"{mode}/probes-{mode}.json")
        assert member is not None
        return ProbeSet.model_validate_json(member.read())


def test_fit_on_the_measured_h200_probes_leaves_the_prior() -> None:
    # The real engine's decode steps: batch 1 takes 5.0 ms where the prior's 80 % of HBM bandwidth gives
    # 4.0 ms, and eager decode 13.6-19.0 ms where the prior's launches give 5.1 ms. A fit that stops at its start
    # (the old first trust radius of 1e-10; the mixed probe's TTFT jumps as arrivals cross step boundaries)
    # keeps 0.80 and 35 us.
    sets = [h200_probe_set(m) for m in ("default", "eager")]
    keep = ("decode_1x32", "decode_16x32", "decode_1x1024", "mixed_32+256")
    sets = [s.model_copy(update={"probes": tuple(p for p in s.probes if p.name in keep)}) for s in sets]
    config = H200_RESULTS / "model-config.json"
    profile = fit_profile(sets, max_evaluations=60, model_spec=str(config))
    c = profile.coefficients
    assert c.mem_bw_efficiency is not None and 0.55 < c.mem_bw_efficiency < 0.72
    assert 2e-4 < c.eager_launch_per_layer_s < 6e-4
    cal = profile.calibration
    assert cal is not None and cal.rms_log_error is not None and cal.rms_log_error < 0.3  # the prior: 0.9


# An eager server whose host time grows with the batch: 9.6 ms of launches plus 40 us per sequence, a third of
# it hidden behind the device's work.
EAGER_TRUE = {
    "mem_bw_efficiency": 0.62,
    "eager_launch_per_layer_s": 3.0e-4,
    "eager_launch_per_seq_s": 4.0e-5,
    "launch_overlap": 0.3,
}


def _eager_decode_step(profile: HardwareProfile, batch: int) -> float:
    from slotune.catalog import get_gpu, get_model
    from slotune.simulate import Simulator

    sim = Simulator(get_model("llama-3.1-8b"), get_gpu("h200"), profile=profile)
    cost = sim.cost_model(sim.deployment(GPU_CONFIGS["eager"]))
    return float(cost.decode_run_s(batch, np.asarray([batch * 48]))[0])


def test_the_fitted_eager_step_reproduces_the_probes_batch_slope() -> None:
    base = load_profile()
    true = base.model_copy(update={"coefficients": base.coefficients.model_copy(update=EAGER_TRUE)})
    plan = probe_plan(GPU_LIMITS, "quick")
    planned = first_probes(GPU_LIMITS, plan, "eager")[:2]  # tiny and the shortest prefill
    planned += [decode_probe(GPU_LIMITS, batch, 32, 16) for batch in (1, 16, 64)]
    data = [
        measured_on_simulator(true, p, "eager", GPU_CONFIGS["eager"], model="llama-3.1-8b", gpu="h200")
        for p in planned
    ]
    eager_only = {"eager": GPU_CONFIGS["eager"]}
    profile = fit_profile(
        [probe_set(data, eager_only, model="llama-3.1-8b", gpu="h200", vllm_version="0.25.0")],
        max_evaluations=80,
    )
    assert profile.calibration is not None and "eager_launch_per_seq_s" in profile.calibration.fitted
    slope = _eager_decode_step(profile, 64) - _eager_decode_step(profile, 1)
    true_slope = _eager_decode_step(true, 64) - _eager_decode_step(true, 1)
    assert slope == pytest.approx(true_slope, rel=0.1)
    assert profile.coefficients.eager_launch_per_seq_s == pytest.approx(4.0e-5, rel=0.2)
