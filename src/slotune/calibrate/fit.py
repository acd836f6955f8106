"""Fit the hardware profile's coefficients to the probes: the simulator itself is the model.

Each evaluation simulates every probe (the same workload and load the real engine ran, on the simulator with
the candidate coefficients and the KV pool vLLM reported) and compares the probe's statistics (medians of
TTFT, TPOT over groups of its requests). The fit is scipy.optimize.least_squares (trust-region reflective,
soft-L1 loss with a 25 % scale, bounds) over the logarithms of the coefficients (`Coordinates`: offset to
start at 1, since trf's first trust radius is |x0|), with a Jacobian by forward differences of 5 % of each
coefficient (`forward_jacobian`: the simulator's statistics jump as step boundaries cross arrivals), minimizing

    sum over probes and statistics of  weight x log(simulated / measured)      (relative errors)
  + sum over coefficients of           0.05 x log(coefficient / start)          (a weak pull to the prior)

The prior term only decides along directions the probes cannot tell apart (e.g. a constant launch time and
a constant CPU time per step, which every probe sees summed); it moves a well-determined coefficient by
well under 1 %. `launch_overlap` is a fraction and is fitted on its own scale.

The frontend's time per prompt token is not in the least squares: it comes from the server's own histograms
(vLLM's TTFT minus its queue and prefill times is the frontend's share; its slope over the prefill probes'
prompt lengths is the time per token), fitted by numpy's linear least squares, 0 where the server publishes
no histograms.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from slotune.calibrate.probes import Mode, measured_value, simulated_value
from slotune.models import (
    EngineConfig,
    GpuSpec,
    HardwareProfile,
    ModelSpec,
    ProfileCoefficients,
    Workload,
)
from slotune.models.calibration import ProbeData

log = logging.getLogger(__name__)

PRIOR_WEIGHT = 0.05
LOSS_SCALE = 0.25
METHOD = (
    "scipy.optimize.least_squares (trf, soft_l1 loss, f_scale 0.25, Jacobian by 5 % forward differences) "
    "over log coefficients of "
    "weight x log(simulated / measured) per probe statistic, the simulator as the model, with a 0.05 x "
    "log(coefficient / prior) pull; frontend time per prompt token from the server's histograms by "
    "numpy.linalg.lstsq"
)


def measured(run: ProbeData) -> dict[str, float]:
    """The probe's statistics over what the real engine did."""
    out = {}
    for stat in run.statistics:
        value = measured_value(stat, run.records, run.server_s)
        if value is not None and value > 0:
            out[stat.name] = value
    return out


def as_simulated(run: ProbeData) -> Workload:
    """The probe's workload with the prompt lengths the server counted (chat template, BOS added)."""
    extra = _prompt_overhead(run)
    if not extra:
        return run.workload
    requests = tuple(
        r.model_copy(update={"prompt_tokens": r.prompt_tokens + extra}) for r in run.workload.requests
    )
    return run.workload.model_copy(update={"requests": requests})


def _prompt_overhead(run: ProbeData) -> int:
    """Tokens the server added to each prompt (median over the records that report their length)."""
    asked = {r.request_id: r.prompt_tokens for r in run.workload.requests}
    extra = [
        r.prompt_tokens - asked[r.request_id]
        for r in run.records
        if r.request_id in asked and r.prompt_tokens
    ]
    return max(0, int(np.median(extra))) if extra else 0


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    lower: float
    upper: float
    log_scale: bool = True


TIME_BOUNDS = (1e-8, 1.0)
# The simulator is an event simulation: a probe's statistic jumps where a step boundary crosses an arrival or
# where its median passes to another request, so between jumps it is flat or smooth and at a jump its slope is
# unbounded. The Jacobian's finite differences must span the jumps to see the trend: 5 % of each coefficient
# (0.05 of a fraction). least_squares' own step is relative to |x|, and every log coordinate starts at x = 0,
# where it falls back to 1.5e-8: a slope through a jump then reads as 1e6 times too steep, the trust region
# shrinks to nothing and the fit stops at its start.
JACOBIAN_STEP = 0.05
EFFICIENCY_BOUNDS = (1e-4, 1.0)
ATTENTION_RATE_BOUNDS = (0.05, 20.0)


