"""What a client sees outside the engine step: the API server's time per request, as the hardware profile says.

A request reaches the engine some time after its client sent it (HTTP, tokenization, and, folded into the same
delay, the first token's way back: detokenization and SSE). Two parts:

- `frontend_serial_s`: the API server's own work on the request, done one request at a time (vLLM's API
  server is one process with one event loop): requests sent together queue for it, in send order;
- `frontend_delay_s(prompt_tokens)` (`frontend_s` + a time per prompt token): the rest, in parallel.

The simulator makes the request arrive at the engine that much later and reports its arrival at the client's
send time, so TTFT and E2E include the delay and ITL does not. A closed loop's user sends its next request
when the response ends.

Delays grow with the prompt, so a long prompt sent just before a short one can reach the engine after it:
the open loop's jobs are re-ordered by their arrival at the engine (a heap that holds only the jobs whose
arrival could still be overtaken).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from slotune.load import Job
from slotune.models import ProfileCoefficients
from slotune.simulate.engine import RequestSink
from slotune.simulate.request_state import SimRequest


class Frontend:
    """The API server between the clients and the engine: when each request reaches the engine, and how long
    after its send that was (what the client's clock adds back)."""

    def __init__(self, coefficients: ProfileCoefficients) -> None:
        self.coefficients = coefficients
        self.serial_s = coefficients.frontend_serial_s
        self._free_s = -np.inf  # when the API server's event loop is next free
        self._delays_s: dict[str, float] = {}

    @staticmethod
    def of(coefficients: ProfileCoefficients) -> Frontend | None:
        """The profile's frontend, or None where the profile has none (no work per request)."""
        c = coefficients
        if not c.frontend_s and not c.frontend_per_prompt_token_s and not c.frontend_serial_s:
            return None
        return Frontend(c)

    @property
    def min_delay_s(self) -> float:
        """The least time any request spends in the frontend."""
        return self.serial_s + self.coefficients.frontend_s

    def arrival_s(self, job: Job, send_s: float) -> float:
        """When `job`, sent at `send_s`, reaches the engine. Called in send order."""
        start_s = send_s if send_s > self._free_s else self._free_s
        self._free_s = start_s + self.serial_s
        at = self._free_s + self.coefficients.frontend_delay_s(job.spec.prompt_tokens)
        self._delays_s[job.request_id] = at - send_s
        return at

    def delay_s(self, req: SimRequest) -> float:
        """How long `req` spent in the frontend (once, when it finishes)."""
        return self._delays_s.pop(req.request_id)


def delayed_jobs(jobs: Iterable[Job], frontend: Frontend) -> Iterator[Job]:
    """Open-loop jobs as the engine sees them: each at its arrival through `frontend`, in order of that arrival
    (ties in send order). A job is released once no later-sent job can arrive before it (every request spends
    at least `frontend.min_delay_s` there)."""
    pending: list[tuple[float, int, Job]] = []
    min_delay_s = frontend.min_delay_s
    for job in jobs:
        assert job.send_s is not None
        while pending and pending[0][0] <= job.send_s + min_delay_s:
            yield heapq.heappop(pending)[2]
        at = frontend.arrival_s(job, job.send_s)
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
