"""`slotune watch` on synthetic /metrics: attainment from histogram deltas (exact at an edge, bounded between
edges), windows over the scrape history, rules with the flag to change, the exit codes, and the CLI against a
local HTTP server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from slotune.bench.server_metrics import parse_prometheus
from slotune.models.slo import SLO
from slotune.slo import parse_slo
from slotune.watch import WatchOptions, watch
from slotune.watch.shares import share_at_edges
from slotune.watch.window import term_status

EDGES = (0.02, 0.04, 0.06, 0.1, 0.25)
REPO = Path(__file__).resolve().parents[2]


def exposition(ttft_le: dict[float, int], *, preemptions: int = 0, waiting: int = 0, kv: float = 0.1) -> str:
    """vLLM's exposition of the series watch reads: cumulative TTFT buckets, gauges, counters."""
    lines = []
    count = max(ttft_le.values(), default=0)
    model = 'model_name="m",engine="0"'
    for edge in EDGES:
        lines.append(f'vllm:time_to_first_token_seconds_bucket{{{model},le="{edge}"}} {ttft_le.get(edge, 0)}')
    lines.append(f'vllm:time_to_first_token_seconds_bucket{{{model},le="+Inf"}} {count}')
    lines.append(f"vllm:time_to_first_token_seconds_count{{{model}}} {count}")
    lines.append(f"vllm:time_to_first_token_seconds_sum{{{model}}} {0.05 * count}")
    lines.append(f"vllm:num_requests_running{{{model}}} 1")
    lines.append(f"vllm:num_requests_waiting{{{model}}} {waiting}")
    lines.append(f"vllm:kv_cache_usage_perc{{{model}}} {kv}")
    lines.append(f"vllm:num_preemptions_total{{{model}}} {preemptions}")
    lines.append(f'vllm:request_success_total{{{model},finished_reason="length"}} {count}')
    return "\n".join(lines) + "\n"


def cumulative(counts_at: dict[float, int]) -> dict[float, int]:
    """Per-bucket counts -> cumulative counts at each edge."""
    out, running = {}, 0
    for edge in EDGES:
        running += counts_at.get(edge, 0)
        out[edge] = running
    return out


def test_share_at_an_edge_is_exact_and_between_edges_is_bounded() -> None:
    buckets = [(0.02, 10.0), (0.04, 30.0), (0.06, 60.0), (0.1, 90.0), (float("inf"), 100.0)]
    at_edge = share_at_edges(buckets, 0.04)
    assert at_edge is not None and at_edge.value == at_edge.low == at_edge.high == 0.30
    between = share_at_edges(buckets, 0.05)
    assert between is not None and (between.low, between.value, between.high) == (
        0.30,
        pytest.approx(0.45),
        0.60,
    )
    assert share_at_edges([(0.1, 0.0), (float("inf"), 0.0)], 0.05) is None


def test_a_term_is_judged_on_the_delta_not_the_servers_life() -> None:
    target = parse_slo("ttft:p90<60ms").targets[0]
    before = parse_prometheus(exposition(cumulative({0.02: 100})), time_s=0)  # old, all fast
    after = parse_prometheus(exposition(cumulative({0.02: 100, 0.06: 80, 0.25: 20})), time_s=60)
    status = term_status(target, before, after, None)
    assert status.events == 100 and status.attainment == pytest.approx(0.8)
    assert status.burn_rate == pytest.approx(2.0) and status.met is False


def test_a_restarted_server_counts_from_zero() -> None:
    target = parse_slo("ttft:p90<60ms").targets[0]
    before = parse_prometheus(exposition(cumulative({0.02: 500})), time_s=0)
    after = parse_prometheus(exposition(cumulative({0.04: 10})), time_s=60)
    status = term_status(target, before, after, None)
    assert status.events == 10 and status.attainment == 1.0


