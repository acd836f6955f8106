"""The SLO as clients see it: vLLM's latency histograms shifted by the API server's time outside them.

vLLM times TTFT and E2E from the moment its API server starts rendering the request (`arrival_time`) to the
moment its output processor handles the token: the HTTP request's parsing before, and the detokenizing, SSE
framing and socket write after, are outside. A client counts them, so on a busy API server (a few ms on a small
host) its TTFTs sit that much above the server's, and a threshold among most requests' TTFTs moves several
points of attainment. The API server's own HTTP histogram (prometheus-fastapi-instrumentator's
`http_request_duration_seconds{handler, method}`, streaming included) spans the whole request, so over a window

    outside = mean(HTTP duration of the generation handlers) - mean(vLLM E2E)

is the mean time a client sees that vLLM's histograms do not; the client's share within a threshold T is the
server's share within T - outside. T - outside is rarely a bucket edge: the cumulative counts are interpolated
with a monotone cubic (PCHIP) through the bucket edges, which follows a density that rises or falls across
neighbouring buckets where a straight line inside one bucket would assume it flat.

What it cannot see: the network between client and server (watch reads what the server measured), and a
per-request spread of the outside time around its mean. Requests the server rejected (4xx) count in the HTTP
histogram but not in vLLM's E2E, which pulls the estimate towards the server's view.
"""

from __future__ import annotations

import math

from slotune.bench.server_metrics import Snapshot
from slotune.deploy.monitoring.series import SLO_HISTOGRAMS
from slotune.watch.shares import Share, share_at_edges

HTTP_DURATION = "http_request_duration_seconds"
# The OpenAI routes that generate (the handler label is the route's path template).
GENERATION_HANDLERS = frozenset({"/v1/completions", "/v1/chat/completions", "/v1/responses"})
# Terms whose vLLM histogram leaves out the API server's time (ITL and TPOT are differences of token times).
SHIFTED_METRICS = frozenset({"ttft", "e2e"})


def _generation_total(snap: Snapshot, name: str) -> float | None:
    series = snap.samples.get(name)
    if series is None:
        return None
    values = [v for labels, v in series.items() if dict(labels).get("handler") in GENERATION_HANDLERS]
    return float(sum(values)) if values else None


def _window_mean(before: Snapshot, after: Snapshot, total: str, count: str, labelled: bool) -> float | None:
    def read(snap: Snapshot, name: str) -> float | None:
        return _generation_total(snap, name) if labelled else snap.total(name)

    sum_a, count_a = read(after, total), read(after, count)
    if sum_a is None or count_a is None:
        return None
    sum_b, count_b = read(before, total), read(before, count)
    if sum_b is None or count_b is None or count_a < count_b:  # new series, or a restart: from zero
        sum_b, count_b = 0.0, 0.0
    n = count_a - count_b
    return (sum_a - sum_b) / n if n > 0 else None


def outside_engine_s(before: Snapshot, after: Snapshot) -> float | None:
    """Mean time per request that a client sees and vLLM's E2E does not, over the window; None where the server
    exposes no HTTP histogram for its generation routes or no request finished."""
    http = _window_mean(before, after, HTTP_DURATION + "_sum", HTTP_DURATION + "_count", labelled=True)
    e2e_name = SLO_HISTOGRAMS["e2e"]
    e2e = _window_mean(before, after, e2e_name + "_sum", e2e_name + "_count", labelled=False)
    if http is None or e2e is None:
        return None
    return max(0.0, http - e2e)


def client_share(buckets: list[tuple[float, float]], threshold: float, outside_s: float) -> Share | None:
    """Share of requests whose client-side latency (server's + outside_s) is within the threshold."""
    point = max(0.0, threshold - outside_s)  # no latency is negative
    bounds = share_at_edges(buckets, point)
    finite = [(le, c) for le, c in buckets if not math.isinf(le)]
    if bounds is None or bounds.low == bounds.high or not finite or point >= finite[-1][0]:
        return bounds  # no events, an edge (exact), or beyond the last finite edge (nothing to curve through)
    from scipy.interpolate import PchipInterpolator  # only the client view needs scipy

    origin = [(0.0, 0.0)] if finite[0][0] > 0 else []  # the curve starts at zero
    edges = [le for le, _ in origin + finite]
    counts = [c for _, c in origin + finite]
    value = float(PchipInterpolator(edges, counts)(point)) / buckets[-1][1]
    # PCHIP is monotone between the edges, so the value stays within the two edges' shares.
    return Share(min(max(value, bounds.low), bounds.high), bounds.low, bounds.high)
