"""The search space: the seed's tiers, the workload's lengths, candidates, and what is fixed."""

from __future__ import annotations

from pathlib import Path

import pytest

from slotune.catalog import get_model
from slotune.errors import InputError
from slotune.models import EngineConfig, RequestSpec, Workload
from slotune.tune.search import nearest_choice, tier_walk
from slotune.tune.space import (
    build_space,
    layouts,
    max_model_len_choices,
    parse_space_overrides,
    point_key,
    seed_settings,
    to_point,
)
from slotune.workload.io import read_workload

SLICE = Path(__file__).parents[1] / "data" / "azure_conv_replay_20.csv"
MODEL = get_model("llama-3.1-8b")


def _workload(totals: list[tuple[int, int]]) -> Workload:
    return Workload(
        name="w",
        requests=tuple(
            RequestSpec(request_id=str(i), arrival_s=float(i), prompt_tokens=p, output_tokens=o)
            for i, (p, o) in enumerate(totals)
        ),
    )


def _space(**kwargs: object):  # type: ignore[no-untyped-def]
    args = dict(
        workload=read_workload(SLICE),
        model=MODEL,
        gpus=["h100"],
        quantizations=[None],
        layout_choices=["1x1"],
        speculative=[None],
        tiers=[1, 2, 3],
        overrides={},
    )
    return build_space(**(args | kwargs))  # type: ignore[arg-type]


def test_max_model_len_from_the_workload_with_margin_and_the_models_context() -> None:
    work = _workload([(1000, 200)] * 99 + [(5000, 100)])  # p99 total 1,200; longest 5,100
    assert max_model_len_choices(work, MODEL) == (2048, 5120, 131072)
    assert seed_settings(work, MODEL)["max_model_len"] == 5120  # holds every request


def test_dimensions_come_in_tier_order_and_unsearched_tiers_take_the_seeds_settings() -> None:
    full = _space()
    tiers = [d.tier for d in full.dimensions]
    assert tiers == sorted(tiers) and set(tiers) == {1, 2, 3}
    assert [d.name for d in full.dimensions if d.tier == 1] == [
        "max_model_len",
        "enforce_eager",
        "enable_prefix_caching",
    ]
    first = _space(tiers=[1])
    assert {d.tier for d in first.dimensions} == {1}
    # Tier 2 flags not searched: the seed's settings where it has one, vLLM's defaults (left unset) otherwise.
    assert first.fixed["gpu_memory_utilization"] == 0.9 and first.fixed["enable_chunked_prefill"] is True
    assert "max_num_seqs" not in first.fixed


def test_candidates_with_several_choices_are_searched() -> None:
    space = _space(gpus=["h100", "a100-80gb"], layout_choices=layouts([2], [1, 2]))
    dims = {d.name: d for d in space.dimensions}
    assert dims["gpu"].tier == 0 and dims["layout"].choices == ("1x2", "2x1")
    candidate, config = to_point(
        {**space.fixed, "gpu": "h100", "layout": "2x1"}, model="llama-3.1-8b", base=EngineConfig()
    )
    assert candidate.num_gpus == 2 and config.tensor_parallel_size == 2


def test_space_overrides_parse_and_bad_ones_name_the_flag() -> None:
    assert parse_space_overrides(["max_num_seqs=64,128", "enforce-eager=off"]) == {
        "max_num_seqs": (64, 128),
        "enforce_eager": (False,),
    }
    with pytest.raises(InputError, match="--space"):
        parse_space_overrides(["max_num_seqs=lots"])
    with pytest.raises(InputError, match="NAME=V1,V2"):
        parse_space_overrides(["frobnicate=1"])


def test_the_base_config_is_kept_and_the_same_configuration_has_one_key() -> None:
    base = EngineConfig(block_size=32)
    a = to_point({"gpu": "h100", "max_num_seqs": 64}, model="m", base=base)
    b = to_point({"max_num_seqs": 64, "gpu": "h100"}, model="m", base=base)
    assert a[1].block_size == 32 and point_key(*a) == point_key(*b)
    assert point_key(*a) != point_key(*to_point({"gpu": "h100", "max_num_seqs": 128}, model="m", base=base))


def test_the_tier_walk_starts_at_the_seed_and_varies_one_flag_at_a_time() -> None:
    space = _space(tiers=[1, 2])
    start = {
        "max_num_seqs": 1024,
        "max_num_batched_tokens": 8192,
        **seed_settings(read_workload(SLICE), MODEL),
    }
    walk = tier_walk(space, start)
    origin = walk[0]
    assert origin["max_num_seqs"] == 1024 and origin["enforce_eager"] is False
    for params in walk[1:]:
        assert sum(params[k] != origin[k] for k in origin) == 1
    assert nearest_choice((256, 512, 1024), 700) == 512


def test_flags_given_on_the_command_line_are_kept_not_searched_nor_replaced_by_the_seed() -> None:
    from slotune.models import LoadSpec
    from slotune.slo import resolve_slo
    from slotune.tune.api import TuneOptions, _space, pinned_flags

    base = EngineConfig.model_validate({"max_model_len": 2048, "max_num_seqs": 8, "block_size": 32})
    # block_size is not a searched flag: the base config carries it; the two searched ones become one choice.
    assert pinned_flags(base) == {"max_model_len": (2048,), "max_num_seqs": (8,)}
    opts = TuneOptions(
        model="llama-3.1-8b",
        gpus=["h100"],
        workload=read_workload(SLICE),
        slo=resolve_slo("interactive-chat"),
        load=LoadSpec(kind="rate", rate_rps=1.0),
        storage="sqlite://",
        base=base,
        tiers=(1, 2),
    )
    space = _space(opts)
    names = {d.name for d in space.dimensions}
    assert "max_model_len" not in names and "max_num_seqs" not in names
    assert "max_num_batched_tokens" in names  # the rest of tier 2 is still searched
    assert space.fixed["max_model_len"] == 2048 and space.fixed["max_num_seqs"] == 8
    # --space still searches a flag that is also given
    searched = _space(TuneOptions(**{**opts.__dict__, "space_overrides": {"max_num_seqs": (8, 16)}}))
    assert "max_num_seqs" in {d.name for d in searched.dimensions}
