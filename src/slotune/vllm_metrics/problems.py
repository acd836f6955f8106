"""What in a PromQL expression will not work against a vLLM version's /metrics: names it does not expose (with
what to use instead), and histogram misuse that can be seen without running the query."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence

import slotune.vllm_metrics.promql as promql
from slotune.errors import InputError
from slotune.models.vllm_metrics import MetricProblem, MetricType, SeriesRef
from slotune.vllm_metrics.catalogue import (
    CATALOGUED_VERSIONS,
    catalogue,
    catalogued_version,
    histogram_buckets,
    nearest_bucket_edges,
    replacement_for,
    resolve_series,
    series_names,
    split_suffix,
)

# Functions that turn cumulative bucket counters into per-interval counts, as histogram_quantile needs.
_RATE_FUNCTIONS = frozenset({"rate", "irate", "increase"})
_ARITHMETIC = frozenset({"+", "-", "*", "/", "%", "^", "atan2"})
_BOOL = frozenset({"bool"})
_TEMPLATE_VAR = re.compile(r"\$(\{|\[|[A-Za-z_])")


def is_vllm_metric_name(name: str) -> bool:
    """A name vLLM could expose: `vllm:` then no other colon (`job:vllm:rate5m` is a recording rule's)."""
    return name.startswith("vllm:") and name.count(":") == 1 and len(name) > len("vllm:")


def check_name(name: str, version: str) -> tuple[SeriesRef | None, MetricProblem | None]:
    """The series a `vllm:` name selects in this version, or why it selects nothing."""
    ref = resolve_series(name, version)
    if ref is not None:
        return ref, None
    return None, _name_problem(name, version)


def _name_problem(name: str, version: str) -> MetricProblem:
    release = catalogued_version(version)
    replacement = replacement_for(name)
    if replacement is not None:
        removed = replacement.removed
        assert removed is not None
        when = removed.removed_in if removed.removed_in.startswith("before") else f"in {removed.removed_in}"
        return MetricProblem(
            kind="removed",
            name=name,
            message=f"{name} was removed from vLLM {when}: {replacement.text}",
            replacement=replacement.series or replacement.expr,
        )
    cat = catalogue(release)
    family = cat.family(name)
    if family is not None and family.type in (MetricType.COUNTER, MetricType.HISTOGRAM):
        if family.type is MetricType.COUNTER:
            message = f"{name} is a counter: its series is {name}_total"
            fix: str | None = name + "_total"
        else:
            message = f"{name} is a histogram: query {name}_bucket (quantiles), {name}_sum or {name}_count"
            fix = None
        return MetricProblem(kind="missing_suffix", name=name, message=message, replacement=fix)
    base, suffix = split_suffix(name)
    family = cat.family(base)
    if family is not None:
        right = family.series(created=False)
        return MetricProblem(
            kind="wrong_suffix",
            name=name,
            message=f"{base} is a {family.type.value}: it has no {suffix} series; its series: {', '.join(right)}",
            replacement=right[0] if len(right) == 1 else None,
        )
    elsewhere = [v for v in CATALOGUED_VERSIONS if v != release and resolve_series(name, v) is not None]
    if elsewhere:
        return MetricProblem(
            kind="not_in_version",
            name=name,
            message=f"{name} is exposed by vLLM {', '.join(elsewhere)}, not by {release}",
        )
    close = difflib.get_close_matches(name, sorted(series_names(release, created=False)), n=1, cutoff=0.8)
    return MetricProblem(
        kind="unknown",
        name=name,
        message=f"no vLLM {release} metric is named {name}"
        + (f"; did you mean {close[0]}?" if close else ""),
        replacement=close[0] if close else None,
    )


def _regex_problem(matcher: promql.Matcher, version: str) -> MetricProblem | None:
    """A `__name__=~"vllm:..."` matcher that no series of the version matches."""
    if matcher.label != "__name__" or matcher.op != "=~" or not matcher.value.startswith("vllm:"):
        return None
    if _TEMPLATE_VAR.search(matcher.value):
        return None
    try:
        pattern = re.compile(matcher.value)
    except re.error:
        return None
    if any(pattern.fullmatch(s) for s in series_names(version)):
        return None
    return MetricProblem(
        kind="no_series_match",
        name=matcher.value,
        message=f'__name__=~"{matcher.value}" matches no series of vLLM {catalogued_version(version)}',
        offset=matcher.value_start,
    )


def _label_value_problems(ref: SeriesRef, sel: promql.Selector) -> list[MetricProblem]:
    """`finished_reason="eos"`: an equality matcher on a label whose values vLLM fixes, with another value."""
    problems = []
    for m in sel.matchers:
        values = ref.family.label_values.get(m.label)
        if values is None or m.op != "=" or m.value in values or _TEMPLATE_VAR.search(m.value):
            continue
        close = difflib.get_close_matches(m.value, values, n=1, cutoff=0.5)
        problems.append(
            MetricProblem(
                kind="unknown_label_value",
                name=m.value,
                message=(
                    f'{m.label}="{m.value}" matches no series of {ref.family.name}: vLLM sets {m.label} to one of '
                    f"{', '.join(values)}"
                ),
                replacement=close[0] if close else None,
                offset=m.value_start,
            )
        )
    return problems


class _Checker:
    def __init__(
        self,
        version: str,
        max_model_len: int | None,
        custom_buckets: Mapping[str, Sequence[float]] | None,
        recording_rules: frozenset[str],
    ) -> None:
        self.version = version
        self.max_model_len = max_model_len
        self.custom_buckets = custom_buckets
        self.recording_rules = recording_rules

    def edges(self, ref: SeriesRef) -> tuple[float, ...] | None:
        """The histogram's edges on this server, None when they depend on a setting not given."""
        if ref.family.bucket_rule is not None and self.max_model_len is None:
            custom = self.custom_buckets or {}
            if ref.family.bucket_family not in custom:
                return None
        return histogram_buckets(
            ref.family.name,
            self.version,
            max_model_len=self.max_model_len,
            custom_buckets=self.custom_buckets,
        )

    def expression(self, expr: str) -> list[MetricProblem]:
        problems: list[MetricProblem] = []
        nodes = promql.parse(expr)
        for node, ancestors in promql.walk(nodes):
            if isinstance(node, promql.Selector) and not node.templated:
                problems.extend(self.selector(node, ancestors))
        for node, _ in promql.walk(nodes):
            if isinstance(node, promql.Call):
                problems.extend(self.thresholds(node.children))
        problems.extend(self.thresholds(nodes))
        return problems

    def selector(self, sel: promql.Selector, ancestors: tuple[promql.Call, ...]) -> list[MetricProblem]:
        problems: list[MetricProblem] = []
        for m in sel.matchers:
            if (p := _regex_problem(m, self.version)) is not None:
                problems.append(p)
        for name, offset in sel.names():
            if not is_vllm_metric_name(name) or name in self.recording_rules:
                continue
            ref, problem = check_name(name, self.version)
            if problem is not None:
                problems.append(problem.model_copy(update={"offset": offset}))
            if ref is not None:
                problems.extend(_label_value_problems(ref, sel))
            if ref is not None and ref.suffix == "_bucket":
                problems.extend(
                    p.model_copy(update={"offset": offset}) for p in self.bucket_use(ref, ancestors)
                )
                problems.extend(self.le_matchers(ref, sel))
        return problems

    def bucket_use(self, ref: SeriesRef, ancestors: tuple[promql.Call, ...]) -> list[MetricProblem]:
        """histogram_quantile over a _bucket selector: counters need rate()/increase(), and `le` must survive."""
        outer = [i for i, call in enumerate(ancestors) if call.func_lower == "histogram_quantile"]
        if not outer:
            return []
        inside = ancestors[outer[-1] + 1 :]
        problems = []
        if not any(call.func_lower in _RATE_FUNCTIONS for call in inside):
            problems.append(
                MetricProblem(
                    kind="quantile_without_rate",
                    name=ref.series,
                    message=(
                        f"histogram_quantile over {ref.series} without rate()/increase(): the buckets are "
                        "counters since the server started, so the quantile is of its whole life, not of now"
                    ),
                    replacement=f"histogram_quantile(q, sum by (le) (rate({ref.series}[5m])))",
                )
            )
        for call in inside:
            if call.func_lower not in promql.AGGREGATORS:
                continue
            kind, labels = call.grouping or ("by", ())
            if (kind == "by" and "le" not in labels) or (kind == "without" and "le" in labels):
                grouping = f" {kind} ({', '.join(labels)})" if call.grouping else ""
                problems.append(
                    MetricProblem(
                        kind="quantile_drops_le",
                        name=ref.series,
                        message=(
                            f"{call.func}{grouping} under histogram_quantile drops the `le` label of "
                            f"{ref.series}: the quantile has no buckets to read (keep `le`: by (le, ...))"
                        ),
                    )
                )
        return problems

    def le_matchers(self, ref: SeriesRef, sel: promql.Selector) -> list[MetricProblem]:
        edges = self.edges(ref)
        if edges is None:
            return []
        problems = []
        for m in sel.matchers:
            if m.label != "le" or m.op != "=" or m.value in ("+Inf", "Inf", "inf"):
                continue
            try:
                value = float(m.value)
            except ValueError:
                continue
            if not any(math.isclose(value, e, rel_tol=1e-9, abs_tol=1e-12) for e in edges):
                bracket = nearest_bucket_edges(
                    ref.family.name,
                    value,
                    self.version,
                    max_model_len=self.max_model_len,
                    custom_buckets=self.custom_buckets,
                )
                near = [e for e in (bracket.lower, bracket.upper) if e is not None]
                problems.append(
                    MetricProblem(
                        kind="le_not_an_edge",
                        name=m.value,
                        message=(
                            f'le="{m.value}" is not a bucket edge of {ref.family.name}: the selector matches no '
                            f"series; the nearest edges are {' and '.join(_fmt(e) for e in near)}"
                        ),
                        replacement=_fmt(near[-1]) if near else None,
                        offset=m.value_start,
                    )
                )
        return problems

    def quantile_histogram(self, call: promql.Call) -> SeriesRef | None:
        for node, _ in promql.walk(call.children):
            if isinstance(node, promql.Selector) and not node.templated:
                for name, _offset in node.names():
                    ref = resolve_series(name, self.version) if is_vllm_metric_name(name) else None
                    if ref is not None and ref.suffix == "_bucket":
                        return ref
        return None

    def thresholds(self, nodes: list[promql.Node]) -> list[MetricProblem]:
        """`histogram_quantile(...) > 0.2` (either order) with 0.2 between two bucket edges."""
        problems = []
        for i, node in enumerate(nodes):
            if not (isinstance(node, promql.Call) and node.func_lower == "histogram_quantile"):
                continue
            scalar = _compared_scalar(nodes, i)
            ref = self.quantile_histogram(node) if scalar is not None else None
            if scalar is None or ref is None or (edges := self.edges(ref)) is None:
                continue
            if any(math.isclose(scalar.value, e, rel_tol=1e-9, abs_tol=1e-12) for e in edges):
                continue
            bracket = nearest_bucket_edges(
                ref.family.name,
                scalar.value,
                self.version,
                max_model_len=self.max_model_len,
                custom_buckets=self.custom_buckets,
            )
            between = " and ".join(_fmt(e) for e in (bracket.lower, bracket.upper) if e is not None)
            problems.append(
                MetricProblem(
                    kind="threshold_not_an_edge",
                    name=scalar.text,
                    message=(
                        f"threshold {scalar.text} is not a bucket edge of {ref.family.name} (nearest: {between}): "
                        "the quantile is interpolated inside the bucket, so the alert fires on an estimate; "
                        "use an edge, or alert on the share of requests under an edge"
                    ),
                    offset=scalar.start,
                )
            )
        return problems


def _compared_scalar(nodes: list[promql.Node], i: int) -> promql.Scalar | None:
    """The number nodes[i] alone is compared with: `x > [bool] 0.2` or `0.2 < [bool] x`.

    Arithmetic binds tighter than comparison, so `x > 0.2 + y` or `x * 1000 > 200` compare something else."""

    def op_in(node: promql.Node | None, ops: frozenset[str]) -> bool:
        return isinstance(node, promql.Operator) and node.text in ops

    kept = [n for n in nodes if not op_in(n, _BOOL)]
    j = next(k for k, n in enumerate(kept) if n is nodes[i])

    def at(k: int) -> promql.Node | None:
        return kept[k] if 0 <= k < len(kept) else None

    if op_in(at(j - 1), _ARITHMETIC) or op_in(at(j + 1), _ARITHMETIC):
        return None
    after, before = at(j + 2), at(j - 2)
    if (
        op_in(at(j + 1), promql.COMPARISONS)
        and isinstance(after, promql.Scalar)
        and not op_in(at(j + 3), _ARITHMETIC)
    ):
        return after
    if (
        op_in(at(j - 1), promql.COMPARISONS)
        and isinstance(before, promql.Scalar)
        and not op_in(at(j - 3), _ARITHMETIC)
    ):
        return before
    return None


def _fmt(value: float) -> str:
    return f"{value:g}"


def find_problems(
    promql_or_metric_names: str | Iterable[str],
    version: str,
    *,
    max_model_len: int | None = None,
    custom_buckets: Mapping[str, Sequence[float]] | None = None,
    recording_rules: Iterable[str] = (),
) -> list[MetricProblem]:
    """Every `vllm:` name in the expressions that this vLLM version does not expose, with the replacement, and the
    histogram misuse visible in the text.

    One string is one PromQL expression; an iterable gives several (bare metric names are expressions too).
    max_model_len / custom_buckets: the server's, so token-count edges are known (without them, checks that need
    those edges are skipped). recording_rules: rule names to leave alone (names with a second colon, the
    recording-rule convention, are never judged)."""
    release = catalogued_version(version)
    expressions = (
        [promql_or_metric_names] if isinstance(promql_or_metric_names, str) else list(promql_or_metric_names)
    )
    for i, expr in enumerate(expressions):
        if not isinstance(expr, str):
            raise InputError(f"expressions[{i}]", expr, "give PromQL expressions or metric names as strings")
    checker = _Checker(release, max_model_len, custom_buckets, frozenset(recording_rules))
    return [
        problem.model_copy(update={"expression_index": i})
        for i, expr in enumerate(expressions)
        for problem in checker.expression(expr)
    ]
