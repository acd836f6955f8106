"""The planner's cost at the user's GPU prices: rankings move exactly as the $/Mtok formula says, GPUs without a price
are named rather than ranked, and a missing price is an error only where a cost is required."""

from __future__ import annotations

import pytest

from slotune.catalog import get_gpu, get_model
from slotune.catalog.prices import price_book
from slotune.cost import usd_per_mtok
from slotune.errors import InputError
from slotune.models import CapacityPlan, EngineConfig, PlanRanking
from slotune.plan import plan_capacity, rank_options
from slotune.plan.planner import throughput_per_gpu
from slotune.slo import parse_slo

MODEL = get_model("llama-3.1-8b")
ENGINE = EngineConfig(max_model_len=8192)
GPUS = ("h100", "l40s", "mi300x", "a100-40gb")


def _rank(*flags: str, tp: tuple[int, ...] = (1,), **kwargs: object) -> PlanRanking:
    return rank_options(
        MODEL,
        ENGINE,
        gpus=[get_gpu(g) for g in GPUS],
        quantizations=["fp8"],
        tensor_parallel_sizes=list(tp),
        prices=price_book(list(flags)),
        **kwargs,  # type: ignore[arg-type]
    )


def _by_gpu(ranking: PlanRanking) -> dict[str, CapacityPlan]:
    return {p.gpu: p for p in ranking.options}


def test_catalog_ranking_follows_the_formula_and_names_gpus_without_a_price() -> None:
    ranking = _rank()
    assert ranking.rank_by == "cost" and ranking.unpriced_gpus == ("a100-40gb",)
    assert [p.gpu for p in ranking.options] == ["mi300x", "h100-sxm", "l40s"]
    for plan in ranking.options:
        price = plan.cost.price
        assert price is not None and price.source == "catalog" and price.provider and price.date
        tps = plan.throughput.output_tokens_per_s
        assert tps is not None
        assert plan.cost.usd_per_mtok == usd_per_mtok(price.usd_per_gpu_hour, 1, tps)


def test_a_user_price_moves_the_ranking_exactly_at_the_break_even_price() -> None:
    catalog = _by_gpu(_rank())
    leader, h100 = catalog["mi300x"], catalog["h100-sxm"]
    assert leader.cost.usd_per_mtok is not None and h100.throughput.output_tokens_per_s is not None
    # The H100 price at which its $/Mtok equals the leader's: usd_per_mtok x tok/s x 3600 / 1e6.
    break_even = leader.cost.usd_per_mtok * h100.throughput.output_tokens_per_s * 3600 / 1e6
    below = _rank(f"h100={break_even * 0.99}")
    above = _rank(f"h100={break_even * 1.01}")
    assert [p.gpu for p in below.options] == ["h100-sxm", "mi300x", "l40s"]
    assert [p.gpu for p in above.options] == ["mi300x", "h100-sxm", "l40s"]
    user = _by_gpu(below)["h100-sxm"]
    # The price changes the cost only, by exactly the ratio of the prices.
    assert user.throughput == h100.throughput
    assert user.cost.usd_per_mtok == pytest.approx(leader.cost.usd_per_mtok * 0.99, rel=1e-12)
    assert user.cost.price is not None and user.cost.price.source == "--price"
    assert _by_gpu(below)["mi300x"].cost == leader.cost  # other GPUs keep the catalog's price


def test_a_user_price_ranks_a_gpu_the_catalog_cannot_price() -> None:
    ranking = _rank("a100-40gb=0.5")
    assert ranking.unpriced_gpus == ()
    a100 = _by_gpu(ranking)["a100-40gb"]
    assert a100.cost.price is not None and a100.cost.usd_per_hour == 0.5


def test_every_gpu_of_a_tensor_parallel_replica_is_paid_for() -> None:
    plans = {p.tensor_parallel_size: p for p in _rank("h100=2", tp=(1, 2)).options if p.gpu == "h100-sxm"}
    for tp, plan in plans.items():
        tps = plan.throughput.output_tokens_per_s
        assert tps is not None and plan.cost.num_gpus == tp and plan.cost.usd_per_hour == 2.0 * tp
        assert plan.cost.usd_per_mtok == usd_per_mtok(2.0, tp, tps)


