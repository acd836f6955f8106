"""What a client sees outside the engine step: the API server's time per request, as the hardware profile says.

A request reaches the engine `frontend_delay_s(prompt_tokens)` after its client sent it (HTTP, tokenization,
and, folded into the same delay, the first token's way back: detokenization and SSE). The simulator makes the
request arrive at the engine that much later and reports its arrival at the client's send time, so TTFT and
E2E include the delay and ITL does not. A closed loop's user sends its next request when the response ends.

Delays grow with the prompt, so a long prompt sent just before a short one can reach the engine after it:
the open loop's jobs are re-ordered by their arrival at the engine (a heap that holds only the jobs whose
arrival could still be overtaken).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from slotune.load import Job
from slotune.models import ProfileCoefficients, RequestSpec
from slotune.simulate.engine import RequestSink
from slotune.simulate.request_state import SimRequest

DelayOf = Callable[[RequestSpec], float]


def delay_function(coefficients: ProfileCoefficients) -> DelayOf | None:
    """The profile's frontend delay per request, or None where the profile has none (no work per request)."""
    if not coefficients.frontend_s and not coefficients.frontend_per_prompt_token_s:
        return None
    return lambda spec: coefficients.frontend_delay_s(spec.prompt_tokens)


def delayed_jobs(jobs: Iterable[Job], delay_of: DelayOf, min_delay_s: float) -> Iterator[Job]:
    """Open-loop jobs as the engine sees them: each `delay_of(spec)` later, in order of that arrival (ties in
    send order). A job is released once no later-sent job can arrive before it (every delay >= min_delay_s)."""
    pending: list[tuple[float, int, Job]] = []
    for job in jobs:
        assert job.send_s is not None
        while pending and pending[0][0] <= job.send_s + min_delay_s:
            yield heapq.heappop(pending)[2]
        at = job.send_s + delay_of(job.spec)
        heapq.heappush(pending, (at, job.seq, job._replace(send_s=at)))
    while pending:
        yield heapq.heappop(pending)[2]


class ClientClockSink:
    """Passes finished requests on with their arrival moved back to the client's send time."""

    def __init__(self, inner: RequestSink, delay_s: Callable[[SimRequest], float]) -> None:
        self.inner = inner
        self.delay_s = delay_s

    def finish(self, req: SimRequest, times: np.ndarray, tokens: tuple[int, ...]) -> None:
        req.arrival_s -= self.delay_s(req)
        self.inner.finish(req, times, tokens)