def fitted_params(gpu: GpuSpec, configs: Sequence[EngineConfig]) -> list[Param]:
    """What the probes can tell: the roofline efficiencies, CPU time per step, the frontend, and the launch
    terms of the configurations that ran (graphs exist only on GPUs; eager terms only with --enforce-eager)."""
    params = [
        Param("mem_bw_efficiency", *EFFICIENCY_BOUNDS),
        Param("mfu_prefill", *EFFICIENCY_BOUNDS),
        Param("mfu_decode", *EFFICIENCY_BOUNDS),
        # Prompts of several lengths separate attention (quadratic in the prompt) from the GEMMs (linear).
        Param("prefill_attention_rate", *ATTENTION_RATE_BOUNDS),
        Param("step_cpu_s", *TIME_BOUNDS),
        Param("cpu_per_seq_s", *TIME_BOUNDS),
        Param("frontend_s", *TIME_BOUNDS),
        Param("frontend_serial_s", *TIME_BOUNDS),
    ]
    if any(not c.enforce_eager for c in configs):
        if gpu.has_cuda_graphs:
            params += [
                Param("graph_launch_s", *TIME_BOUNDS),
                Param("piecewise_launch_per_layer_s", *TIME_BOUNDS),
            ]
        params.append(Param("compiled_launch_per_layer_s", *TIME_BOUNDS))
    if any(c.enforce_eager for c in configs):
        params += [
            Param("eager_launch_per_layer_s", *TIME_BOUNDS),
            Param("eager_launch_per_seq_s", *TIME_BOUNDS),
            Param("launch_overlap", 0.0, 1.0, False),
        ]
    return params


# Coefficients whose prior is 0 (the term left out), started at the `defaults` of prior_values instead: a log
# coordinate cannot start at 0.
STARTS_WHERE_ZERO = ("frontend_s", "frontend_serial_s", "eager_launch_per_seq_s")


def prior_values(prior: ProfileCoefficients, gpu: GpuSpec, params: Sequence[Param]) -> np.ndarray:
    """Starting values: the prior profile's, the catalog's efficiencies where the profile leaves them."""
    defaults = {
        "mem_bw_efficiency": gpu.mem_bw_efficiency,
        "mfu_prefill": gpu.mfu_prefill,
        "mfu_decode": gpu.mfu_decode,
        "compiled_launch_per_layer_s": prior.eager_launch_per_layer_s,
        "frontend_s": 1e-3,
        "frontend_serial_s": 1e-4,
        "eager_launch_per_seq_s": 1e-5,
    }
    values = []
    for p in params:
        value = getattr(prior, p.name)
        if value is None or (p.name in STARTS_WHERE_ZERO and value == 0):
            value = defaults[p.name]
        if p.log_scale:
            value = min(max(value, p.lower * 10), p.upper)
        values.append(float(value))
    return np.asarray(values)


class Coordinates:
    """The fit's variables: ORIGIN + log(value / start) for coefficients on a log scale, ORIGIN + value for
    fractions. A step of h in a log variable moves its coefficient by a factor e^h whatever its size.

    Every variable starts at ORIGIN = 1, not 0, because least_squares' trust-region method ('trf') takes
    |x0| as its first trust radius: at x0 = 0 (a fraction at 0 nudged to 1e-10 inside its bounds) the first
    steps are 1e-10 long, double on each success, and the relative cost reductions of such steps meet `ftol`
    long before they reach a useful size (the fit "converges" at its start). At 1 the first radius is
    sqrt(number of variables), which the trust region shrinks as far as the probes need."""

    ORIGIN = 1.0

    def __init__(self, params: Sequence[Param], start: np.ndarray) -> None:
        self.params = params
        self.start = start

    def x0(self) -> np.ndarray:
        return np.asarray(
            [self.ORIGIN + (0.0 if p.log_scale else v) for p, v in zip(self.params, self.start, strict=True)]
        )

    def bounds(self) -> tuple[list[float], list[float]]:
        lower, upper = [], []
        for p, v in zip(self.params, self.start, strict=True):
            lower.append(self.ORIGIN + (math.log(p.lower / v) if p.log_scale else p.lower))
            upper.append(self.ORIGIN + (math.log(p.upper / v) if p.log_scale else p.upper))
        return lower, upper

    def values(self, x: np.ndarray) -> dict[str, float]:
        return {
            p.name: float(v * math.exp(xi - self.ORIGIN) if p.log_scale else xi - self.ORIGIN)
            for p, v, xi in zip(self.params, self.start, x, strict=True)
        }


