"""The one $/Mtok formula."""

from __future__ import annotations

import pytest

from slotune.cost import usd_per_mtok


def test_usd_per_mtok_by_hand() -> None:
    # $4.76 per GPU-hour x 2 GPUs at 5,000 tok/s: $9.52 per 18e6 tokens = $0.5289 per million
    assert usd_per_mtok(4.76 * 2, 5000) == pytest.approx(9.52 / 18.0)


@pytest.mark.parametrize("rate", [0.0, -1.0])
def test_no_output_has_no_cost_per_token(rate: float) -> None:
    assert usd_per_mtok(4.76, rate) is None
