"""An audit result in the HTML report: its findings (fix, estimated effect, evidence), every rule's outcome,
and a verdict; untrusted text from logs and manifests escaped like every other section's."""

from __future__ import annotations

from pathlib import Path

import pytest

from slotune.audit import audit_evidence
from slotune.audit.engine_args import engine_args_from_text
from slotune.audit.evidence import Evidence
from slotune.report import build_report
from slotune.report.bundle import Bundle, bundle_path
from slotune.report.inputs import Loaded
from slotune.report.sections import audit as audit_section
from slotune.results import save_result

XSS = "<script>alert(1)</script>"


def _report(text: str, source: str = "--engine-args") -> object:
    return audit_evidence(Evidence(engine=engine_args_from_text(text), sources={"engine": source}))


def test_the_section_lists_findings_with_fixes_and_every_rules_outcome(tmp_path: Path) -> None:
    report = _report("vllm serve m --enforce-eager --swap-space 4")
    section = audit_section.section(Loaded("audit.json", tmp_path / "audit.json", report))  # type: ignore[arg-type]
    findings, rules = section.tables
    assert [row[1].text for row in findings.rows] == [
        "engine-removed-flag",
        "engine-eager-mode",
        "flying-blind",
    ]
    assert findings.rows[0][0].text == "high" and "remove --swap-space" in findings.rows[0][4].text
    assert {row[1].text for row in rules.rows} == {"fired", "passed", "skipped"}
    assert section.verdict is not None and section.verdict.passed is False
    assert section.verdict.text == "3 finding(s): 1 high, 2 medium"
    assert dict(section.provenance)["vLLM judged against"].startswith("0.32.0")


def test_a_clean_audit_passes(tmp_path: Path) -> None:
    from dataclasses import replace

    from slotune.slo import resolve_slo

    ev = Evidence(engine=engine_args_from_text("--max-num-seqs 8"), slo=resolve_slo("interactive-chat"))
    report = audit_evidence(replace(ev, sources={"engine": "--engine-args", "slo": "interactive-chat"}))
    section = audit_section.section(Loaded("a.json", tmp_path / "a.json", report))
    assert section.verdict is not None and section.verdict.passed and section.verdict.text == "no findings"


def test_an_audit_result_builds_into_the_html_report_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLOTUNE_CACHE_DIR", str(tmp_path / "cache"))
    bundle_path().parent.mkdir()
    bundle_path().write_text(Bundle("/* stand-in */", "stand-in", cached=True).script)
    saved = save_result(_report("vllm serve m --enforce-eager", source=XSS), tmp_path / "audit.json")  # type: ignore[arg-type]
    out = tmp_path / "r.html"
    build_report([saved], out)
    html = out.read_text()
    assert "engine-eager-mode" in html and "remove --enforce-eager" in html
    assert XSS not in html and "engine (&lt;script&gt;alert(1)&lt;/script&gt;)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
