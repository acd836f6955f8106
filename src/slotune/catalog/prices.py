"""GPU prices: the user's own (--price GPU=USD_PER_HOUR, a --prices file, the SLOTUNE_PRICES file), the catalog's
first dated price as the fallback, and which one a cost used.

A prices file maps GPU ids (or aliases) to a price, checked like the catalog (a misspelt key is an error naming
the closest valid one):

    h100:
      usd_per_gpu_hour: 1.90
      provider: our cluster
      date: 2026-06          # YYYY-MM or YYYY-MM-DD
      kind: reserved         # on-demand, reserved or spot
      note: 3-year commitment
    l40s: 0.85               # a bare number: the price per GPU-hour, nothing else known
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator

from slotune.catalog._schema import check_model_keys
from slotune.catalog.gpus import get_gpu
from slotune.catalog.price_flags import PRICE_FLAG, PRICES_ENV, PRICES_FLAG
from slotune.errors import InputError
from slotune.models import GpuSpec, PriceBook, PriceSource, PriceUsed
from slotune.models.base import Frozen

_DATE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")
PRICE_FIX = f"give {PRICE_FLAG} GPU=USD_PER_HOUR (e.g. {PRICE_FLAG} h100=1.90) or {PRICES_FLAG} FILE"


class _FileEntry(Frozen):
    """One GPU's entry in a prices file (the file's schema)."""

    usd_per_gpu_hour: float = Field(gt=0)
    provider: str = ""
    date: str | None = None
    kind: Literal["on-demand", "reserved", "spot"] = "on-demand"
    note: str = ""

    @field_validator("date", mode="before")
    @classmethod
    def _date_text(cls, value: object) -> object:
        if isinstance(value, dt.date):  # YAML reads 2026-06-01 as a date
            return value.isoformat()
        if isinstance(value, str) and parse_price_date(value) is None:
            raise ValueError("a date is YYYY-MM or YYYY-MM-DD, e.g. 2026-06")
        return value


def parse_price_date(text: str) -> dt.date | None:
    """The day a price's date stands for (the first of the month for YYYY-MM); None when malformed."""
    match = _DATE.match(text.strip())
    if match is None:
        return None
    year, month, day = match.groups()
    try:
        return dt.date(int(year), int(month), int(day or 1))
    except ValueError:
        return None


def is_older_than_a_year(date_text: str | None, today: dt.date) -> bool:
    day = parse_price_date(date_text) if date_text else None
    if day is None:
        return False
    year_ago = today.replace(year=today.year - 1, day=min(today.day, 28) if today.month == 2 else today.day)
    return day < year_ago


def current_date() -> dt.date:
    """The day a price's age is judged on (a seam: tests set the clock here)."""
    return dt.date.today()


def catalog_price(gpu: GpuSpec, *, today: dt.date | None = None) -> PriceUsed | None:
    """The catalog's first (default) dated price, marked stale when more than a year old; None without one."""
    if not gpu.prices:
        return None
    point = gpu.prices[0]
    return PriceUsed(
        gpu=gpu.name,
        usd_per_gpu_hour=point.usd_per_gpu_hour,
        source="catalog",
        provider=point.provider,
        date=point.date,
        kind=point.kind,
        reference=point.source,
        stale=is_older_than_a_year(point.date, today or current_date()),
    )


def price_for(
    gpu: GpuSpec, book: PriceBook | None = None, *, today: dt.date | None = None
) -> PriceUsed | None:
    """The user's price for this GPU where they gave one, else the catalog's; None when neither has one."""
    if book is not None and gpu.name in book.prices:
        return book.prices[gpu.name]
    return catalog_price(gpu, today=today)


def missing_price(gpu: str) -> str:
    """Why a cost is absent for a GPU (catalog id) without a price, with the flags that supply one."""
    return f"no price for {gpu} (the catalog has none): {PRICE_FIX}"


