"""A run's records summarized for plots (slotune.models.reports.RunPlotData): latency CDFs traced by about a
hundred quantiles (more in the tail, where SLOs live), completions over time in round bins, and the slowest
and failed requests. Its size does not grow with the run. Samples are those of slotune.metrics.summary:
requests that finished well; ITL as the gaps between consecutive streamed chunks."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from itertools import chain

import numpy as np

from slotune.models import RequestRecord
from slotune.models.reports import CdfPoints, NotableRequest, RunPlotData

EXACT_CDF_MAX = 200  # up to this many values the CDF keeps every value
NUM_SLOWEST = 10
NUM_FAILED = 20
MAX_RATE_BINS = 120
MIN_PER_BIN = 5  # completions a bin holds on average, so a short run's curve is not all spikes
_BODY_P = np.linspace(0.0, 1.0, 101)
_TAIL_P = 1.0 - np.array([5e-3, 2e-3, 1e-3, 5e-4, 2e-4, 1e-4, 5e-5, 2e-5, 1e-5])


def cdf_points(values: np.ndarray) -> CdfPoints:
    """The sample's quantiles at fixed probabilities; every value (at (i + 1) / n) for a small sample."""
    v = np.asarray(values, dtype=np.float64)
    n = int(v.size)
    if n == 0:
        return CdfPoints(count=0, p=(), value_s=())
    if n <= EXACT_CDF_MAX:
        return CdfPoints(count=n, p=tuple((i + 1) / n for i in range(n)), value_s=tuple(np.sort(v).tolist()))
    # A tail quantile is kept only where the sample has a value beyond it (1 - p >= 1/n).
    tail = _TAIL_P[(1.0 - _TAIL_P) * n >= 1.0]
    p = np.unique(np.concatenate((_BODY_P, tail)))
    return CdfPoints(count=n, p=tuple(p.tolist()), value_s=tuple(np.quantile(v, p).tolist()))


def _column(values: list[float | None]) -> np.ndarray:
    return np.array([v for v in values if v is not None], dtype=np.float64)


def itl_gaps_s(records: Sequence[RequestRecord]) -> np.ndarray:
    """All chunk gaps at once: chunk times end to end, differenced, less the gaps across two requests."""
    streamed = [r for r in records if r.chunk_times_s]
    lengths = np.array([len(r.chunk_times_s) for r in streamed], dtype=np.int64)
    total = int(lengths.sum())
    if total < 2:
        return np.empty(0)
    times = np.fromiter(chain.from_iterable(r.chunk_times_s for r in streamed), dtype=np.float64, count=total)
    gaps = np.diff(times)
    keep = np.ones(gaps.size, dtype=bool)
    last_chunks = np.cumsum(lengths)[:-1] - 1  # gap i joins the last chunk of one request to the next's first
    keep[last_chunks[last_chunks < gaps.size]] = False
    return gaps[keep]


def round_bin_s(wanted_s: float) -> float:
    """The smallest of 1, 2, 5 x 10^k seconds that is at least `wanted_s`."""
    if wanted_s <= 0:
        return 1.0
    exponent = float(np.floor(np.log10(wanted_s)))
    return next(m * 10**exponent for m in (1.0, 2.0, 5.0, 10.0) if m * 10**exponent >= wanted_s)


def completions_over_time(
    finish_s: np.ndarray, output_tokens: np.ndarray
) -> tuple[tuple[float, float, float], ...]:
    if finish_s.size < 2 or float(finish_s.max() - finish_s.min()) <= 0:
        return ()
    start = float(finish_s.min())
    span = float(finish_s.max() - start)
    bin_s = round_bin_s(max(span / MAX_RATE_BINS, MIN_PER_BIN * span / finish_s.size))
    bins = np.floor((finish_s - start) / bin_s).astype(np.int64)
    requests = np.bincount(bins)
    tokens = np.bincount(bins, weights=output_tokens)
    return tuple(
        (start + i * bin_s, float(n) / bin_s, float(t) / bin_s)
        for i, (n, t) in enumerate(zip(requests, tokens, strict=True))
    )


def notable(r: RequestRecord) -> NotableRequest:
    return NotableRequest(
        request_id=r.request_id,
        finish_reason=r.finish_reason,
        prompt_tokens=r.prompt_tokens,
        output_tokens=r.output_tokens,
        ttft_s=r.ttft_s,
        e2e_s=r.e2e_s,
        error=r.error,
    )


def run_plot_data(records: Sequence[RequestRecord]) -> RunPlotData:
    ok = [r for r in records if r.ok]
    finished = [r for r in ok if r.finish_s is not None]
    failed = [r for r in records if not r.ok]
    return RunPlotData(
        cdf={
            "ttft": cdf_points(_column([r.ttft_s for r in ok])),
            "itl": cdf_points(itl_gaps_s(ok)),
            "tpot": cdf_points(_column([r.tpot_s for r in ok])),
            "e2e": cdf_points(_column([r.e2e_s for r in ok])),
        },
        completions=completions_over_time(
            np.array([r.finish_s for r in finished], dtype=np.float64),
            np.array([r.output_tokens for r in finished], dtype=np.float64),
        ),
        slowest=tuple(
            notable(r) for r in heapq.nlargest(NUM_SLOWEST, finished, key=lambda r: r.e2e_s or 0.0)
        ),
        failed=tuple(notable(r) for r in failed[:NUM_FAILED]),
        num_failed=len(failed),
    )
