from __future__ import annotations

import pytest
from pydantic import ValidationError

from slotune.models.vllm_metrics import BucketBracket, MetricType, Replacement, VllmMetricFamily


def family(type_: MetricType, name: str = "vllm:x") -> VllmMetricFamily:
    return VllmMetricFamily(name=name, type=type_, help="h", labels=("model_name",), source="vllm/a.py")


@pytest.mark.parametrize(
    ("type_", "series", "exposed", "exposition"),
    [
        (MetricType.COUNTER, ("vllm:x_total", "vllm:x_created"), "vllm:x_total", "counter"),
        (MetricType.GAUGE, ("vllm:x",), "vllm:x", "gauge"),
        (MetricType.INFO, ("vllm:x",), "vllm:x", "gauge"),
        (
            MetricType.HISTOGRAM,
            ("vllm:x_bucket", "vllm:x_sum", "vllm:x_count", "vllm:x_created"),
            "vllm:x",
            "histogram",
        ),
    ],
)
def test_series_of_each_type(
    type_: MetricType, series: tuple[str, ...], exposed: str, exposition: str
) -> None:
    f = family(type_)
    assert f.series() == series
    assert f.series(created=False) == tuple(s for s in series if not s.endswith("_created"))
    assert (f.exposed_name, f.exposition_type) == (exposed, exposition)
    assert f.always_present


def test_families_are_frozen_and_refuse_unknown_fields() -> None:
    f = family(MetricType.GAUGE)
    with pytest.raises(ValidationError):
        f.name = "vllm:y"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        VllmMetricFamily(name="vllm:x", type="gauge", help="h", labels=(), source="s", unit="s")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        VllmMetricFamily(name="vllm:x", type="summary", help="h", labels=(), source="s")  # type: ignore[arg-type]


def test_bucket_bracket_is_edge() -> None:
    assert BucketBracket(threshold=0.25, lower=0.25, upper=0.25).is_edge
    assert not BucketBracket(threshold=0.2, lower=0.1, upper=0.25).is_edge
    assert not BucketBracket(threshold=9e9, lower=2560.0, upper=None).is_edge


def test_replacement_text() -> None:
    assert Replacement(name="a", series="b").text == "use b"
    assert Replacement(name="a", expr="rate(b[5m])", advice="why").text == "use rate(b[5m]); why"
    assert Replacement(name="a", advice="watch c").text == "no replacement; watch c"
