"""A report of real saved results (simulate on trace slices, bench and a sweep against the loopback server,
workload profiles), opened in Debian's headless Chromium: every figure drawn, nothing on the console, no
network request, text from the workload shown as text (never run), export and sorting working.

The full-page screenshot and the report are kept in test-artifacts/report/ (CI keeps that folder).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from fake_server import Behaviour, FakeOpenAIServer
from headless import CdpPage, chromium_page

from slotune.cli.main import main
from slotune.models import Workload
from slotune.workload import synthesize, write_workload

XSS = "<script>alert(1)</script>"
DATA = Path(__file__).resolve().parents[1] / "data"
# The screenshot and the report, for people to look at: CI keeps this folder (gitignored).
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "report"
TOKENIZER = str(DATA / "tokenizers" / "qwen3" / "tokenizer.json")

pytestmark = pytest.mark.slow


def _cli(*args: str, ok: tuple[int, ...] = (0,)) -> None:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    code = 0 if done.value.code is None else int(done.value.code)
    assert code in ok, f"slotune {' '.join(args)} exited {code}"


def _hostile_workload(path: Path) -> Path:
    """A small chat workload whose name and request ids carry markup, as a trace from users could."""
    base = synthesize(preset="chatbot", num_requests=24, seed=3)
    requests = tuple(r.model_copy(update={"request_id": f"{XSS}-{i}"}) for i, r in enumerate(base.requests))
    write_workload(Workload(name=f"chat {XSS}", source=base.source, requests=requests), path)
    return path


def _saved_results(tmp: Path) -> list[str]:
    hostile = _hostile_workload(tmp / "hostile.jsonl")
    _cli("simulate", "--model", "llama-3.1-8b", "--gpu", "h100", "--workload", str(DATA / "simulate" / "azure_conv_500.csv"),
         "--num-requests", "300", "--slo", "interactive-chat", "--out", str(tmp / "azure.json"), "--json")  # fmt: skip
    _cli("simulate", "--model", "llama-3.1-8b", "--gpu", "h100", "--workload", str(hostile),
         "--slo", "interactive-chat", "--out", str(tmp / "hostile-sim.json"), "--json")  # fmt: skip
    # A real model's context: the chatbot preset's longest request passes the loopback server's default 4,096.
    with FakeOpenAIServer(Behaviour(token_delay_s=0.001, fail_500_every=5, max_model_len=131_072)) as server:
        common = ["--url", server.url, "--model", server.model, "--tokenizer", TOKENIZER, "--workload", str(hostile),
                  "--arrival", "constant", "--slo", "interactive-chat", "--json"]  # fmt: skip
        # Failed requests make the run invalid (exit 3); it is saved all the same, and that is what we draw.
        _cli("bench", *common, "--rate", "40", "--num-requests", "24", "--out", str(tmp / "bench"), ok=(0, 3))
        _cli("bench", *common, "--sweep", "20,40", "--sweep-kind", "rate", "--num-requests", "10",
             "--out", str(tmp / "sweep"), ok=(0, 3))  # fmt: skip
    _cli(
        "workload",
        "analyze",
        str(DATA / "workload" / "mooncake_slice.jsonl"),
        "--out",
        str(tmp / "mooncake.json"),
        "--json",
    )
    _cli("workload", "analyze", str(hostile), "--out", str(tmp / "hostile-profile.json"), "--json")
    return [
        str(tmp / n)
        for n in ("azure.json", "hostile-sim.json", "bench", "sweep", "mooncake.json", "hostile-profile.json")
    ]


DOM_CHECK = """(() => {
  const figures = Array.from(document.querySelectorAll("figure[data-figure]"));
  return figures.map(f => {
    const svg = f.querySelector(".plot svg");
    // Data marks only (Vega's role-mark groups), not axes or SLO rules: lines, points, bars, areas.
    const marks = svg ? Array.from(svg.querySelectorAll("g.role-mark:not(.mark-rule):not(.mark-text) > path"))
        .filter(p => (p.getAttribute("d") || "").length > 2).length : 0;
    return {id: f.dataset.figure, svg: !!svg, marks: marks, failed: f.classList.contains("failed")};
  });
})()"""


def _check_figures(page: CdpPage) -> int:
    figures = page.evaluate(DOM_CHECK)
    assert figures, "the report has no figures"
    undrawn = [f for f in figures if not f["svg"] or f["marks"] == 0 or f["failed"]]
    assert not undrawn, undrawn
    per_section = page.evaluate(
        "Array.from(document.querySelectorAll('section[data-kind]'), s => [s.dataset.kind, s.querySelectorAll('figure').length])"
    )
    assert [k for k, _ in per_section] == [
        "compare",
        "simulate",
        "simulate",
        "bench",
        "sweep",
        "workload",
        "workload",
    ]
    # Every section drew its plots: a sweep its four latency curves and goodput, a workload at least its length
    # histograms and arrival rate.
    assert all(n >= 3 for _, n in per_section) and dict(per_section)["sweep"] == 5, per_section
    state = page.evaluate("window.slotuneReport")
    assert state["failed"] == 0 and state["drawn"] == state["figures"] == len(figures), state
    return len(figures)


def _check_markup_is_text(page: CdpPage) -> None:
    text = page.evaluate("document.body.innerText")
    assert f"chat {XSS}" in text  # the workload name, in section titles and provenance
    assert f"{XSS}-" in text  # request ids, in the slowest and failed requests tables
    # Only the page's own three script elements exist: the figure data, the plotting library, the page's code.
    scripts = page.evaluate("Array.from(document.scripts, s => s.type || 'classic')")
    assert scripts == ["application/json", "classic", "classic"], scripts
    assert not page.events.dialogs, page.events.dialogs


def _check_export(page: CdpPage, downloads: Path) -> None:
    """The first figure's PNG and SVG buttons save files (Vega's own toImageURL, in the browser)."""
    page.call("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    for kind in ("png", "svg"):
        page.evaluate(f"document.querySelector('figure[data-figure] button[data-export={kind}]').click()")
    deadline = time.monotonic() + 20
    while len([p for p in downloads.glob("*") if p.suffix in (".png", ".svg")]) < 2:
        assert time.monotonic() < deadline, list(downloads.iterdir())
        page.evaluate("1")  # lets the page's events through
        time.sleep(0.1)
    png = next(downloads.glob("*.png")).read_bytes()
    svg = next(downloads.glob("*.svg")).read_text()
    assert png.startswith(b"\x89PNG") and "<svg" in svg and "<path" in svg


def _check_sorting(page: CdpPage) -> None:
    """A click on the comparison table's TTFT p99 header sorts the runs by it, twice reverses them."""
    column = "Array.from(document.querySelectorAll('table.sortable thead th')).find(th => th.textContent === 'TTFT p99')"
    values = (
        "(() => { const th = " + column + "; const i = Array.from(th.parentNode.children).indexOf(th);"
        " return Array.from(th.closest('table').tBodies[0].rows, r => Number(r.cells[i].dataset.sort)); })()"
    )
    page.evaluate(column + ".click()")
    ascending = page.evaluate(values)
    assert ascending == sorted(ascending) and len(ascending) >= 3
    page.evaluate(column + ".click()")
    assert page.evaluate(values) == sorted(ascending, reverse=True)


def test_report_of_real_results_in_headless_chromium(chromium_binary: str, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    _cli("report", *_saved_results(tmp_path), "-o", str(report), "--json")
    html = report.read_text()
    assert XSS not in html  # escaped everywhere it appears
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(report, ARTIFACTS / "report.html")
    with chromium_page(chromium_binary) as page:
        page.navigate(report.as_uri())
        page.wait_for("document.documentElement.dataset.figuresDrawn", timeout_s=60)
        num_figures = _check_figures(page)
        assert num_figures >= 25
        _check_markup_is_text(page)
        page.screenshot(ARTIFACTS / "report.png")
        _check_sorting(page)
        (tmp_path / "downloads").mkdir()
        _check_export(page, tmp_path / "downloads")
        events = page.events
    assert not events.console_errors, events.console_errors
    assert not events.exceptions, events.exceptions
    assert not events.dialogs, events.dialogs
    # The page itself is the only thing loaded; figure exports are data:/blob: URLs made in the page.
    fetched = [u for u in events.requests if not u.startswith(("data:", "blob:")) and u != report.as_uri()]
    assert not fetched, fetched
    assert (ARTIFACTS / "report.png").stat().st_size > 50_000