def require_price(
    gpu: GpuSpec, book: PriceBook | None, why: str, *, today: dt.date | None = None
) -> PriceUsed:
    """The price of a GPU where a cost is required (`why`: e.g. "the SLO has a cost target"); InputError if none."""
    price = price_for(gpu, book, today=today)
    if price is None:
        raise InputError(
            "price", gpu.name, PRICE_FIX, problem=f"{why}, and {gpu.name} has no price in the catalog"
        )
    return price


def stale_warning(price: PriceUsed) -> str:
    return (
        f"the catalog price of {price.gpu} (${price.usd_per_gpu_hour:g}/GPU-h, {price.provider}, {price.date}) "
        f"is more than a year old: {PRICE_FIX}"
    )


def _gpu_id(name: str, field: str) -> str:
    try:
        return get_gpu(name).name
    except InputError as exc:
        raise InputError(field, name, exc.fix, problem="unknown GPU") from exc


def parse_price_flag(text: str) -> PriceUsed:
    """`--price GPU=USD_PER_HOUR`, e.g. `h100=1.90`."""
    gpu, sep, value = text.partition("=")
    try:
        usd = float(value) if sep else None
    except ValueError:
        usd = None
    if usd is None or not usd > 0 or not gpu.strip():
        raise InputError(
            PRICE_FLAG, text, f"write GPU=USD_PER_HOUR with a positive price, e.g. {PRICE_FLAG} h100=1.90"
        )
    return PriceUsed(gpu=_gpu_id(gpu.strip(), PRICE_FLAG), usd_per_gpu_hour=usd, source="--price")


def _read_yaml(path: Path, field: str, fix: str) -> dict[object, object]:
    if not path.is_file():
        raise InputError(field, str(path), fix, problem="no such file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(field, str(path), fix, problem=f"not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise InputError(field, str(path), fix, problem="the file must map GPU ids to prices")
    return data


def load_prices_file(path: Path, source: PriceSource = "--prices") -> dict[str, PriceUsed]:
    """A prices file's entries by catalog GPU id (aliases resolved); every mistake is an InputError naming the
    file, the GPU and the key."""
    where = PRICES_FLAG if source == "--prices" else PRICES_ENV
    fix = f"give {where} a YAML file mapping GPU ids to prices (see `slotune plan --help`)"
    prices: dict[str, PriceUsed] = {}
    for key, raw in _read_yaml(path, where, fix).items():
        gpu = _gpu_id(str(key), f"{path}: {key}")
        entry_data = {"usd_per_gpu_hour": raw} if isinstance(raw, int | float) else raw
        check_model_keys(entry_data, _FileEntry, file=str(path), entry=str(key))
        try:
            entry = _FileEntry.model_validate(entry_data)
        except ValidationError as exc:
            raise InputError.from_validation(
                exc,
                field=f"{path}: {key}",
                fix="give usd_per_gpu_hour > 0, date YYYY-MM, kind on-demand, reserved or spot",
            ) from exc
        if gpu in prices:
            raise InputError(f"{path}: {key}", raw, f"list {gpu} once (its aliases name the same GPU)")
        prices[gpu] = PriceUsed(
            gpu=gpu,
            usd_per_gpu_hour=entry.usd_per_gpu_hour,
            source=source,
            file=str(path),
            provider=entry.provider,
            date=entry.date,
            kind=entry.kind,
            reference=entry.note,
        )
    return prices


def price_book(
    flags: Sequence[str] = (), file: Path | None = None, environ: Mapping[str, str] | None = None
) -> PriceBook:
    """The user's prices: --price flags over the --prices file, which replaces the SLOTUNE_PRICES file."""
    prices: dict[str, PriceUsed] = {}
    env_file = (environ or {}).get(PRICES_ENV, "").strip()
    if file is not None:
        prices.update(load_prices_file(file, "--prices"))
    elif env_file:
        prices.update(load_prices_file(Path(env_file), "SLOTUNE_PRICES"))
    given: set[str] = set()
    for text in flags:
        price = parse_price_flag(text)
        if price.gpu in given:
            raise InputError(PRICE_FLAG, text, f"give one {PRICE_FLAG} per GPU ({price.gpu} is given twice)")
        given.add(price.gpu)
        prices[price.gpu] = price
    return PriceBook(prices=prices)
