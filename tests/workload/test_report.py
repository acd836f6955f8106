"""The saved workload report (`workload analyze --out`): the series its plots need agree with the trace."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from slotune.models.reports import WorkloadReport
from slotune.results import load_result
from slotune.workload import analyze, read_workload
from slotune.workload.report import arrival_rate, length_histogram, workload_report


def test_mooncake_series_agree_with_the_trace(data_dir: Path) -> None:
    workload = read_workload(data_dir / "mooncake_slice.jsonl")
    stats = analyze(workload)
    report = workload_report(workload, stats, block_size=16)
    n = len(workload.requests)
    for hist in (report.prompt_histogram, report.output_histogram):
        assert sum(hist.counts) == n and len(hist.edges) == len(hist.counts) + 1
        assert list(hist.edges) == sorted(set(hist.edges))
    assert report.prompt_histogram.edges[0] <= stats.prompt_tokens.min
    assert report.prompt_histogram.edges[-1] > stats.prompt_tokens.max
    rate = report.arrival_rate
    assert rate is not None and sum(rate.requests_per_s) * rate.bin_s == pytest.approx(n)
    curve = report.prefix_reuse_curve
    sizes = [p.cache_tokens for p in curve]
    assert sizes == sorted(sizes) and len(curve) >= 5
    fractions = [p.hit_token_fraction for p in curve]
    # A larger LRU cache never serves less (requests one at a time), and at the size an unbounded cache
    # ends up holding it serves what the unbounded cache does.
    assert all(a <= b + 1e-12 for a, b in itertools.pairwise(fractions))
    assert fractions[-1] == pytest.approx(stats.prefix_reuse.unbounded_token_fraction)


def test_narrow_lengths_get_one_bin_per_token_count() -> None:
    lengths = np.array([5, 5, 6, 9])
    hist = length_histogram(lengths)
    assert hist.edges == (5.0, 6.0, 7.0, 8.0, 9.0, 10.0) and hist.counts == (2, 1, 0, 0, 1)
    assert arrival_rate(np.zeros(3), 0.0) is None


def test_wide_lengths_get_log_bins() -> None:
    hist = length_histogram(np.array([1, 10, 100, 1_000, 100_000]))
    widths = np.diff(hist.edges)
    assert len(hist.counts) <= 40 and widths[-1] > 100 * widths[0] and sum(hist.counts) == 5


def test_cli_saves_a_loadable_workload_report(cli, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "profile.json"
    done = cli("workload", "analyze", str(data_dir / "azure_conv_slice.csv"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert f"result: {out}" in done.stdout.replace("\n", "")
    report = load_result(out, WorkloadReport)
    assert report.stats.num_requests == sum(report.prompt_histogram.counts)
    assert report.source_path.endswith("azure_conv_slice.csv") and report.prefix_reuse_curve == ()