def forward_jacobian(
    fun: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    f0: np.ndarray,
    upper: Sequence[float],
    step: float = JACOBIAN_STEP,
) -> np.ndarray:
    """Forward differences of `fun` at `x` (where it is `f0`) with an absolute step per coordinate, taken
    backwards where the step would cross the upper bound."""
    jac = np.empty((f0.size, x.size))
    for i in range(x.size):
        h = step if x[i] + step <= upper[i] else -step
        moved = x.copy()
        moved[i] += h
        jac[:, i] = (fun(moved) - f0) / h
    return jac


@dataclass(frozen=True, slots=True)
class FitSetup:
    model: ModelSpec
    gpu: GpuSpec
    engine_configs: dict[Mode, EngineConfig]
    # The KV pool vLLM reported per mode, so that the fit never depends on the planner's KV accounting.
    num_gpu_blocks: dict[Mode, int | None]
    prior: HardwareProfile


def simulate_probe(setup: FitSetup, profile: HardwareProfile, run: ProbeData) -> dict[str, float]:
    """The probe's statistics on the simulator with `profile`."""
    from slotune.simulate.simulator import Simulator

    sim = Simulator(
        setup.model, setup.gpu, profile=profile, num_gpu_blocks=setup.num_gpu_blocks.get(run.mode)
    )
    result = sim.run(as_simulated(run), setup.engine_configs[run.mode], load=run.load)
    out = {}
    for stat in run.statistics:
        value = simulated_value(stat, result.records)
        if value is not None:
            out[stat.name] = value
    return out


def with_coefficients(profile: HardwareProfile, values: dict[str, float]) -> HardwareProfile:
    coefficients = profile.coefficients.model_copy(update=values)
    return profile.model_copy(update={"coefficients": coefficients})


def frontend_per_prompt_token_s(runs: Sequence[ProbeData]) -> float:
    """Slope of the server-side frontend time (vLLM's TTFT - queue - prefill) over the prompt length, from
    the tiny and prefill probes (0 without the server's histograms, or where the slope comes out negative)."""
    xs, ys = [], []
    for run in runs:
        if run.kind not in ("tiny", "prefill") or run.mode != "default":
            continue
        s = run.server_s
        if not {"ttft_s", "queue_time_s", "prefill_time_s"} <= s.keys():
            continue
        xs.append(max(r.prompt_tokens for r in run.workload.requests))
        ys.append(s["ttft_s"] - s["queue_time_s"] - s["prefill_time_s"])
    if len(set(xs)) < 2:
        return 0.0
    a = np.column_stack([np.ones(len(xs)), np.asarray(xs, dtype=float)])
    (_, slope), *_ = np.linalg.lstsq(a, np.asarray(ys), rcond=None)
    return max(0.0, float(slope))


# The frontend's serial and parallel parts (frontend_serial_s, frontend_s) add up for a lone request; only the
# probes whose requests are sent together tell them apart, along a narrow valley where the fit can settle on
# either side. It runs from the prior's split and from one with 10x the serial part, and keeps the better.
SERIAL_START_FACTORS = (1.0, 10.0)


