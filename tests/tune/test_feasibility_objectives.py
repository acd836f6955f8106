"""Pruning before any run, the objectives and the Pareto frontier, the recommendation's flags."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from slotune.launch.flags import ParserSpec, check_flags
from slotune.models import EngineConfig, PriceUsed
from slotune.models.tune import AtCapacity, Candidate, CapacityResult, Objectives, TunePoint
from slotune.tune.feasibility import check_feasible
from slotune.tune.objectives import objectives_of, pareto_front
from slotune.tune.recommend import recommend

PARSERS = Path(__file__).parents[1] / "launch" / "data"


def test_vllm_refusals_and_misfits_are_pruned_with_the_reason() -> None:
    h100 = Candidate(model="llama-3.1-8b", gpu="h100")
    assert check_feasible(h100, EngineConfig(max_num_seqs=256, max_num_batched_tokens=512)).reason is None
    refused = check_feasible(h100, EngineConfig(max_num_seqs=1024, max_num_batched_tokens=512)).reason
    assert refused is not None and "max_num_batched_tokens" in refused and "vLLM refuses" in refused
    no_chunks = check_feasible(h100, EngineConfig(enable_chunked_prefill=False, max_num_batched_tokens=4096))
    assert no_chunks.reason is not None and "chunked prefill" in no_chunks.reason
    misfit = check_feasible(Candidate(model="llama-3.1-70b", gpu="l4"), EngineConfig())
    assert misfit.reason is not None and misfit.resolved is None


def _capacity(rate: float, goodput: float, tpot: float) -> CapacityResult:
    at = AtCapacity(
        rate_rps=rate,
        attainment=1.0,
        goodput_rps=goodput,
        goodput_output_tokens_per_s=goodput * 100,
        output_tokens_per_s=goodput * 100,
        tpot_p50_s=tpot,
    )
    return CapacityResult(max_rate_rps=rate, at_capacity=at)


def test_objectives_count_every_gpu_and_replica() -> None:
    price = PriceUsed(gpu="h100-sxm", usd_per_gpu_hour=3.6, source="--price")
    two = Candidate(model="m", gpu="h100", tensor_parallel_size=1, replicas=2)
    obj = objectives_of(two, _capacity(5.0, 5.0, 0.02), price, target_rate_rps=22.0)
    assert obj is not None
    assert obj.goodput_rps == 10.0 and obj.goodput_per_gpu_hour == 5.0 * 3600
    # 2 GPUs x $3.6/h over 1,000 tokens/s = $7.2 / 3.6 Mtok = $2 per Mtok.
    assert obj.usd_per_mtok is not None and abs(obj.usd_per_mtok - 2.0) < 1e-9
    assert obj.replicas_for_rate == 5 and obj.gpus_for_rate == 5
    assert objectives_of(two, CapacityResult(max_rate_rps=0.0), price, None) is None


def _point(trial: int, usd: float, tpot: float) -> TunePoint:
    return TunePoint(
        trial=trial,
        backend="simulator",
        candidate=Candidate(model="llama-3.1-8b", gpu="h100"),
        params={"max_num_seqs": 64 * (trial + 1)},
        engine_config=EngineConfig(max_num_seqs=64 * (trial + 1)),
        capacity=_capacity(1.0, 1.0, tpot),
        objectives=Objectives(
            goodput_rps=1.0,
            goodput_per_gpu_hour=3600 / usd,
            goodput_output_tokens_per_s=100,
            usd_per_mtok=usd,
            tpot_p50_s=tpot,
        ),
    )


def test_the_frontier_keeps_the_points_no_other_beats_on_both() -> None:
    points = [_point(0, 1.0, 0.05), _point(1, 2.0, 0.02), _point(2, 2.5, 0.03), _point(3, 0.9, 0.06)]
    assert pareto_front(points, "cost") == (3, 0, 1)  # point 2 is beaten by point 1 on both


def test_the_recommendation_spells_out_every_flag_and_vllm_accepts_them() -> None:
    rec = recommend(
        [_point(0, 1.0, 0.05), _point(1, 0.5, 0.08)], "cost", served_model="meta-llama/Llama-3.1-8B"
    )
    assert rec is not None and rec.point.trial == 1  # the cheaper one
    config = yaml.safe_load(rec.vllm_yaml)
    assert config["max-num-seqs"] == 128 and config["max-num-batched-tokens"] == 8192  # resolved for the H100
    assert config["enforce-eager"] is False and config["enable-prefix-caching"] is True
    args = rec.command_line.split()[3:]
    assert "--no-enforce-eager" in args and "--max-model-len" in args
    for version in ("0.25.0", "0.32.0"):
        spec = ParserSpec.from_dump(json.loads((PARSERS / f"vllm_parser_{version}.json").read_text()))
        check_flags(args, spec)  # raises InputError on any flag this vLLM would refuse


def test_with_real_measurements_only_measured_points_compete_and_their_measurement_ranks_them() -> None:
    from slotune.tune.space import point_key

    simulated = [_point(0, 1.0, 0.05), _point(1, 0.7, 0.05), _point(2, 0.5, 0.05)]  # 2 looks cheapest
    # The engine measured points 0 and 1 only; point 1 came out dearer than simulated, 0 as simulated.
    dearer = simulated[1].model_copy(
        update={
            "backend": "vllm",
            "objectives": simulated[1].objectives.model_copy(update={"usd_per_mtok": 1.4}),  # type: ignore[union-attr]
        }
    )
    measured = {
        point_key(simulated[0].candidate, simulated[0].engine_config): simulated[0].model_copy(
            update={"backend": "vllm"}
        ),
        point_key(dearer.candidate, dearer.engine_config): dearer,
    }
    rec = recommend(simulated, "cost", measured=measured)
    # Not the unconfirmed point 2 (cheapest only on paper), not point 1 (its measurement is dearer): point 0.
    assert rec is not None and rec.point.trial == 0 and rec.measured is not None
    assert rec.measured.backend == "vllm"
    # Without measurements the simulation ranks: point 2.
    assert recommend(simulated, "cost").point.trial == 2  # type: ignore[union-attr]
