"""The terminal view of `slotune watch`: one table of SLO terms by window, the engine's state, the findings."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from slotune.models.watch import TermStatus, WatchTick, WindowStatus


def _cell(term: TermStatus) -> Text:
    if term.mean_s is not None:
        return Text(f"mean {term.mean_s * 1e3:,.1f} ms", style="green" if term.met else "red")
    if term.attainment is None:
        return Text("no requests", style="dim")
    text = f"{term.attainment:.2%} ({term.events:,.0f})"
    if term.burn_rate is not None:
        text += f" burn {term.burn_rate:.1f}x"
    return Text(text, style="green" if term.met else "red")


def _span(window: WindowStatus) -> str:
    return window.window if window.span_s is None else f"{window.window} ({window.span_s:,.0f} s)"


def render(tick: WatchTick) -> Group:
    table = Table(title=f"{tick.url} at {tick.time_s:,.0f} s: SLO {tick.verdict}")
    table.add_column("term")
    for window in tick.windows:
        table.add_column(_span(window), justify="right")
    names = [t.term for t in tick.windows[0].terms] if tick.windows else []
    for i, name in enumerate(names):
        table.add_row(name, *(_cell(w.terms[i]) for w in tick.windows))
    engine = tick.windows[-1].engine if tick.windows else None
    lines: list[Text] = []
    if engine is not None:
        kv = "?" if engine.kv_usage is None else f"{engine.kv_usage:.0%}"
        lines.append(
            Text(
                f"running {engine.running or 0:g}, waiting {engine.waiting or 0:g}, KV cache {kv}, "
                f"preemptions {engine.preemptions or 0:g}, finished {engine.requests_finished or 0:g}"
            )
        )
    outside = tick.windows[-1].outside_engine_s if tick.windows else None
    if outside is not None:
        lines.append(
            Text(
                f"TTFT and E2E as clients see them: vLLM's histograms + {outside * 1e3:,.1f} ms per request of "
                "API server time outside them (its HTTP histogram)",
                style="dim",
            )
        )
    for finding in tick.findings:
        lines.append(
            Text(
                f"{finding.rule} ({finding.window}): {finding.message}; change {finding.flag}: {finding.action}",
                style="yellow",
            )
        )
    if tick.scrape_error:
        lines.append(Text(f"scrape failed: {tick.scrape_error}", style="red"))
    return Group(table, *lines)
