"""`slotune audit` on the command line: exit codes for CI (0 clean, 1 findings at or above --fail-on, 2 bad
input), the four output formats, and --out by suffix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from slotune.cli.main import app
from slotune.models.audit import AuditReport
from slotune.results import load_result

runner = CliRunner()
CLEAN = ["audit", "--engine-args", "vllm serve m --max-num-seqs 64", "--slo", "interactive-chat"]
EAGER = ["audit", "--engine-args", "vllm serve m --enforce-eager", "--slo", "interactive-chat"]


def test_clean_evidence_exits_0_and_says_so() -> None:
    result = runner.invoke(app, CLEAN)
    assert result.exit_code == 0, result.output
    assert "0 finding(s)" in result.stdout and "passed" in result.stdout


def test_findings_at_or_above_fail_on_exit_1_and_below_it_0() -> None:
    result = runner.invoke(app, EAGER)
    assert result.exit_code == 1
    assert "[MEDIUM] engine-eager-mode" in result.stdout and "fix: remove --enforce-eager" in result.stdout
    assert "docs/audit/engine-eager-mode.md" in result.stdout
    assert runner.invoke(app, [*EAGER, "--fail-on", "high"]).exit_code == 0
    assert runner.invoke(app, [*EAGER, "--fail-on", "none"]).exit_code == 0
    assert runner.invoke(app, [*EAGER, "--fail-on", "medium"]).exit_code == 1


def test_bad_input_exits_2_naming_the_flag_without_a_traceback(tmp_path: Path) -> None:
    cases = [
        (["--engine-args", "vllm serve m --max-model-len lots"], "--max-model-len"),
        (["--requests", str(tmp_path / "missing.jsonl")], "FILE"),
        (["--format", "xml"], "--format"),
        (["--fail-on", "critical"], "--fail-on"),
        (["--metrics", str(tmp_path / "nope.txt")], "--metrics"),
        (["--num-gpus", "2"], "--gpu"),
    ]
    for args, named in cases:
        out = subprocess.run(
            [sys.executable, "-m", "slotune", "audit", *args], capture_output=True, text=True
        )
        assert out.returncode == 2, (args, out.stderr)
        assert named in out.stderr and "Fix:" in out.stderr and "Traceback" not in out.stderr


def test_json_markdown_and_sarif_on_stdout() -> None:
    data = json.loads(runner.invoke(app, [*EAGER, "--json"]).stdout)
    assert data["kind"] == "audit" and data["findings"][0]["rule_id"] == "engine-eager-mode"
    assert {o["status"] for o in data["rules"]} == {"fired", "passed", "skipped"}
    md = runner.invoke(app, [*EAGER, "--format", "markdown"]).stdout
    assert md.startswith("# slotune audit") and "[engine-eager-mode](docs/audit/engine-eager-mode.md)" in md
    sarif = json.loads(runner.invoke(app, [*EAGER, "--format", "sarif"]).stdout)
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"][0]["level"] == "warning"


def test_out_writes_sarif_markdown_or_the_saved_result_by_suffix(tmp_path: Path) -> None:
    for name in ("a.sarif", "a.md", "a.json"):
        assert runner.invoke(app, [*EAGER, "--out", str(tmp_path / name)]).exit_code == 1
    assert json.loads((tmp_path / "a.sarif").read_text())["version"] == "2.1.0"
    assert (tmp_path / "a.md").read_text().startswith("# slotune audit")
    report = load_result(tmp_path / "a.json", AuditReport)
    assert [f.rule_id for f in report.findings] == ["engine-eager-mode"]


def test_list_rules_names_every_rule_and_its_evidence() -> None:
    rows = json.loads(runner.invoke(app, ["audit", "--list-rules", "--json"]).stdout)
    from slotune.audit import RULES

    assert [r["id"] for r in rows] == [r.id for r in RULES]
    assert all(Path(r["docs"]).name == f"{r['id']}.md" for r in rows)
