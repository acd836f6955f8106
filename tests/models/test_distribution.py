import numpy as np
import pytest

from slotune.models import Distribution


def test_statistics_are_numpys_on_the_sample():
    values = np.random.default_rng(0).lognormal(size=1001)
    d = Distribution.of(values)
    assert d.count == 1001
    assert d.mean == pytest.approx(values.mean()) and (d.min, d.max) == (values.min(), values.max())
    for name, q in (("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99)):
        assert d.stat(name) == pytest.approx(np.percentile(values, q))
        assert d.require(name) == d.stat(name)


def test_an_empty_sample_has_a_count_and_no_statistics():
    d = Distribution.of([])
    assert d == Distribution(count=0) and d.stat("p99") is None and d.stat("mean") is None
    with pytest.raises(ValueError, match="no p50 in a distribution of 0 values"):
        d.require("p50")


def test_json_round_trip_keeps_the_field_names_both_latency_and_length_summaries_use():
    d = Distribution.of([1, 2, 3, 4])
    data = d.model_dump(mode="json")
    assert set(data) == {"count", "mean", "min", "p50", "p90", "p95", "p99", "max"}
    assert Distribution.model_validate(data) == d
