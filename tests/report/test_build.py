"""Building a report without a browser: sections by kind, escaping of untrusted text, the page's JSON, the
CLI's errors. The plotting library is a stand-in here (a cached bundle file); the Chromium test draws it."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from slotune.cli.main import main
from slotune.models import EngineConfig, Provenance, RunResult, RunSummary, StepSample
from slotune.models.distribution import Distribution
from slotune.models.reports import SavedResult, SimulationReport
from slotune.report import build_report
from slotune.report.bundle import Bundle, _safe_in_script, bundle_path
from slotune.report.inputs import Loaded, _labels
from slotune.report.page import Cell, Figure, Page, Section, Table, Verdict
from slotune.report.render import render_html
from slotune.report.sections import NOT_YET_DRAWN, SECTIONS, sections_for
from slotune.report.summarize import downsample_timeline
from slotune.results import REPORT_TYPES, save_result

XSS = "<script>alert(1)</script>"
STUB = Bundle("/* plotting library stand-in */", "stand-in", cached=True)
DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def stub_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bundle cache holding a stand-in, so build_report does not bundle the real library (seconds)."""
    monkeypatch.setenv("SLOTUNE_CACHE_DIR", str(tmp_path / "cache"))
    bundle_path().parent.mkdir()
    bundle_path().write_text(STUB.script)


def _summary(n: int = 3) -> RunSummary:
    d = Distribution.of([0.1, 0.2, 0.3])
    return RunSummary(
        num_requests=n, num_ok=n, num_failed=0, duration_s=1.0, request_throughput_rps=3.0,
        output_tokens_per_s=30.0, total_tokens_per_s=60.0, prompt_tokens=30, cached_prompt_tokens=0,
        output_tokens=30, num_preemptions=0, ttft_s=d, itl_s=d, tpot_s=d, e2e_s=d,
    )  # fmt: skip


def _run(name: str) -> SimulationReport:
    provenance = Provenance(
        backend="simulator", slotune_version="0", workload_name=name, workload_digest="ab" * 32
    )
    timeline = tuple(StepSample(time_s=i * 0.01, duration_s=0.01, kv_usage=0.5) for i in range(30))
    result = RunResult(
        provenance=provenance, engine_config=EngineConfig(), summary=_summary(), timeline=timeline
    )
    return SimulationReport(result=result)


def _page_with_hostile_text() -> Page:
    spec = {
        "data": {"values": [{"run": XSS, "x": 1.0, "p": float("nan")}, {"x": float("inf")}]},
        "mark": "line",
    }
    section = Section(
        title=f"run {XSS}",
        kind="simulate",
        source=f"{XSS}.json",
        provenance=(("workload", XSS),),
        verdict=Verdict(False, f"not met {XSS}"),
        figures=(Figure("cdf", f"CDF {XSS}", spec, note=XSS),),
        tables=(Table(XSS, (XSS,), ((Cell(XSS), Cell("inf", float("inf"))),)),),
        notes=(XSS,),
    )
    return Page(title=XSS, generated_by=XSS, sections=(section,))


def test_untrusted_text_is_escaped_everywhere_and_json_stays_in_its_element() -> None:
    html = render_html(_page_with_hostile_text(), STUB)
    assert XSS not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 9
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert len(scripts) == 3  # figure data, library, the page's code: nothing from the text
    data = re.search(r'<script type="application/json" id="slotune-figures">(.*?)</script>', html, re.S)
    assert data is not None and "<" not in data.group(1)
    specs = json.loads(data.group(1))  # NaN and infinity, which JSON lacks, became null
    values = specs["section-1-cdf"]["data"]["values"]
    assert values == [{"run": XSS, "x": 1.0, "p": None}, {"x": None}]
    assert 'data-sort="Infinity"' in html
    # Only scripts carrying the page's nonce may run; nothing may be fetched.
    nonce = re.search(r"'nonce-([^']+)'", html)
    assert nonce is not None and html.count(f'nonce="{nonce.group(1)}"') == 2
    assert "default-src 'none'" in html


def test_the_library_cannot_close_its_script_element() -> None:
    assert _safe_in_script('a="</script>";b="</SCRIPT"') == 'a="<\\/script>";b="<\\/SCRIPT"'


def test_every_loadable_kind_is_drawn_or_listed_as_not_yet() -> None:
    assert set(REPORT_TYPES) <= set(SECTIONS) | set(NOT_YET_DRAWN)
    assert not set(SECTIONS) & set(NOT_YET_DRAWN)


class _FutureReport(SavedResult):
    kind: str = "plan"
    schema_version: int = 1


