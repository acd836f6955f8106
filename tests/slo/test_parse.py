import pytest

from slotune.errors import InputError
from slotune.slo import format_slo, get_preset, parse_slo, resolve_slo


def test_parses_latency_clauses_with_units_and_attainment():
    slo = parse_slo("ttft:p99<200ms; itl:p99<50ms; e2e:p90<5s; tpot:mean<800us @ 0.95")
    got = {(t.metric, t.stat): t.threshold for t in slo.targets}
    assert got == {
        ("ttft", "p99"): pytest.approx(0.2),
        ("itl", "p99"): pytest.approx(0.05),
        ("e2e", "p90"): pytest.approx(5.0),
        ("tpot", "mean"): pytest.approx(800e-6),
    }
    assert slo.attainment_target == pytest.approx(0.95)
    assert slo.objective == "latency"


def test_percent_attainment_and_default():
    assert parse_slo("ttft:p50<1s@99.9%").attainment_target == pytest.approx(0.999)
    assert parse_slo("ttft:p50<1s").attainment_target == pytest.approx(0.99)


def test_throughput_only_slo_is_throughput_first():
    slo = parse_slo("throughput>1500")
    assert slo.objective == "throughput"
    assert slo.targets[0].threshold == 1500


@pytest.mark.parametrize(
    "text, field",
    [
        ("ttft:p99<200", "slo"),  # no unit
        ("latency:p99<200ms", "slo metric"),
        ("ttft:p100<2s", "slo percentile"),
        ("ttft:p99<0ms", "slo"),
        ("ttft:p99<2s@1.5", "slo attainment"),
        ("ttft:p99<2s;ttft:p99<3s", "slo"),
        ("", "slo"),
    ],
)
def test_bad_expressions_name_the_field(text, field):
    with pytest.raises(InputError) as info:
        parse_slo(text)
    assert info.value.field == field
    assert "Fix:" in str(info.value)


def test_canonical_form_round_trips():
    for text in ("ttft:p99<200ms;itl:p99<50ms@0.99", "e2e:p90<5000ms;throughput>100@0.9"):
        slo = parse_slo(text)
        assert parse_slo(format_slo(slo)) == slo


def test_presets_resolve_and_unknown_preset_lists_choices():
    chat = resolve_slo("interactive-chat")
    assert chat.name == "interactive-chat"
    assert {(t.metric, t.threshold) for t in chat.targets} >= {("ttft", 0.2)}
    assert get_preset("offline_batch").objective == "throughput"
    with pytest.raises(InputError) as info:
        resolve_slo("chatty")
    assert "interactive-chat" in str(info.value)
