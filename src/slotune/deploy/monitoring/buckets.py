"""Histogram buckets for the SLO: a latency threshold is judged exactly only at a bucket edge.

The share of requests under a threshold is `bucket{le=T} / count` when T is an edge; between two edges
Prometheus can only interpolate. vLLM 0.32 takes `--custom-histogram-buckets` per bucket family, so the rendered
server gets each family's default edges plus the SLO's thresholds; an older vLLM keeps its edges, and the rules
count good events at the edge below the threshold (stricter than the SLO: an alert may fire early, never late).

TTFT and E2E thresholds also get a ladder of edges just below them. vLLM times these from its API server's render
to its output processor; a client also waits for HTTP parsing, detokenizing and the SSE write, a few ms
(slotune.watch.client_view measures it live from the API server's HTTP histogram), so `slotune watch` judges
clients at T - outside. At the mode of a TTFT distribution a few ms move many requests, and no reading of a 20 ms
bucket places them: with edges 1-20 ms under T the client view reads between edges a millisecond or two apart.
"""

from __future__ import annotations

import math
from collections import defaultdict

from slotune.deploy.monitoring.series import SLO_HISTOGRAMS, family
from slotune.models.deploy import BucketAdvice
from slotune.models.slo import SLO, SLOTarget
from slotune.vllm_metrics import catalogued_version, histogram_buckets


def _is_edge(value: float, edges: tuple[float, ...]) -> bool:
    return any(math.isclose(value, e, rel_tol=1e-9, abs_tol=1e-12) for e in edges)


def judged_targets(slo: SLO | None) -> list[SLOTarget]:
    """The SLO's latency terms judged on a histogram's buckets (percentiles; a mean is judged on _sum/_count)."""
    if slo is None:
        return []
    return [t for t in slo.targets if t.is_latency and t.percentile is not None]


# The metrics watch judges as clients see them (shifted by the API server's time outside vLLM's interval), and
# the offsets under a threshold that get an edge: the outside time measured 2-4 ms per request on a CPU server
# and on an H200 host; the ladder reaches 20 ms for a busier API server.
CLIENT_SHIFTED = frozenset({"ttft", "e2e"})
CLIENT_OFFSETS_S = (0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.010, 0.015, 0.020)


def client_edges(threshold: float) -> tuple[float, ...]:
    """Edges under a TTFT/E2E threshold where clients are judged (T - outside), kept above T/2 (rounded to a
    microsecond, so the flag's JSON stays short and the edges strictly increase)."""
    return tuple(round(threshold - d, 6) for d in CLIENT_OFFSETS_S if threshold - d > threshold / 2)


def custom_buckets(slo: SLO | None, version: str) -> dict[str, tuple[float, ...]]:
    """`--custom-histogram-buckets` for this SLO: each family whose default edges miss a threshold gets the
    thresholds added, and TTFT/E2E families the client ladder under theirs (every histogram of the family
    changes together: ITL and TPOT share one). Empty where the version takes no custom buckets or nothing is
    missing."""
    wanted: dict[str, set[float]] = defaultdict(set)
    for target in judged_targets(slo):
        fam = family(SLO_HISTOGRAMS[target.metric], version)
        if fam.bucket_family is None:
            continue
        edges = histogram_buckets(fam.name, version)
        extra = {target.threshold}
        if target.metric in CLIENT_SHIFTED:
            extra.update(client_edges(target.threshold))
        if all(_is_edge(e, edges) for e in extra):
            continue
        wanted[fam.bucket_family].update(edges)
        wanted[fam.bucket_family].update(extra)
    return {key: _strictly_increasing(values) for key, values in sorted(wanted.items())}


def _strictly_increasing(values: set[float]) -> tuple[float, ...]:
    """Sorted, without edges equal to within float noise (vLLM refuses a list that does not strictly increase)."""
    out: list[float] = []
    for value in sorted(values):
        if not out or not _is_edge(value, (out[-1],)):
            out.append(value)
    return tuple(out)


def _one(target: SLOTarget, version: str, custom: dict[str, tuple[float, ...]]) -> BucketAdvice:
    release = catalogued_version(version)
    fam = family(SLO_HISTOGRAMS[target.metric], version)
    edges = histogram_buckets(fam.name, version, custom_buckets=custom)
    threshold = target.threshold
    label = f"{target.metric}:{target.stat}<{threshold * 1e3:g}ms"
    common = {
        "metric": target.metric,
        "stat": target.stat,
        "histogram": fam.name,
        "threshold_s": threshold,
        "bucket_family": fam.bucket_family,
    }
    if _is_edge(threshold, edges):
        given = fam.bucket_family in custom
        note = (
            f"{label}: the server is given --custom-histogram-buckets with {threshold:g} s in "
            f"'{fam.bucket_family}', so attainment is counted exactly"
            if given
            else f"{label}: {threshold:g} s is a default edge of {fam.name} in vLLM {release}"
        )
        ladder = client_edges(threshold) if target.metric in CLIENT_SHIFTED else ()
        if ladder:  # none under a threshold of 2 ms or less
            note += (
                f"; edges {min(ladder):g}-{max(ladder):g} s under it let watch "
                "judge clients at the threshold less the API server's time outside vLLM's interval"
                if given
                else f"; vLLM {release} takes no custom buckets, so watch reads clients (the threshold less the "
                "API server's time) inside the bucket under it: deploy on 0.32+ for edges there"
            )
        custom_edges = custom.get(fam.bucket_family) if fam.bucket_family else None
        return BucketAdvice(
            **common, judged_at_s=threshold, is_edge=True, custom_edges=custom_edges, note=note
        )
    below = [e for e in edges if e < threshold]
    judged = below[-1] if below else edges[0]
    note = (
        f"{label}: {threshold:g} s is not a bucket edge of {fam.name} in vLLM {release}, which takes no custom "
        f"buckets; the rules count requests under {judged:g} s"
        + (" (stricter than the SLO)" if below else " (the first edge: more lenient than the SLO)")
        + "; deploy on vLLM 0.32+ (--vllm-version) or put the threshold on an edge: "
        + ", ".join(f"{e:g}" for e in edges[:12])
    )
    return BucketAdvice(**common, judged_at_s=judged, is_edge=False, note=note)


def advise(slo: SLO | None, version: str, custom: dict[str, tuple[float, ...]]) -> tuple[BucketAdvice, ...]:
    """For every judged SLO term: the edge its good events are counted at, and why."""
    return tuple(_one(target, version, custom) for target in judged_targets(slo))