def test_sections_compare_several_runs_and_name_kinds_not_drawn_yet(tmp_path: Path) -> None:
    items = [
        Loaded("a.json", tmp_path / "a.json", _run("one")),
        Loaded("b.json", tmp_path / "b.json", _run("two")),
        Loaded("t.json", tmp_path / "t.json", _FutureReport()),
    ]
    sections = sections_for(items)
    assert [s.kind for s in sections] == ["compare", "simulate", "simulate", "plan"]
    compare = sections[0]
    assert len(compare.tables[0].rows) == 2 and {f.key for f in compare.figures} == {
        "ttft-cdf", "itl-cdf", "tpot-cdf", "e2e-cdf"
    }  # fmt: skip
    assert "summary's percentiles" in compare.figures[0].note  # saved without records: no plot data
    assert "does not draw 'plan' results yet" in sections[3].notes[0]
    assert all(s.provenance for s in sections)


def test_labels_tell_inputs_apart() -> None:
    files = [
        Path("/r/a/run.json"),
        Path("/r/bench/result.json"),
        Path("/r/b/run.json"),
        Path("/r/sweep/result.json"),
    ]
    assert _labels(files) == ["a/run.json", "bench", "b/run.json", "sweep"]
    assert _labels([Path("/r/x.json"), Path("/r/x.json")]) == ["r/x.json #1", "r/x.json #2"]


def test_timeline_is_bucketed_by_duration() -> None:
    samples = [
        StepSample(time_s=float(i), duration_s=1.0 if i % 2 else 3.0, kv_usage=0.2 if i % 2 else 0.6)
        for i in range(2000)
    ]
    points = downsample_timeline(samples, max_points=100)
    assert len(points) == 100 and points[0].time_s == 0.0
    # Each bucket holds 20 samples, half lasting 3 s at 0.6 and half 1 s at 0.2: time-weighted mean 0.5.
    assert all(p.kv_usage_mean == pytest.approx(0.5) and p.kv_usage_max == 0.6 for p in points)


def test_build_report_of_a_simulation_and_a_workload(stub_bundle: None, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as done:
        main(["simulate", "--model", "llama-3.1-8b", "--gpu", "h100", "--workload", str(DATA / "simulate" / "mooncake_200.jsonl"),
              "--slo", "interactive-chat", "--out", str(tmp_path / "run.json"), "--json"])  # fmt: skip
    assert done.value.code in (0, None)
    with pytest.raises(SystemExit) as done:
        main(
            [
                "workload",
                "analyze",
                str(DATA / "workload" / "mooncake_slice.jsonl"),
                "--out",
                str(tmp_path / "wl.json"),
                "--json",
            ]
        )
    assert done.value.code in (0, None)
    built = build_report([tmp_path / "run.json", tmp_path / "wl.json"], tmp_path / "out" / "report.html")
    html = built.path.read_text()
    assert built.num_sections == 2 and built.num_figures >= 12
    assert STUB.script in html and html.count(STUB.script) == 1  # the library once
    assert built.size_bytes == len(html.encode()) < 500_000
    for needle in (
        "TTFT CDF",
        "KV cache usage over time",
        "Prefix reuse vs cache size",
        "workload digest",
        "SLO targets",
    ):
        assert needle in html


def test_saved_without_records_the_report_still_draws_from_the_summary(
    stub_bundle: None, tmp_path: Path
) -> None:
    path = save_result(_run("no records"), tmp_path / "bare.json")
    built = build_report([path], tmp_path / "r.html")
    assert built.num_figures >= 4 and "summary&#39;s percentiles" in built.path.read_text()


def test_cli_errors_name_the_input_and_a_fix(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for args, needle in (
        (["report", str(tmp_path / "missing.json")], "give a result file"),
        (["report", str(tmp_path / "missing.json"), "-o", str(tmp_path)], "-o report.html"),
    ):
        with pytest.raises(SystemExit) as done:
            main(args)
        assert done.value.code == 2
        assert needle in capsys.readouterr().err.replace("\n", "")


def test_a_validation_draws_overlays_errors_and_kv(stub_bundle: None, tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "validate"))
    from fake_real import ENGINE, GPU, TINY_CONFIG, FakeReal

    from slotune.models import LoadSpec
    from slotune.validate.api import deployment_for, validate
    from slotune.workload import synthesize

    load = LoadSpec(kind="concurrency", concurrency=2, num_requests=6)
    report = validate(
        FakeReal(load),
        deployment_for(TINY_CONFIG, GPU, None),
        synthesize(preset="chatbot", num_requests=6),
        ENGINE,
        load=load,
    )
    path = save_result(report, tmp_path / "validate.json")
    [section] = sections_for([Loaded("validate.json", path, report)])
    assert section.kind == "validate" and section.verdict is not None
    assert [f.key for f in section.figures] == [
        "ttft-overlay",
        "itl-overlay",
        "tpot-overlay",
        "e2e-overlay",
        "errors",
    ]
    series = {v["run"] for v in section.figures[0].spec["data"]["values"]}
    assert series == {"measured", "simulated"}
    errors, kv = section.tables
    assert len(errors.rows) == len(report.errors) and kv.rows[0][1].sort == 32768
    built = build_report([path], tmp_path / "r.html")
    assert "Validation of default@" in built.path.read_text()
