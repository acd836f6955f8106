"""SARIF output validates against the official SARIF 2.1.0 JSON schema (tests/data/sarif, see SOURCE.md there),
so code-review tools that read SARIF show the findings with their rule, level and location."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from builders import chat_log, engine, manifest, rule_file, with_k8s, with_requests, with_rules

from slotune.audit import RULES, Evidence, audit_evidence
from slotune.audit.render import sarif

SCHEMA = json.loads((Path(__file__).parents[1] / "data" / "sarif" / "sarif-schema-2.1.0.json").read_text())


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    return jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def _errors(validator: jsonschema.Draft4Validator, log: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(log)]


def test_findings_from_every_kind_of_location_validate(
    tmp_path: Path, validator: jsonschema.Draft4Validator
) -> None:
    ev = engine("vllm serve m --enforce-eager --no-enable-prefix-caching --swap-space 4")
    ev = with_requests(ev, chat_log(tmp_path / "log.jsonl", dynamic_prefix=True))
    ev = with_k8s(ev, manifest(tmp_path / "k.yaml", cpu="1", shm=False, liveness={"periodSeconds": 5}))
    ev = with_rules(ev, rule_file(tmp_path / "r.yaml", "rate(vllm:num_preemptions[5m]) > 0"))
    report = audit_evidence(ev)
    log = sarif(report)
    assert _errors(validator, log) == []
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [r.id for r in RULES]
    results = run["results"]
    assert len(results) == len(report.findings) >= 8
    for result in results:
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
    located = {r["ruleId"]: r["locations"][0]["physicalLocation"] for r in results if "locations" in r}
    assert located["k8s-dev-shm"]["artifactLocation"]["uri"] == str(tmp_path / "k.yaml")
    assert located["monitoring-metric-name"]["region"]["startLine"] == 4  # the rule's "- alert:" line
    assert located["prompt-dynamic-prefix"]["artifactLocation"]["uri"] == str(tmp_path / "log.jsonl")
    levels = {r["ruleId"]: r["level"] for r in results}
    assert levels["engine-removed-flag"] == "error" and levels["engine-eager-mode"] == "warning"


def test_a_clean_audit_validates(validator: jsonschema.Draft4Validator) -> None:
    log = sarif(audit_evidence(Evidence()))
    assert _errors(validator, log) == []
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == [
        "flying-blind"
    ]  # the only rule that needs nothing


def test_the_validator_rejects_a_broken_log(validator: jsonschema.Draft4Validator) -> None:
    log = sarif(audit_evidence(engine("--enforce-eager")))
    log["runs"][0]["results"][0]["level"] = "fatal"
    del log["version"]
    assert len(_errors(validator, log)) == 2
