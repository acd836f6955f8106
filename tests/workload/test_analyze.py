"""analyze(): hand-computed values on a tiny file, numpy-computed values on the real slices."""

import csv
import json

import numpy as np
import pytest

from slotune.models import RequestSpec, Workload
from slotune.workload import analyze, read_workload

TINY_AZURE = """TIMESTAMP,ContextTokens,GeneratedTokens
2023-11-16 18:00:00.0000000,100,10
2023-11-16 18:00:00.5000000,200,20
2023-11-16 18:00:01.0000000,300,30
2023-11-16 18:00:02.0000000,400,40
2023-11-16 18:00:04.0000000,1000,50
"""


def test_tiny_file_by_hand(write):
    s = analyze(read_workload(write("tiny.csv", TINY_AZURE)))
    assert s.num_requests == 5
    assert s.duration_s == 4.0
    assert s.mean_rate_rps == 1.0  # 4 gaps over 4 s
    # Gaps 0.5, 0.5, 1, 2: mean 1, population variance (0.25 + 0.25 + 0 + 1) / 4 = 0.375.
    assert s.interarrival_cv == pytest.approx(0.375**0.5)
    assert s.peak_1s_requests == 2  # windows [0,1) holds t=0 and t=0.5
    assert s.peak_1min_rate_rps is None  # shorter than a minute
    p = s.prompt_tokens
    assert (p.mean, p.p50, p.max, p.min) == (400.0, 300.0, 1000.0, 100.0)
    # Linear interpolation: p90 sits at rank 3.6 of 0..4, between 400 and 1000.
    assert p.p90 == pytest.approx(400 + 0.6 * 600)
    assert p.p99 == pytest.approx(400 + 0.96 * 600)
    assert (s.output_tokens.mean, s.output_tokens.p50) == (30.0, 30.0)
    assert (s.total_prompt_tokens, s.total_output_tokens) == (2000, 150)
    assert s.prefix_reuse.basis == "none" and s.prefix_reuse.unbounded_token_fraction is None
    assert s.request_log is None


@pytest.mark.parametrize("name", ["azure_code_slice.csv", "azure_conv_slice.csv"])
def test_azure_slices_against_numpy(data_dir, name):
    with (data_dir / name).open() as f:
        rows = list(csv.DictReader(f))
    t = np.array([r["TIMESTAMP"].replace(" ", "T") for r in rows], dtype="datetime64[ns]")
    t_s = (t - t[0]).astype(np.int64) / 1e9
    gaps = np.diff(t_s)
    prompt = np.array([int(r["ContextTokens"]) for r in rows])
    output = np.array([int(r["GeneratedTokens"]) for r in rows])

    s = analyze(read_workload(data_dir / name))
    assert s.duration_s == pytest.approx(t_s[-1])
    assert s.mean_rate_rps == pytest.approx(1 / gaps.mean())
    assert s.interarrival_cv == pytest.approx(gaps.std() / gaps.mean())
    assert s.peak_1s_requests == np.bincount(np.floor(t_s).astype(int)).max()
    for dist, values in ((s.prompt_tokens, prompt), (s.output_tokens, output)):
        assert dist.mean == pytest.approx(values.mean())
        assert [dist.p50, dist.p90, dist.p99] == pytest.approx(list(np.percentile(values, [50, 90, 99])))
        assert dist.max == values.max()


def test_azure_code_slice_holds_the_burst(data_dir):
    # The slice is cut around the trace's busiest second (67 requests counted from the trace start); counted
    # from the slice's own start the windows shift, and numpy over the same windows gives the value.
    s = analyze(read_workload(data_dir / "azure_code_slice.csv"))
    assert s.peak_1s_requests >= 60
    assert s.interarrival_cv > 1.5


def test_mooncake_slice_against_numpy(data_dir):
    rows = [json.loads(line) for line in (data_dir / "mooncake_slice.jsonl").read_text().splitlines()]
    t_s = np.array([r["timestamp"] for r in rows]) / 1000.0
    t_s -= t_s[0]
    s = analyze(read_workload(data_dir / "mooncake_slice.jsonl"))
    assert s.interarrival_cv == pytest.approx(np.diff(t_s).std() / np.diff(t_s).mean())
    assert s.prompt_tokens.p99 == pytest.approx(np.percentile([r["input_length"] for r in rows], 99))
    assert s.output_tokens.mean == pytest.approx(np.mean([r["output_length"] for r in rows]))


def test_lengths_only_file_reports_no_rates(data_dir):
    s = analyze(read_workload(data_dir / "etalon_slice.csv"))
    assert not s.has_arrival_times
    assert (s.mean_rate_rps, s.interarrival_cv, s.peak_1s_requests) == (None, None, None)


def test_estimated_outputs_are_left_out_of_the_output_statistics():
    requests = (
        RequestSpec(request_id="a", arrival_s=0, prompt_tokens=10, output_tokens=5),
        RequestSpec(request_id="b", arrival_s=1, prompt_tokens=10, output_tokens=7),
        RequestSpec(
            request_id="c", arrival_s=2, prompt_tokens=10, output_tokens=1024, is_output_estimated=True
        ),
    )
    s = analyze(Workload(name="w", requests=requests))
    assert s.num_output_estimated == 1
    assert (s.output_tokens.count, s.output_tokens.mean, s.total_output_tokens) == (2, 6.0, 12)


def test_json_has_the_promised_keys(data_dir, cli):
    out = cli("workload", "analyze", str(data_dir / "mooncake_slice.jsonl"), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    for key in (
        "num_requests",
        "duration_s",
        "interarrival_cv",
        "prompt_tokens",
        "output_tokens",
        "prefix_reuse",
    ):
        assert key in data
    for key in ("mean", "p50", "p90", "p99", "max"):
        assert key in data["prompt_tokens"] and key in data["output_tokens"]
    assert 0 < data["prefix_reuse"]["unbounded_token_fraction"] < 1
    assert data["num_requests"] == 300


def test_human_output_is_a_table(data_dir, cli):
    out = cli("workload", "analyze", str(data_dir / "azure_conv_slice.csv"))
    assert out.returncode == 0, out.stderr
    assert "inter-arrival CV" in out.stdout and "p99" in out.stdout and "prompt" in out.stdout
