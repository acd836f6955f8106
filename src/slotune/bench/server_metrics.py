"""The server's Prometheus `/metrics`: parsing, periodic scrapes, and deltas over the measured window.

Names are vLLM's as exposed (slotune.vllm_metrics.names, checked against the catalogue of vLLM's
metrics): counters with `_total`, histograms as `_sum`/`_count`/`_bucket`, gauges for running/waiting
requests and KV usage. Samples of one name are summed over label sets (e.g. one per `finished_reason`),
except histogram buckets, which are kept per `le`.
A counter that goes down between two scrapes means the server restarted: the delta is then counted from
zero and the restart is reported.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from slotune.models import GaugeStats, HistogramWindow, ServerWindow, StepSample
from slotune.vllm_metrics import names as vllm_names

Labels = tuple[tuple[str, str], ...]

RUNNING = vllm_names.NUM_REQUESTS_RUNNING
WAITING = vllm_names.NUM_REQUESTS_WAITING
# The current name first; servers older than the catalogued vLLM versions expose the legacy one.
KV_USAGE = (vllm_names.KV_CACHE_USAGE, vllm_names.LEGACY_KV_CACHE_USAGE)
PREFIX_HITS = (vllm_names.PREFIX_CACHE_HITS, vllm_names.LEGACY_PREFIX_CACHE_HITS)
PREFIX_QUERIES = (vllm_names.PREFIX_CACHE_QUERIES, vllm_names.LEGACY_PREFIX_CACHE_QUERIES)
PREEMPTIONS = vllm_names.NUM_PREEMPTIONS
PROMPT_TOKENS = vllm_names.PROMPT_TOKENS
GENERATION_TOKENS = vllm_names.GENERATION_TOKENS
REQUEST_SUCCESS = vllm_names.REQUEST_SUCCESS
HISTOGRAMS = {
    "queue_time_s": vllm_names.REQUEST_QUEUE_TIME,
    "ttft_s": vllm_names.TIME_TO_FIRST_TOKEN,
    "itl_s": vllm_names.INTER_TOKEN_LATENCY,
    "e2e_s": vllm_names.E2E_REQUEST_LATENCY,
    "prefill_time_s": vllm_names.REQUEST_PREFILL_TIME,
    "decode_time_s": vllm_names.REQUEST_DECODE_TIME,
}
COUNTERS = {
    "prefix_cache_hits": PREFIX_HITS,
    "prefix_cache_queries": PREFIX_QUERIES,
    "num_preemptions": (PREEMPTIONS,),
    "prompt_tokens": (PROMPT_TOKENS,),
    "generation_tokens": (GENERATION_TOKENS,),
    "requests_finished": (REQUEST_SUCCESS,),
}


def _unescape(value: str) -> str:
    return value.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


def _parse_labels(text: str) -> Labels:
    """`a="x",b="y \\" z"` -> (("a", "x"), ("b", 'y " z')); tolerant of a trailing comma."""
    labels: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " ,":
            i += 1
        if i >= n:
            break
        eq = text.index("=", i)
        name = text[i:eq].strip()
        j = eq + 1
        while text[j] == " ":
            j += 1
        if text[j] != '"':
            raise ValueError(f"label value not quoted: {text!r}")
        j += 1
        start = j
        while text[j] != '"':
            j += 2 if text[j] == "\\" else 1
        labels.append((name, _unescape(text[start:j])))
        i = j + 1
    return tuple(sorted(labels))


def _parse_value(text: str) -> float:
    t = text.strip()
    if t in ("+Inf", "Inf"):
        return math.inf
    if t == "-Inf":
        return -math.inf
    return float(t)  # "NaN" parses too


@dataclass(slots=True)
class Snapshot:
    """One scrape: every sample by (name, labels)."""

    time_s: float
    samples: dict[str, dict[Labels, float]] = field(default_factory=dict)

    def total(self, *names: str) -> float | None:
        """Sum over label sets of the first of `names` that the server exposes."""
        for name in names:
            series = self.samples.get(name)
            if series is not None:
                return float(sum(series.values()))
        return None

    def labels_of(self, name: str) -> list[dict[str, str]]:
        return [dict(labels) for labels in self.samples.get(name, {})]

    def buckets(self, name: str) -> list[tuple[float, float]]:
        """(le, cumulative count) of a histogram, summed over other labels, sorted by le."""
        by_le: dict[float, float] = {}
        for labels, value in self.samples.get(name + "_bucket", {}).items():
            le = dict(labels).get("le")
            if le is not None:
                bound = _parse_value(le)
                by_le[bound] = by_le.get(bound, 0.0) + value
        return sorted(by_le.items())


def parse_prometheus(text: str, *, time_s: float = 0.0) -> Snapshot:
    """Parse the Prometheus text exposition format (0.0.4). Malformed lines are skipped."""
    snap = Snapshot(time_s=time_s)
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            brace = line.find("{")
            if brace >= 0:
                close = line.rindex("}")
                name = line[:brace].strip()
                labels = _parse_labels(line[brace + 1 : close])
                rest = line[close + 1 :].split()
            else:
                parts = line.split()
                name, labels, rest = parts[0], (), parts[1:]
            if not rest:
                continue
            value = _parse_value(rest[0])
        except (ValueError, IndexError):
            continue
        snap.samples.setdefault(name, {})[labels] = value
    return snap


def _counter_delta(before: float | None, after: float | None) -> tuple[float | None, bool]:
    """(after - before, reset?) with a counter reset (server restart) counted from zero."""
    if before is None or after is None:
        return None, False
    if after < before:
        return after, True
    return after - before, False


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus's histogram_quantile over cumulative (le, count) buckets: linear within a bucket."""
    if not buckets:
        return None
    total = buckets[-1][1]
    if total <= 0:
        return None
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return prev_le
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return buckets[-1][0]


