"""Vega-Lite specifications of the report's charts, as plain dicts (the spec is data: it goes into the page as
JSON and vega-embed draws it). Every chart inlines its data, so the page fetches nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slotune.report.page import Spec

WIDTH = 380
HEIGHT = 230
SLO_COLOR = "#c0392b"


@dataclass(frozen=True, slots=True)
class Threshold:
    """An SLO line: a value on the chart's axis and what it says ("SLO p99 < 200 ms")."""

    value: float
    label: str


def _base(
    values: list[dict[str, Any]], layers: list[Spec], *, width: int = WIDTH, height: int = HEIGHT
) -> Spec:
    return {
        "width": width,
        "height": height,
        "data": {"values": values},
        "layer": layers,
        "config": {"view": {"stroke": None}, "axis": {"grid": True, "gridOpacity": 0.4}},
    }


def _color(series_field: str, num_series: int) -> Spec:
    legend: Spec | None = {"orient": "bottom", "title": None, "labelLimit": 320} if num_series > 1 else None
    return {"field": series_field, "type": "nominal", "legend": legend}


def _rules(thresholds: Sequence[Threshold], axis: str, title: str) -> list[Spec]:
    """SLO lines across the chart at `axis` ("x": vertical lines labelled at the top; "y": horizontal ones
    labelled at the left)."""
    if not thresholds:
        return []
    values = [{axis: t.value, "label": t.label} for t in thresholds]
    position = {"field": axis, "type": "quantitative", "title": title}
    other = "y" if axis == "x" else "x"
    offsets = {"dy": 8, "baseline": "top"} if axis == "x" else {"dy": -6}
    return [
        {
            "data": {"values": values},
            "mark": {"type": "rule", "color": SLO_COLOR, "strokeDash": [5, 4], "strokeWidth": 1.5},
            "encoding": {axis: position},
        },
        {
            "data": {"values": values},
            "mark": {"type": "text", "color": SLO_COLOR, "align": "left", "dx": 4, **offsets},
            "encoding": {axis: position, other: {"value": 0}, "text": {"field": "label"}},
        },
    ]


def cdf(
    series: dict[str, list[tuple[float, float]]], *, x_title: str, thresholds: Sequence[Threshold] = ()
) -> Spec:
    """Empirical CDFs, one line per series (a run), with vertical SLO lines."""
    values = [{"run": name, "x": x, "p": p} for name, points in series.items() for x, p in points]
    line = {
        "mark": {"type": "line", "interpolate": "step-after", "strokeWidth": 2},
        "encoding": {
            "x": {"field": "x", "type": "quantitative", "title": x_title},
            "y": {
                "field": "p",
                "type": "quantitative",
                "title": "fraction of requests",
                "scale": {"domain": [0, 1]},
                "axis": {"format": "%"},
            },
            "color": _color("run", len(series)),
            "tooltip": [
                {"field": "run", "type": "nominal"},
                {"field": "x", "type": "quantitative", "title": x_title, "format": ",.2f"},
                {"field": "p", "type": "quantitative", "title": "fraction", "format": ".2%"},
            ],
        },
    }
    return _base(values, [line, *_rules(thresholds, "x", x_title)])


def lines(
    points: list[dict[str, Any]],
    *,
    x: str,
    x_title: str,
    y_title: str,
    series: str = "series",
    y_format: str | None = None,
    thresholds: Sequence[Threshold] = (),
    with_points: bool = False,
    x_log: bool = False,
    step: bool = False,
    unflagged: str | None = None,
    flag_label: str = "",
) -> Spec:
    """Lines of `points` ({x: ..., "value": ..., series: ...}) coloured by series, with horizontal SLO lines;
    `step`: values that hold over a bin from its start (rates counted in bins); `unflagged`: a boolean
    field of the points, those where it is false get `flag_label` above them."""
    num_series = len({p[series] for p in points})
    y_axis: Spec = {"format": y_format} if y_format else {}
    line = {
        "mark": {
            "type": "line",
            "point": with_points,
            "strokeWidth": 2,
            "interpolate": "step-after" if step else "linear",
        },
        "encoding": {
            "x": {
                "field": x,
                "type": "quantitative",
                "title": x_title,
                "scale": {"type": "log"} if x_log else {"zero": False},
            },
            "y": {"field": "value", "type": "quantitative", "title": y_title, "axis": y_axis},
            "color": _color(series, num_series),
            "tooltip": [
                {"field": series, "type": "nominal"},
                {"field": x, "type": "quantitative", "title": x_title, "format": ",.3~f"},
                {"field": "value", "type": "quantitative", "title": y_title, "format": y_format or ",.3~f"},
            ],
        },
    }
    layers: list[Spec] = [line]
    if unflagged is not None:  # label the points whose boolean field `unflagged` is false
        encoding = {k: v for k, v in line["encoding"].items() if k in ("x", "y", "color")}
        layers.append(
            {
                "transform": [{"filter": f"!datum['{unflagged}']"}],
                "mark": {"type": "text", "text": flag_label, "dy": -9, "fontSize": 10},
                "encoding": encoding,
            }
        )
    return _base(points, [*layers, *_rules(thresholds, "y", y_title)])


