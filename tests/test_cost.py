"""The one cost formula and the cost report built from it: every GPU paid for, figures None rather than infinite."""

from __future__ import annotations

import pytest

from slotune.cost import cost_report, describe_price, usd_per_mtok, usd_per_request
from slotune.models import PriceUsed


def _price(usd: float = 2.0, **extra: object) -> PriceUsed:
    fields: dict[str, object] = {"source": "--price", **extra}
    return PriceUsed(gpu="h100-sxm", usd_per_gpu_hour=usd, **fields)  # type: ignore[arg-type]


def test_formulas_by_hand() -> None:
    # 2 GPUs x $3/h = $6/h; 1,000 tok/s = 3.6 M tok/h -> $6 / 3.6 = $1.6667 per Mtok
    assert usd_per_mtok(3.0, 2, 1000.0) == pytest.approx(6.0 / 3.6)
    # 2 req/s = 7,200 req/h -> $6 / 7,200 per request
    assert usd_per_request(3.0, 2, 2.0) == pytest.approx(6.0 / 7200)
    assert usd_per_mtok(3.0, 2, 0.0) == float("inf") and usd_per_request(3.0, 2, 0.0) == float("inf")


def test_every_gpu_of_the_deployment_is_paid_for() -> None:
    rates = {"output_tokens_per_s": 500.0, "total_tokens_per_s": 2000.0, "requests_per_s": 1.0}
    one, eight = (cost_report(_price(), n, request_basis="throughput", **rates) for n in (1, 8))
    assert eight.usd_per_hour == pytest.approx(16.0) and one.usd_per_hour == pytest.approx(2.0)
    for field in ("usd_per_mtok", "usd_per_mtok_total", "usd_per_request", "usd_per_1k_requests"):
        assert getattr(eight, field) == pytest.approx(8 * getattr(one, field)), field
    assert one.usd_per_mtok == pytest.approx(4 * one.usd_per_mtok_total)  # 500 of 2,000 tokens are output
    assert one.usd_per_1k_requests == pytest.approx(1000 * one.usd_per_request)


def test_no_price_no_rate_and_zero_rate() -> None:
    none = cost_report(
        None, 2, output_tokens_per_s=1.0, total_tokens_per_s=2.0, requests_per_s=0.1, request_basis="goodput",
        missing="no price for a100-40gb",
    )  # fmt: skip
    assert none.price is None and none.usd_per_hour is None and none.usd_per_mtok is None
    assert none.missing == "no price for a100-40gb" and none.output_tokens_per_s == 1.0
    zero = cost_report(
        _price(),
        1,
        output_tokens_per_s=0.0,
        total_tokens_per_s=None,
        requests_per_s=0.0,
        request_basis="goodput",
    )
    assert zero.usd_per_mtok is None and zero.usd_per_mtok_total is None and zero.usd_per_request is None
    assert zero.usd_per_hour == pytest.approx(2.0)


def test_describe_price_names_value_source_date_and_kind() -> None:
    catalog = PriceUsed(
        gpu="h100-sxm", usd_per_gpu_hour=4.76, source="catalog", provider="RunPod", date="2026-03",
        reference="deploybase.ai",
    )  # fmt: skip
    assert describe_price(catalog) == "$4.76/GPU-h, RunPod, on-demand, 2026-03 (catalog: deploybase.ai)"
    assert describe_price(_price(1.9)) == "$1.90/GPU-h, on-demand, undated (--price h100-sxm=1.9)"
    filed = _price(1.006, source="--prices", file="p.yaml", kind="reserved", date="2026-06", provider="us")
    assert describe_price(filed) == "$1.006/GPU-h, us, reserved, 2026-06 (--prices p.yaml)"