def window_deltas(before: Snapshot, after: Snapshot) -> ServerWindow:
    """What the server did between two scrapes: counter deltas, histogram means and quantiles."""
    counters: dict[str, float | None] = {}
    resets: list[str] = []
    for key, names in COUNTERS.items():
        delta, reset = _counter_delta(before.total(*names), after.total(*names))
        counters[key] = delta
        if reset:
            resets.append(key)
    histograms: dict[str, HistogramWindow] = {}
    for key, name in HISTOGRAMS.items():
        d_sum, r1 = _counter_delta(before.total(name + "_sum"), after.total(name + "_sum"))
        d_count, r2 = _counter_delta(before.total(name + "_count"), after.total(name + "_count"))
        if d_sum is None or d_count is None:
            continue
        if r1 or r2:
            resets.append(key)
        b_before = dict(before.buckets(name))
        delta_buckets = [(le, c - b_before.get(le, 0.0)) for le, c in after.buckets(name)]

        def quantile(
            q: float, _buckets: list[tuple[float, float]] = delta_buckets, _n: float = d_count
        ) -> float | None:
            return histogram_quantile(q, _buckets) if _n else None

        histograms[key] = HistogramWindow(
            count=d_count,
            mean=(d_sum / d_count) if d_count else None,
            p50=quantile(0.5),
            p90=quantile(0.9),
            p99=quantile(0.99),
        )
    return ServerWindow(
        window_s=after.time_s - before.time_s,
        **counters,
        histograms=histograms,
        counter_resets=tuple(resets),
    )


def prefix_hit_rate(window: ServerWindow) -> float | None:
    """Hit tokens / queried tokens over the window (vLLM counts both in tokens)."""
    hits, queries = window.prefix_cache_hits, window.prefix_cache_queries
    return hits / queries if hits is not None and queries else None


def timeline_samples(snapshots: list[Snapshot]) -> list[StepSample]:
    """One StepSample per scrape interval: gauges at its end, counter deltas over it."""
    samples: list[StepSample] = []
    for prev, cur in itertools.pairwise(snapshots):

        def delta(*names: str, _p: Snapshot = prev, _c: Snapshot = cur) -> int:
            d, _ = _counter_delta(_p.total(*names), _c.total(*names))
            return max(0, round(d)) if d is not None else 0

        kv = cur.total(*KV_USAGE)
        samples.append(
            StepSample(
                time_s=cur.time_s,
                duration_s=cur.time_s - prev.time_s,
                num_running=int(cur.total(RUNNING) or 0),
                num_waiting=int(cur.total(WAITING) or 0),
                num_prefill_tokens=delta(PROMPT_TOKENS),
                num_decode_tokens=delta(GENERATION_TOKENS),
                kv_usage=max(0.0, float(kv)) if kv is not None and math.isfinite(kv) else 0.0,
                num_preemptions=delta(PREEMPTIONS),
                prefix_hit_tokens=delta(*PREFIX_HITS),
                prefix_query_tokens=delta(*PREFIX_QUERIES),
            )
        )
    return samples


def gauge_summary(snapshots: list[Snapshot]) -> dict[str, GaugeStats | None]:
    """Mean and max of running, waiting and KV usage over the scrapes."""
    out: dict[str, GaugeStats | None] = {}
    for key, names in (
        ("num_requests_running", (RUNNING,)),
        ("num_requests_waiting", (WAITING,)),
        ("kv_cache_usage", KV_USAGE),
    ):
        values = [v for s in snapshots if (v := s.total(*names)) is not None and math.isfinite(v)]
        out[key] = GaugeStats(mean=sum(values) / len(values), max=max(values)) if values else None
    return out


def engine_info(snapshot: Snapshot) -> dict[str, str]:
    """Engine settings the server publishes as `*_info` gauges' labels (vLLM: `vllm:cache_config_info`)."""
    info: dict[str, str] = {}
    for name, series in snapshot.samples.items():
        if not name.endswith("_info"):
            continue
        short = name.split(":", 1)[-1].removesuffix("_info")
        for labels in series:
            for key, value in labels:
                if key in ("model_name", "engine"):
                    continue
                info[f"{short}.{key}"] = value
    return info
