"""What a cost figure was computed from: the GPU price used (and where it came from), and the figures themselves.

Every cost slotune prints carries its `PriceUsed`, so a number is never separated from the bill it assumes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from slotune.models.base import Frozen

# Where a price came from: a --price flag, the --prices file, the SLOTUNE_PRICES file, or the GPU catalog.
PriceSource = Literal["--price", "--prices", "SLOTUNE_PRICES", "catalog"]
# Kinds a user's prices file may state; the catalog also holds market figures (median, range-low, ...).
USER_PRICE_KINDS = ("on-demand", "reserved", "spot")
# Which rate the per-request figures divide by: the planner's roofline maximum, a run's completed requests,
# or a run's requests that met every SLO target (goodput).
RequestBasis = Literal["max-throughput", "throughput", "goodput"]


class PriceUsed(Frozen):
    """One GPU's hourly price as a cost figure used it."""

    gpu: str  # catalog id
    usd_per_gpu_hour: float = Field(gt=0)
    source: PriceSource
    file: str | None = None  # the prices file, for --prices and SLOTUNE_PRICES
    provider: str = ""
    date: str | None = None  # YYYY-MM or YYYY-MM-DD; None where the user gave none
    kind: str = "on-demand"
    reference: str = ""  # the catalog's citation, or the user's note
    # A catalog price more than a year old on the day it was used.
    stale: bool = False


class PriceBook(Frozen):
    """The user's GPU prices by catalog GPU id (from --price, --prices or SLOTUNE_PRICES); the catalog's first
    dated price fills in every GPU not listed here."""

    prices: dict[str, PriceUsed] = Field(default_factory=dict)


class CostReport(Frozen):
    """A deployment's cost at one GPU price: every GPU it holds is paid for, busy or idle.

    Token figures divide by the output (or input + output) token rate; request figures by `requests_per_s`,
    which `request_basis` names. Without a price (or a rate) the figures are None and `missing` says why."""

    price: PriceUsed | None = None
    missing: str | None = None
    num_gpus: int = Field(ge=1)
    usd_per_hour: float | None = None
    output_tokens_per_s: float | None = None
    total_tokens_per_s: float | None = None  # prompt + output tokens
    requests_per_s: float | None = None
    request_basis: RequestBasis
    usd_per_mtok: float | None = None  # per million output tokens
    usd_per_mtok_total: float | None = None  # per million input + output tokens
    usd_per_request: float | None = None
    usd_per_1k_requests: float | None = None
