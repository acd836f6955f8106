"""GPU price options for every command that computes a cost, and the words every command prints about a cost.

`@price_options` gives a command `--price GPU=USD_PER_HOUR` (repeatable) and `--prices FILE` (default: the file
SLOTUNE_PRICES names) and hands it one validated PriceBook as its `prices` argument. It composes with
`@engine_options` (put it below).
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from slotune.catalog.price_flags import PRICES_ENV
from slotune.cli.output import err_console
from slotune.cli.signature import own_parameters, set_parameters

if TYPE_CHECKING:
    from slotune.models import CostReport, PriceUsed

PRICE_PANEL = "GPU prices (cost figures)"
PRICE_HELP = (
    "Your price of one GPU-hour in USD, e.g. --price h100=1.90; repeat for several GPUs. Overrides --prices and "
    "the catalog."
)
PRICES_HELP = (
    f"YAML file mapping GPU ids to prices (usd_per_gpu_hour, provider, date, kind: on-demand/reserved/spot). "
    f"Default: the file {PRICES_ENV} names. GPUs it does not list use the catalog's dated price."
)
R = TypeVar("R")

_PARAMS = (
    inspect.Parameter(
        "price_flags",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Option(
            None, "--price", metavar="GPU=USD_PER_HOUR", help=PRICE_HELP, rich_help_panel=PRICE_PANEL
        ),
        annotation=list[str] | None,
    ),
    inspect.Parameter(
        "prices_file",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Option(None, "--prices", metavar="FILE", help=PRICES_HELP, rich_help_panel=PRICE_PANEL),
        annotation=Path | None,
    ),
)


def price_options(command: Callable[..., R]) -> Callable[..., R]:
    """Replace the command's `prices` parameter with --price/--prices; the command gets a PriceBook."""
    own = own_parameters(command, "prices")

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> R:
        from slotune.catalog.prices import price_book

        book = price_book(kwargs.pop("price_flags") or (), kwargs.pop("prices_file"), os.environ)
        return command(**kwargs, prices=book)

    set_parameters(wrapper, [*own, *_PARAMS])
    return wrapper


def warn_stale(prices: Iterable[PriceUsed | None]) -> None:
    """One warning on stderr per catalog price more than a year old (stdout stays machine-readable)."""
    from slotune.catalog.prices import stale_warning

    seen: set[str] = set()
    for price in prices:
        if price is not None and price.stale and price.gpu not in seen:
            seen.add(price.gpu)
            err_console.print(f"[yellow]warning:[/] {stale_warning(price)}", highlight=False, soft_wrap=True)


def _usd(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"${value:,.{digits}f}"


_BASIS = {
    "max-throughput": "at the roofline maximum throughput",
    "throughput": "at the measured request throughput",
    "goodput": "at the SLO's goodput",
}


def cost_lines(cost: CostReport) -> list[str]:
    """The cost in words: the figures, then the price they used (or why there is no cost)."""
    from slotune.cost import describe_price

    if cost.price is None:
        return [f"none: {cost.missing}"]
    if cost.usd_per_mtok is None:
        lines = [f"none: {cost.missing or 'no output tokens were produced'}"]
    else:
        lines = [
            f"{_usd(cost.usd_per_mtok)} per million output tokens, {_usd(cost.usd_per_mtok_total)} per million "
            f"input+output tokens (at {cost.output_tokens_per_s or 0:,.0f} output tok/s)"
        ]
    if cost.usd_per_request is not None:
        lines.append(
            f"{_usd(cost.usd_per_request, 6)} per request, {_usd(cost.usd_per_1k_requests)} per 1,000 requests "
            f"{_BASIS[cost.request_basis]} ({cost.requests_per_s or 0:,.3g} req/s)"
        )
    elif cost.request_basis == "goodput" and cost.usd_per_mtok is not None:
        lines.append("no cost per request: no request met the SLO")
    gpus = f"{cost.num_gpus} GPU{'s' if cost.num_gpus > 1 else ''}"
    lines.append(f"{gpus} x {describe_price(cost.price)} = ${cost.usd_per_hour or 0:,.2f}/h")
    return lines