def _starts(params: Sequence[Param], x0: np.ndarray) -> list[np.ndarray]:
    names = [p.name for p in params]
    if "frontend_serial_s" not in names:
        return [x0]
    i = names.index("frontend_serial_s")
    starts = []
    for factor in SERIAL_START_FACTORS:
        start = x0.copy()
        start[i] += math.log(factor)
        starts.append(start)
    return starts


@dataclass(frozen=True, slots=True)
class FitResult:
    coefficients: ProfileCoefficients
    fitted: tuple[str, ...]
    predicted: dict[str, dict[str, float]]  # probe key -> statistic -> simulated seconds
    measured: dict[str, dict[str, float]]
    rms_log_error: float
    max_abs_relative_error: float
    num_evaluations: int
    wall_s: float


def probe_key(run: ProbeData) -> str:
    return f"{run.mode}/{run.name}"


def fit(setup: FitSetup, runs: Sequence[ProbeData], *, max_evaluations: int = 400) -> FitResult:
    """Least-squares fit of the coefficients the probes determine (module docstring)."""
    from scipy.optimize import least_squares

    started = time.perf_counter()
    per_token = frontend_per_prompt_token_s(runs)
    prior = with_coefficients(setup.prior, {"frontend_per_prompt_token_s": per_token})
    params = fitted_params(setup.gpu, [setup.engine_configs[m] for m in {r.mode for r in runs}])
    coords = Coordinates(params, prior_values(prior.coefficients, setup.gpu, params))
    x0 = coords.x0()
    measured_stats = {probe_key(r): measured(r) for r in runs}
    weights = {probe_key(r): {s.name: s.weight for s in r.statistics} for r in runs}
    evaluations = 0

    def predicted_for(x: np.ndarray) -> dict[str, dict[str, float]]:
        profile = with_coefficients(prior, coords.values(x))
        return {probe_key(r): simulate_probe(setup, profile, r) for r in runs}

    last: dict[bytes, np.ndarray] = {}

    def residuals(x: np.ndarray) -> np.ndarray:
        nonlocal evaluations
        if x.tobytes() in last:  # least_squares asks for the Jacobian where it has just evaluated
            return last[x.tobytes()]
        evaluations += 1
        predicted = predicted_for(x)
        out = []
        for key, stats in measured_stats.items():
            for name, value in stats.items():
                got = predicted[key].get(name)
                err = math.log(max(got, 1e-9) / value) if got is not None else 5.0
                out.append(weights[key][name] * err)
        out.extend(PRIOR_WEIGHT * (x - x0))
        last.clear()
        last[x.tobytes()] = np.asarray(out)
        return last[x.tobytes()]

    lower, upper = coords.bounds()
    solutions = [
        least_squares(
            residuals,
            np.clip(start, lower, upper),
            bounds=(lower, upper),
            loss="soft_l1",
            f_scale=LOSS_SCALE,
            jac=lambda x: forward_jacobian(residuals, x, residuals(x), upper),
            max_nfev=max_evaluations,
            method="trf",
        )
        for start in _starts(params, x0)
    ]
    solution = min(solutions, key=lambda s: s.cost)
    values = coords.values(solution.x)
    log.info("least squares: %s (%d evaluations)", solution.message, solution.nfev)
    coefficients = prior.coefficients.model_copy(update=values)
    predicted = predicted_for(solution.x)
    pairs = [
        (predicted[k][n], v)
        for k, stats in measured_stats.items()
        for n, v in stats.items()
        if n in predicted[k]
    ]
    errors = [math.log(got / want) for got, want in pairs]
    rel = [abs(got / want - 1) for got, want in pairs]
    fitted = tuple(p.name for p in params) + (("frontend_per_prompt_token_s",) if per_token else ())
    return FitResult(
        coefficients=coefficients,
        fitted=fitted,
        predicted=predicted,
        measured=measured_stats,
        rms_log_error=float(np.sqrt(np.mean(np.square(errors)))) if errors else 0.0,
        max_abs_relative_error=max(rel) if rel else 0.0,
        num_evaluations=evaluations,
        wall_s=time.perf_counter() - started,
    )
