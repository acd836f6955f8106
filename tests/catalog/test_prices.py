"""The user's GPU prices: --price flags, prices files checked like the catalog, SLOTUNE_PRICES, the catalog fallback
and its age."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from slotune.catalog import get_gpu
from slotune.catalog.prices import (
    catalog_price,
    is_older_than_a_year,
    load_prices_file,
    parse_price_flag,
    price_book,
    price_for,
    require_price,
)
from slotune.errors import InputError
from slotune.models import PricePoint

NOV_2026 = dt.date(2026, 11, 30)


def _write(tmp_path: Path, text: str, name: str = "prices.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_price_flag_resolves_the_gpu_alias() -> None:
    price = parse_price_flag("h100=1.90")
    assert (price.gpu, price.usd_per_gpu_hour, price.source) == ("h100-sxm", 1.9, "--price")


@pytest.mark.parametrize(
    ("text", "field", "hint"),
    [
        ("h100", "--price", "GPU=USD_PER_HOUR"),
        ("h100=cheap", "--price", "GPU=USD_PER_HOUR"),
        ("h100=-1", "--price", "positive"),
        ("=2", "--price", "GPU=USD_PER_HOUR"),
        ("h1000=2", "--price", "h100-sxm"),
    ],
)
def test_bad_price_flags_are_clear_errors(text: str, field: str, hint: str) -> None:
    with pytest.raises(InputError, match=hint) as err:
        parse_price_flag(text)
    assert err.value.field == field and err.value.exit_code == 2


def test_a_prices_file_full_entries_and_bare_numbers(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "h100:\n  usd_per_gpu_hour: 1.90\n  provider: our cluster\n  date: 2026-06\n  kind: reserved\n"
        "  note: 3-year commitment\nl40s: 0.85\nnvidia a100-sxm4-80gb:\n  usd_per_gpu_hour: 1.2\n"
        "  date: 2026-06-15\n  kind: spot\n",
    )
    prices = load_prices_file(path)
    assert set(prices) == {"h100-sxm", "l40s", "a100-80gb"}
    h100 = prices["h100-sxm"]
    assert (h100.usd_per_gpu_hour, h100.provider, h100.date, h100.kind) == (
        1.9,
        "our cluster",
        "2026-06",
        "reserved",
    )
    assert (h100.source, h100.file, h100.reference, h100.stale) == (
        "--prices",
        str(path),
        "3-year commitment",
        False,
    )
    assert prices["l40s"].usd_per_gpu_hour == 0.85 and prices["l40s"].kind == "on-demand"
    assert prices["a100-80gb"].date == "2026-06-15"  # YAML's date, kept as text


@pytest.mark.parametrize(
    ("text", "field", "hint"),
    [
        ("h100:\n  usd_per_gpu_hr: 1.9\n", "h100.usd_per_gpu_hr", "did you mean 'usd_per_gpu_hour'"),
        ("h100:\n  usd_per_gpu_hour: 1.9\n  kind: lease\n", "h100.kind", "on-demand, reserved or spot"),
        ("h100:\n  usd_per_gpu_hour: 1.9\n  date: June\n", "h100.date", "YYYY-MM"),
        ("h100:\n  usd_per_gpu_hour: 1.9\n  date: 2026-13\n", "h100.date", "YYYY-MM"),
        ("h100: 0\n", "h100.usd_per_gpu_hour", "usd_per_gpu_hour > 0"),
        ("h100:\n  provider: x\n", "h100.usd_per_gpu_hour", "usd_per_gpu_hour > 0"),
        ("h1000: 1.9\n", "h1000", "h100-sxm"),
        ("h100: 1.9\nh100-sxm: 2.0\n", "h100-sxm", "list h100-sxm once"),
    ],
)
def test_prices_file_mistakes_name_the_file_gpu_and_key(
    tmp_path: Path, text: str, field: str, hint: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=hint) as err:
        load_prices_file(path)
    assert err.value.field.startswith(str(path)) and err.value.field.endswith(field), err.value.field


@pytest.mark.parametrize("text", ["- h100\n- 1.9\n", "h100: [1.9\n"])
def test_a_prices_file_that_is_not_a_mapping_is_a_clear_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(InputError, match="--prices") as err:
        load_prices_file(_write(tmp_path, text))
    assert err.value.field == "--prices"


def test_a_missing_file_names_where_it_came_from(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file") as err:
        price_book(environ={"SLOTUNE_PRICES": str(tmp_path / "gone.yaml")})
    assert err.value.field == "SLOTUNE_PRICES"


def test_flags_over_the_file_and_the_file_over_slotune_prices(tmp_path: Path) -> None:
    env_file = _write(tmp_path, "h100: 3.0\nl4: 0.5\n", "env.yaml")
    given = _write(tmp_path, "h100: 2.0\nl40s: 0.9\n", "given.yaml")
    from_env = price_book(environ={"SLOTUNE_PRICES": str(env_file)})
    assert {g: p.source for g, p in from_env.prices.items()} == {
        "h100-sxm": "SLOTUNE_PRICES",
        "l4": "SLOTUNE_PRICES",
    }
    # --prices replaces the default file (not merged with it); --price overrides both
    book = price_book(["h100=1.5"], given, {"SLOTUNE_PRICES": str(env_file)})
    assert {g: (p.usd_per_gpu_hour, p.source) for g, p in book.prices.items()} == {
        "h100-sxm": (1.5, "--price"),
        "l40s": (0.9, "--prices"),
    }
    with pytest.raises(InputError, match="one --price per GPU"):
        price_book(["h100=1.5", "h100-sxm=1.6"])


def test_the_catalog_is_the_fallback_and_a_gpu_may_have_no_price() -> None:
    book = price_book(["l40s=0.9"])
    h100 = price_for(get_gpu("h100"), book, today=NOV_2026)
    assert h100 is not None and h100.source == "catalog"
    assert (h100.usd_per_gpu_hour, h100.provider, h100.date) == (4.76, "RunPod", "2026-03") and not h100.stale
    assert price_for(get_gpu("l40s"), book) == book.prices["l40s"]
    assert price_for(get_gpu("a100-40gb"), book) is None
    with pytest.raises(InputError, match="the SLO has a cost target, and a100-40gb has no price") as err:
        require_price(get_gpu("a100-40gb"), book, "the SLO has a cost target")
    assert "--price GPU=USD_PER_HOUR" in err.value.fix and err.value.exit_code == 2


def test_a_catalog_price_more_than_a_year_old_is_stale() -> None:
    assert is_older_than_a_year("2025-11", NOV_2026)  # 2025-11-01 < 2025-11-30
    assert not is_older_than_a_year("2025-12", NOV_2026)
    assert is_older_than_a_year("2025-11-29", NOV_2026) and not is_older_than_a_year("2025-11-30", NOV_2026)
    leap_day = dt.date(2028, 2, 29)  # a year before it has no Feb 29
    assert is_older_than_a_year("2027-02-27", leap_day) and not is_older_than_a_year("2027-02-28", leap_day)
    assert not is_older_than_a_year(None, NOV_2026)
    old = get_gpu("h100").model_copy(
        update={
            "prices": (PricePoint(usd_per_gpu_hour=4.25, provider="CoreWeave", date="2024-02", source="x"),)
        }
    )
    price = catalog_price(old, today=NOV_2026)
    assert price is not None and price.stale
    assert catalog_price(get_gpu("h100"), today=dt.date(2027, 3, 2)).stale  # type: ignore[union-attr]
