"""The verdict names the terms that kept requests from attainment, how many each, and what to try next."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))

from test_summary import failed, record

from slotune.metrics import summarize
from slotune.slo import parse_slo
from slotune.slo.verdict import next_steps, verdict_reasons


def _run(n_slow_ttft: int, n_slow_itl: int, n_failed: int = 0):  # type: ignore[no-untyped-def]
    records = []
    for i in range(100):
        ttft = 0.5 if i < n_slow_ttft else 0.05
        gaps = [0.08, 0.08, 0.08] if n_slow_ttft <= i < n_slow_ttft + n_slow_itl else [0.01, 0.01, 0.01]
        records.append(record(str(i), i * 0.1, ttft, gaps))
    records += [failed(f"f{i}", 20.0 + i) for i in range(n_failed)]
    return summarize(records, duration_s=30.0, slo=parse_slo("ttft:p90<200ms;itl:p90<50ms@0.95"))


def test_every_percentile_passes_yet_attainment_fails_and_the_reasons_say_why() -> None:
    s = _run(n_slow_ttft=4, n_slow_itl=4)
    assert all(t.passed for t in s.targets) and s.slo_met is False  # 8% miss at least one, 5% allowed
    assert [t.num_missed for t in s.targets] == [4, 4]
    reasons = verdict_reasons(s)
    assert reasons[0].startswith("8 of 100 requests miss at least one threshold") and "allows 5" in reasons[0]
    assert "4 requests: ttft over 200.0 ms" in reasons[1]
    assert "4 requests: their own p90 chunk gap over 50.0 ms" in reasons[2]
    steps = next_steps(s)
    assert any("--max-num-batched-tokens" in step for step in steps) and "slotune tune" in steps[-1]


def test_a_failing_percentile_and_failed_requests_are_named() -> None:
    s = _run(n_slow_ttft=20, n_slow_itl=0, n_failed=3)
    reasons = verdict_reasons(s)
    assert reasons[0].startswith("ttft p90 <= 200.0 ms fails: 500.0 ms")
    assert any("3 failed requests miss every threshold" in r for r in reasons)
    assert [t.num_missed for t in s.targets] == [23, 3]  # failed requests miss every latency term


def test_a_met_slo_has_no_reasons() -> None:
    s = _run(n_slow_ttft=1, n_slow_itl=1)
    assert s.slo_met is True and verdict_reasons(s) == [] and next_steps(s) == []
