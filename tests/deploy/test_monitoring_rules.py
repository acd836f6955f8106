"""The generated Prometheus rules, checked by Prometheus's own promtool: they parse, and every alert fires on a
synthetic series made to fire it, stays silent just under its threshold, after a recovery and on an idle pool."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from deploy_helpers import make_deployment
from promtool_tool import promtool

from slotune.deploy.monitoring.rule_tests import rule_tests
from slotune.deploy.monitoring.rules import ERROR_RATIO, QUANTILE, build_rules
from slotune.deploy.writer import RULES_FILE, RULES_TEST_FILE, monitoring_files, write_files
from slotune.vllm_metrics import find_problems


def _write(tmp_path: Path, **options: object) -> Path:
    deployment = make_deployment(**options)  # type: ignore[arg-type]
    write_files(monitoring_files(deployment), tmp_path)
    return tmp_path


@pytest.mark.parametrize("version", ["0.25.0", "0.32.0"])
def test_promtool_checks_the_rules_and_every_alert_test_passes(tmp_path: Path, version: str) -> None:
    folder = _write(tmp_path, vllm_version=version)
    checked = promtool("check", "rules", RULES_FILE, cwd=folder)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", RULES_TEST_FILE, cwd=folder)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_has_a_firing_and_a_silent_case() -> None:
    rules = build_rules(make_deployment())
    tests = rule_tests(rules, "rules.yaml")["tests"]
    for alert in rules.alerts:
        cases = [
            case
            for test in tests
            for case in test.get("alert_rule_test", [])
            if case["alertname"] == alert.name
        ]
        assert any(c["exp_alerts"] for c in cases), f"{alert.name} never shown firing"
        assert any(not c["exp_alerts"] for c in cases), f"{alert.name} never shown silent"
    idle = next(t for t in tests if t["name"].startswith("idle"))
    assert {c["alertname"] for c in idle["alert_rule_test"]} == {a.name for a in rules.alerts}


def test_a_hand_written_case_fast_burn_of_ttft(tmp_path: Path) -> None:
    """Written by hand, not by the generator: 30 of every 100 requests slower than 200 ms for 20 minutes burn a
    1% budget 30x too fast (over 14.4): the page fires after its 2 minutes; 10 of 100 (10x) does not."""
    folder = _write(tmp_path, slo="ttft:p99<200ms")
    model = 'model_name="meta-llama/Llama-3.1-8B",engine="0",instance="a:8000",job="vllm"'

    def case(slow_per_minute: int) -> dict[str, object]:
        good = 100 - slow_per_minute
        return {
            "interval": "1m",
            "input_series": [
                {"series": f"vllm:time_to_first_token_seconds_count{{{model}}}", "values": "0+100x20"},
                {
                    "series": f'vllm:time_to_first_token_seconds_bucket{{{model},le="0.2"}}',
                    "values": f"0+{good}x20",
                },
            ],
            "alert_rule_test": [
                {
                    "eval_time": "15m",
                    "alertname": "VllmTtftP99FastBurn",
                    "exp_alerts": [],
                }
            ],
        }

    firing = case(30)
    rules = build_rules(make_deployment(slo="ttft:p99<200ms"))
    alert = next(a for a in rules.alerts if a.name == "VllmTtftP99FastBurn")
    firing["alert_rule_test"][0]["exp_alerts"] = [  # type: ignore[index]
        {
            "exp_labels": {
                "model_name": "meta-llama/Llama-3.1-8B",
                "deployment": "llama-3-1-8b",
                "slo_term": "ttft_p99",
                "severity": "page",
                "window": "1h",
            },
            "exp_annotations": alert.annotations(),
        }
    ]
    ratio = {
        "interval": "1m",
        "input_series": firing["input_series"],
        "promql_expr_test": [
            {
                "expr": f'{ERROR_RATIO}5m{{slo_term="ttft_p99"}}',
                "eval_time": "10m",
                "exp_samples": [
                    {
                        "labels": f'{ERROR_RATIO}5m{{model_name="meta-llama/Llama-3.1-8B",deployment="llama-3-1-8b",slo_term="ttft_p99"}}',
                        "value": 0.3,
                    }
                ],
            }
        ],
    }
    (folder / "hand.test.yaml").write_text(
        yaml.safe_dump(
            {
                "rule_files": [Path(RULES_FILE).name],
                "evaluation_interval": "1m",
                "tests": [firing, case(10), ratio],
            }
        )
    )
    (folder / Path(RULES_FILE).name).write_text((folder / RULES_FILE).read_text())
    tested = promtool("test", "rules", "hand.test.yaml", cwd=folder)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_a_wrong_expectation_fails_promtool(tmp_path: Path) -> None:
    """promtool is not a rubber stamp here: expecting silence where the alert fires fails the run."""
    folder = _write(tmp_path)
    tests = yaml.safe_load((folder / RULES_TEST_FILE).read_text())
    firing = next(t for t in tests["tests"] if t["name"].endswith(": fires"))
    firing["alert_rule_test"][0]["exp_alerts"] = []
    tests["tests"] = [firing]
    (folder / "monitoring" / "wrong.test.yaml").write_text(yaml.safe_dump(tests))
    tested = promtool("test", "rules", "monitoring/wrong.test.yaml", cwd=folder)
    assert tested.returncode != 0


@pytest.mark.parametrize("version", ["0.25.0", "0.32.0"])
def test_every_expression_fits_the_versions_catalogue(version: str) -> None:
    deployment = make_deployment(vllm_version=version)
    rules = build_rules(deployment)
    problems = find_problems(
        rules.expressions(),
        version,
        max_model_len=deployment.engine.max_model_len,
        custom_buckets=deployment.custom_histogram_buckets,
    )
    assert problems == []
    names = {r.record for r in rules.recording}
    assert {ERROR_RATIO + "5m", ERROR_RATIO + "3d", QUANTILE} <= names


def test_idle_pools_divide_by_a_filtered_rate_and_absent_marks_a_missing_target() -> None:
    rules = build_rules(make_deployment())
    for rule in rules.recording:
        if rule.record.startswith(ERROR_RATIO):
            assert rule.expr.endswith(" > 0)"), rule.expr
    missing = next(a for a in rules.alerts if a.kind == "target_missing")
    assert missing.expr.startswith("absent(vllm:num_requests_running{")


def test_admission_rejections_only_where_the_version_counts_them() -> None:
    kinds_032 = {a.kind for a in build_rules(make_deployment(vllm_version="0.32.0")).alerts}
    kinds_025 = {a.kind for a in build_rules(make_deployment(vllm_version="0.25.0")).alerts}
    assert "admission_rejections" in kinds_032
    assert "admission_rejections" not in kinds_025
    assert {"preemptions", "kv_saturated", "target_missing", "burn", "mean"} <= kinds_025


def test_a_p50_term_gets_no_alert_that_could_never_fire() -> None:
    rules = build_rules(make_deployment(slo="ttft:p50<100ms"))
    # A 50% budget: 14.4x and 6x of it exceed any error ratio; only the 1x ticket remains.
    assert [a.window.name for a in rules.alerts if a.window is not None] == ["BudgetBurn"]
