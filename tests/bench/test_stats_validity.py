from __future__ import annotations

import numpy as np

from slotune.bench.stats import bootstrap_ci, intervals
from slotune.bench.validity import ValidityThresholds, check_run


def test_bootstrap_interval_covers_the_truth_and_is_seeded() -> None:
    rng = np.random.default_rng(0)
    values = rng.exponential(1.0, size=2000)
    lo, hi = bootstrap_ci(values, "mean", seed=1)  # type: ignore[misc]
    assert lo < 1.0 < hi and hi - lo < 0.2
    lo99, hi99 = bootstrap_ci(values, "p99", seed=1)  # type: ignore[misc]
    assert lo99 < np.log(100) < hi99  # the exponential's true p99
    assert bootstrap_ci(values, "p99", seed=1) == (lo99, hi99)
    assert bootstrap_ci(values, "p99", seed=2) != (lo99, hi99)
    assert bootstrap_ci([1.0], "mean", seed=0) is None
    assert set(intervals(values, seed=0)) == {"mean", "p50", "p90", "p99"}


def _check(**overrides):  # type: ignore[no-untyped-def]
    args = dict(
        open_loop=True,
        offered_rate_rps=10.0,
        achieved_rate_rps=10.0,
        schedule_lag_p99_s=0.0002,
        client_cpu_max=0.2,
        num_requests=100,
        num_errors=0,
        num_output_checked=100,
        num_output_mismatched=0,
        exact_output=True,
        thresholds=ValidityThresholds(),
    )
    args.update(overrides)
    return check_run(**args)


def test_a_clean_run_is_valid() -> None:
    report = _check()
    assert report.valid and not report.reasons


def test_each_check_names_its_reason() -> None:
    cases = {
        "achieved send rate": dict(achieved_rate_rps=8.0),
        "schedule lag": dict(schedule_lag_p99_s=0.05),
        "of a core": dict(client_cpu_max=0.97),
        "did not produce the requested": dict(num_output_mismatched=5),
        "requests failed": dict(num_errors=2),
        "no measured request": dict(num_requests=0, num_output_checked=0),
        "event-loop lag": dict(loop_lag_p99_s=0.2, host_cpu=0.99),
    }
    for text, overrides in cases.items():
        report = _check(**overrides)
        assert not report.valid, text
        assert any(text in r for r in report.reasons), (text, report.reasons)


def test_output_mismatch_is_only_a_warning_when_exact_lengths_were_not_asked() -> None:
    report = _check(num_output_mismatched=50, exact_output=False)
    assert report.valid
    assert any("not asked for exact lengths" in w for w in report.warnings)


def test_closed_loop_has_no_rate_or_lag_check() -> None:
    assert _check(open_loop=False, achieved_rate_rps=1.0, schedule_lag_p99_s=1.0).valid
