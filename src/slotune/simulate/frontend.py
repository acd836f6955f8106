"""What a client sees outside the engine step: the API server's time per request, as the hardware profile says.

A request reaches the engine some time after its client sent it (HTTP, tokenization, and, folded into the same
delay, the first token's way back: detokenization and SSE). Two parts:

- the serial stage, `frontend_serial_s + frontend_per_prompt_token_s x prompt_tokens`: work done one request
  at a time, in send order. vLLM's API server is one process with one event loop, and it renders and
  tokenizes prompts in a thread pool of `renderer_num_workers` threads, 1 by default (0.25
  renderers/base.py BaseRenderer: `ThreadPoolExecutor(max_workers=pool_workers)`), so requests sent together
  queue for it and a short prompt sent just after a long one waits for the long one's tokenization;
- `frontend_s`: the rest (HTTP, the first token's way back), in parallel.

The simulator makes the request arrive at the engine that much later and reports its arrival at the client's
send time, so TTFT and E2E include the delay and ITL does not. A closed loop's user sends its next request
when the response ends.
"""

from __future__ import annotations

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

    def arrival_s(self, job: Job, send_s: float) -> float:
        """When `job`, sent at `send_s`, reaches the engine. Called in send order."""
        start_s = send_s if send_s > self._free_s else self._free_s
        c = self.coefficients
        self._free_s = start_s + self.serial_s + c.frontend_per_prompt_token_s * job.spec.prompt_tokens
        at = self._free_s + c.frontend_s
        self._delays_s[job.request_id] = at - send_s
        return at

    def delay_s(self, req: SimRequest) -> float:
        """How long `req` spent in the frontend (once, when it finishes)."""
        return self._delays_s.pop(req.request_id)


def delayed_jobs(jobs: Iterable[Job], frontend: Frontend) -> Iterator[Job]:
    """Open-loop jobs as the engine sees them: each at its arrival through `frontend` (in send order: the
    serial stage keeps it)."""
    for job in jobs:
        assert job.send_s is not None
        yield job._replace(send_s=frontend.arrival_s(job, job.send_s))


class ClientClockSink:
    """Passes finished requests on with their arrival moved back to the client's send time."""

    def __init__(self, inner: RequestSink, delay_s: Callable[[SimRequest], float]) -> None:
        self.inner = inner
        self.delay_s = delay_s

    def finish(self, req: SimRequest, times: np.ndarray, tokens: tuple[int, ...]) -> None:
        req.arrival_s -= self.delay_s(req)
        self.inner.finish(req, times, tokens)