def test_ranking_by_throughput_per_gpu_needs_no_price() -> None:
    ranking = _rank(rank_by="throughput-per-gpu", tp=(1, 2))
    assert ranking.unpriced_gpus == () and "a100-40gb" in {p.gpu for p in ranking.options}
    per_gpu = [throughput_per_gpu(p) for p in ranking.options]
    assert per_gpu == sorted(per_gpu, reverse=True)
    a100 = _by_gpu(ranking)["a100-40gb"]
    assert (
        a100.cost.price is None and a100.cost.usd_per_mtok is None and "--price" in (a100.cost.missing or "")
    )


def test_a_cost_target_leaves_unpriced_gpus_out_whatever_the_order() -> None:
    ranking = _rank(rank_by="throughput-per-gpu", slo=parse_slo("cost<10"))
    assert ranking.unpriced_gpus == ("a100-40gb",)


def test_a_missing_price_is_an_error_only_where_a_cost_is_required() -> None:
    a100 = get_gpu("a100-40gb")
    plan = plan_capacity(MODEL, a100, ENGINE)  # no cost wanted: planned, cost absent and explained
    assert plan.fits and plan.cost.price is None and plan.cost.usd_per_mtok is None
    assert "no price for a100-40gb" in (plan.cost.missing or "")
    assert any("no price for a100-40gb" in n for n in plan.verdict.notes)
    with pytest.raises(InputError, match="cost target") as err:
        plan_capacity(MODEL, a100, ENGINE, slo=parse_slo("ttft:p99<1s;cost<1"))
    assert "--price" in err.value.fix
    priced = plan_capacity(MODEL, a100, ENGINE, slo=parse_slo("cost<1"), prices=price_book(["a100-40gb=1.2"]))
    assert priced.cost.price is not None and priced.cost.usd_per_mtok is not None


def test_the_plan_judges_a_cost_target_at_its_maximum_throughput() -> None:
    plan = plan_capacity(MODEL, get_gpu("h100"), ENGINE)
    usd = plan.cost.usd_per_mtok
    assert usd is not None
    missed = plan_capacity(MODEL, get_gpu("h100"), ENGINE, slo=parse_slo(f"cost<{usd * 0.9}"))
    assert missed.verdict.meets_slo is False and any("cost<" in r for r in missed.verdict.reasons)
    met = plan_capacity(MODEL, get_gpu("h100"), ENGINE, slo=parse_slo(f"cost<{usd * 1.1}"))
    assert met.verdict.meets_slo is True


def test_input_output_and_per_request_figures_follow_the_workload_lengths() -> None:
    plan = plan_capacity(MODEL, get_gpu("h100"), ENGINE, prices=price_book(["h100=3.6"]))
    cost, throughput = plan.cost, plan.throughput
    assert cost.usd_per_mtok is not None and cost.usd_per_mtok_total is not None and cost.usd_per_request
    tokens_per_request = throughput.mean_prompt_tokens + throughput.mean_output_tokens
    assert cost.usd_per_mtok_total == pytest.approx(
        cost.usd_per_mtok * throughput.mean_output_tokens / tokens_per_request
    )
    requests_per_s = (throughput.output_tokens_per_s or 0) / throughput.mean_output_tokens
    assert cost.request_basis == "max-throughput" and cost.requests_per_s == pytest.approx(requests_per_s)
    assert cost.usd_per_request == pytest.approx(3.6 / 3600 / requests_per_s)
    assert cost.usd_per_1k_requests == pytest.approx(1000 * cost.usd_per_request)
    names = {d.name: d.value for d in plan.derivations}
    assert names["usd_per_mtok_total"] == pytest.approx(cost.usd_per_mtok_total)
    assert names["usd_per_1k_requests"] == pytest.approx(cost.usd_per_1k_requests)