def histogram(edges: Sequence[float], counts: Sequence[int], *, x_title: str) -> Spec:
    """Bars between bin edges; a log axis when the lengths span more than two decades."""
    values = [
        {"lo": lo, "hi": hi, "count": c} for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)
    ]
    log = bool(edges) and edges[0] > 0 and edges[-1] / edges[0] > 100
    bars = {
        "mark": {"type": "rect", "stroke": "white", "strokeWidth": 0.5},
        "encoding": {
            "x": {
                "field": "lo",
                "type": "quantitative",
                "title": x_title,
                "scale": {"type": "log"} if log else {},
            },
            "x2": {"field": "hi"},
            "y": {"field": "count", "type": "quantitative", "title": "requests"},
            "tooltip": [
                {"field": "lo", "type": "quantitative", "title": "from", "format": ",.0f"},
                {"field": "hi", "type": "quantitative", "title": "to (excl.)", "format": ",.0f"},
                {"field": "count", "type": "quantitative", "title": "requests"},
            ],
        },
    }
    return _base(values, [bars])


def grouped_bars(rows: list[dict[str, Any]], *, category: str, group: str, y_title: str) -> Spec:
    """Bars of `value` per category, one bar per group side by side (e.g. p50/p90/p99 per metric)."""
    bars = {
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": category, "type": "nominal", "title": None, "axis": {"labelAngle": 0}},
            "xOffset": {"field": group, "type": "nominal"},
            "y": {"field": "value", "type": "quantitative", "title": y_title},
            "color": {"field": group, "type": "nominal", "legend": {"orient": "bottom", "title": None}},
            "tooltip": [
                {"field": category, "type": "nominal"},
                {"field": group, "type": "nominal"},
                {"field": "value", "type": "quantitative", "format": ",.3~f"},
            ],
        },
    }
    return _base(rows, [bars])


def scatter(
    points: list[dict[str, Any]],
    *,
    x: str,
    y: str,
    x_title: str,
    y_title: str,
    group: str = "group",
    line_group: str | None = None,
) -> Spec:
    """Points coloured and shaped by `group`; the points of `line_group` (a frontier) also joined by a line
    in x order. Tooltips show every field of a point."""
    tooltip = (
        [
            {"field": k, "type": "quantitative" if isinstance(v, int | float) else "nominal"}
            for k, v in points[0].items()
        ]
        if points
        else []
    )
    encoding = {
        "x": {"field": x, "type": "quantitative", "title": x_title, "scale": {"zero": False}},
        "y": {"field": y, "type": "quantitative", "title": y_title, "scale": {"zero": False}},
    }
    layers: list[Spec] = []
    if line_group is not None:
        layers.append(
            {
                "transform": [{"filter": {"field": group, "equal": line_group}}],
                "mark": {"type": "line", "color": "#888", "strokeDash": [3, 3]},
                "encoding": {**encoding, "order": {"field": x, "type": "quantitative"}},
            }
        )
    layers.append(
        {
            "mark": {"type": "point", "filled": True, "size": 70, "opacity": 0.85},
            "encoding": {
                **encoding,
                "color": _color(group, len({p[group] for p in points})),
                "shape": {"field": group, "type": "nominal", "legend": None},
                "tooltip": tooltip,
            },
        }
    )
    return _base(points, layers)