class FakeServer:
    """Scrapes in order, on a clock that the fake sleep moves."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.i = 0
        self.now = 0.0

    def scrape(self) -> str:
        text = self.texts[min(self.i, len(self.texts) - 1)]
        self.i += 1
        return text

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _watch(texts: list[str], slo: SLO | None, duration_s: float) -> list:
    server = FakeServer(texts)
    ticks: list = []
    options = WatchOptions(url="http://fake", slo=slo, interval_s=10, duration_s=duration_s)
    watch(options, server.scrape, ticks.append, clock=lambda: server.now, sleep=server.sleep)
    return ticks


def test_windows_and_verdict_over_a_run() -> None:
    slo = parse_slo("ttft:p90<60ms")
    texts = [
        exposition(cumulative({0.02: 10 * k, 0.25: k})) for k in range(0, 40)
    ]  # 10 fast, 1 slow per scrape
    ticks = _watch(texts, slo, duration_s=120)
    last = ticks[-1]
    windows = {w.window: w for w in last.windows}
    assert set(windows) == {"1m", "5m", "run"}
    assert windows["1m"].span_s == pytest.approx(60)
    assert windows["run"].span_s == pytest.approx(120)
    assert windows["run"].terms[0].attainment == pytest.approx(10 / 11)
    assert last.verdict == "met"


def test_a_rule_fires_with_the_flag_to_change() -> None:
    texts = [
        exposition(cumulative({0.02: 10 * k}), preemptions=3 * k, waiting=4, kv=0.97) for k in range(0, 20)
    ]
    last = _watch(texts, parse_slo("ttft:p99<40ms"), duration_s=30)[-1]
    rules = {f.rule: f for f in last.findings}
    assert rules["preemptions"].flag == "--gpu-memory-utilization"
    assert rules["kv_saturated"].flag == "replicas"


def test_no_traffic_is_no_data() -> None:
    texts = [exposition(cumulative({0.02: 5}))] * 10
    assert _watch(texts, parse_slo("ttft:p99<40ms"), duration_s=30)[-1].verdict == "no_data"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slotune", "watch", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


@pytest.mark.parametrize(
    ("fast", "slow", "code", "verdict"), [(99, 1, 0, "met"), (80, 20, 1, "violated"), (0, 0, 4, "no_data")]
)
def test_the_cli_exit_code_is_the_verdict(
    metrics_server: tuple[str, list[str]], fast: int, slow: int, code: int, verdict: str
) -> None:
    url, texts = metrics_server
    texts.append(exposition(cumulative({0.02: fast, 0.25: slow})))
    proc = _cli(url, "--slo", "ttft:p90<60ms", "--once", "--json")
    assert proc.returncode == code, proc.stderr
    (line,) = proc.stdout.splitlines()
    tick = json.loads(line)
    assert tick["verdict"] == verdict and tick["windows"][0]["window"] == "lifetime"


def test_the_cli_lines_follow_the_interval(metrics_server: tuple[str, list[str]]) -> None:
    url, texts = metrics_server
    texts += [exposition(cumulative({0.02: 10 * k})) for k in range(1, 6)]
    proc = _cli(url, "--slo", "ttft:p90<60ms", "--interval", "0.5", "--duration", "1.5", "--json")
    assert proc.returncode == 0, proc.stderr
    ticks = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(ticks) == 3 and ticks[-1]["verdict"] == "met"


def test_an_unreachable_server_exits_3() -> None:
    proc = _cli("http://127.0.0.1:9", "--once")
    assert proc.returncode == 3
    assert "127.0.0.1:9" in proc.stderr


def test_bad_options_exit_2_naming_the_flag() -> None:
    proc = _cli("http://127.0.0.1:9", "--interval", "0")
    assert proc.returncode == 2 and "--interval" in proc.stderr


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "interactive-chat", "ftp://host", "http://"])
def test_an_address_that_is_no_server_url_exits_2(url: str) -> None:
    proc = _cli(url, "--once")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "http://127.0.0.1:8000" in proc.stderr  # the fix shows the form of an address


def test_the_cli_reports_the_outside_time_and_server_view_turns_it_off(
    metrics_server: tuple[str, list[str]],
) -> None:
    """TTFT and E2E as clients see them by default: the HTTP histogram's mean minus vLLM's E2E mean (here 2 ms)."""
    url, texts = metrics_server
    http = 'handler="/v1/completions",method="POST"'
    texts.append(
        exposition(cumulative({0.02: 3}))
        + "vllm:e2e_request_latency_seconds_count 3\nvllm:e2e_request_latency_seconds_sum 1.5\n"
        + f"http_request_duration_seconds_count{{{http}}} 3\nhttp_request_duration_seconds_sum{{{http}}} 1.506\n"
    )
    client = json.loads(_cli(url, "--slo", "ttft:p50<60ms", "--once", "--json").stdout)
    assert client["windows"][0]["outside_engine_s"] == pytest.approx(0.002)
    server = json.loads(_cli(url, "--slo", "ttft:p50<60ms", "--once", "--json", "--server-view").stdout)
    assert server["windows"][0]["outside_engine_s"] is None
