"""The arrival stream of a run: the schedule's jobs as simulator requests, in arrival order.

Open loop (and replay): the schedule's send times, read lazily (a million requests need not sit in memory).
Closed loop: arrivals are made by finishes: a user's next request arrives `think_time_s` after its previous
one finished. Both order same-time arrivals by the job index (the per-run sequence number).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from slotune.errors import InputError
from slotune.load import ClosedLoopSchedule, Job
from slotune.simulate.request_state import FINISHED, SimRequest

if TYPE_CHECKING:
    from slotune.simulate.frontend import Frontend


@dataclass(frozen=True, slots=True)
class Admission:
    """What vLLM's OpenAI frontend does with a request longer than max_model_len (slotune.vllm_versions):
    0.25 refuses prompt + max_tokens > max_model_len (HTTP 400); 0.32 refuses only a prompt that leaves no room
    for one output token and trims max_tokens to max_model_len - prompt."""

    max_model_len: int
    trims_max_tokens: bool

    def output_tokens(self, prompt_tokens: int, output_tokens: int) -> int | None:
        """The request's max_tokens as the engine gets it; None if the frontend refuses it."""
        if prompt_tokens + output_tokens <= self.max_model_len:
            return output_tokens
        if self.trims_max_tokens and prompt_tokens < self.max_model_len:
            return self.max_model_len - prompt_tokens
        return None

    def refuses_all(self, specs: Iterable[tuple[int, int]]) -> bool:
        return all(self.output_tokens(p, o) is None for p, o in specs)


@dataclass(frozen=True, slots=True)
class RequestMaker:
    """Jobs of the schedule as simulator requests: the frontend's length rule, the workload's prefix-id
    granularity and the output tokens that follow-ups show (slotune.simulate.follow_ups)."""

    admission: Admission
    hash_block_size: int = 16
    known_outputs: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def make(self, job: Job, arrival_s: float) -> SimRequest:
        spec = job.spec
        output_tokens = self.admission.output_tokens(spec.prompt_tokens, spec.output_tokens)
        req = SimRequest(
            index=job.seq,
            request_id=job.request_id,
            arrival_s=arrival_s,
            prompt_tokens=spec.prompt_tokens,
            max_output_tokens=output_tokens if output_tokens is not None else spec.output_tokens,
            prefix_block_ids=spec.prefix_block_ids,
            prompt_token_ids=spec.prompt_token_ids,
            output_token_ids=self.known_outputs.get(spec.request_id),
            hash_block_size=self.hash_block_size,
            cycle=job.cycle,
            is_warmup=job.warmup,
        )
        if output_tokens is None:
            # vLLM's frontend refuses it before it reaches the engine (HTTP 400).
            req.status = FINISHED
            req.finish_reason = "rejected"
            req.finish_s = arrival_s
        return req


class ArrivalFeed:
    """Open-loop jobs in send order, read lazily; `num_planned` (when known) is how many there are."""

    def __init__(self, jobs: Iterable[Job], *, maker: RequestMaker, num_planned: int | None = None) -> None:
        self._jobs: Iterator[Job] = iter(jobs)
        self._buffer: deque[SimRequest] = deque()
        self._last_arrival_s = float("-inf")
        self._maker = maker
        self.has_known_outputs = bool(maker.known_outputs)
        self.num_planned = num_planned
        self.num_read = 0

    def _load(self) -> bool:
        job = next(self._jobs, None)
        if job is None:
            return False
        assert job.send_s is not None
        if job.send_s < self._last_arrival_s:
            raise InputError(
                "workload arrival_s",
                job.send_s,
                f"requests must come in arrival order (request {job.request_id!r} arrives before the one "
                "before it); sort the workload by arrival time",
            )
        self._last_arrival_s = job.send_s
        req = self._maker.make(job, float(job.send_s))
        self.num_read += 1
        self._buffer.append(req)
        return True

    def peek_time(self) -> float | None:
        if not self._buffer and not self._load():
            return None
        return self._buffer[0].arrival_s

    def pop(self) -> SimRequest:
        if not self._buffer:
            self._load()
        return self._buffer.popleft()

    def accepted_arrivals_upto(self, time_s: float) -> list[float]:
        """Arrival times of the not-yet-popped, not-rejected requests arriving at or before `time_s`."""
        out: list[float] = []
        i = 0
        while True:
            if i == len(self._buffer) and not self._load():
                return out
            req = self._buffer[i]
            if req.arrival_s > time_s:
                return out
            if req.status is not FINISHED:
                out.append(req.arrival_s)
            i += 1

    def request_done(self, req: SimRequest) -> None:
        """An open loop does not wait for the engine."""


class ClosedLoopFeed:
    """A closed loop's arrivals: every user's first request at t = 0, then one per finish (+ think time).
    `frontend`: when a request sent at some time reaches the engine (the API server's time,
    slotune.simulate.frontend)."""

    def __init__(
        self,
        schedule: ClosedLoopSchedule,
        *,
        maker: RequestMaker,
        frontend: Frontend | None = None,
    ) -> None:
        admission = maker.admission
        if admission.refuses_all((r.prompt_tokens, r.output_tokens) for r in schedule.requests):
            # Each user would be refused at once, forever: with no think time, time would never advance.
            raise InputError(
                "max_model_len",
                admission.max_model_len,
                "vLLM refuses every request of the workload at this length; raise --max-model-len",
            )
        self._draw = schedule.draw()
        self._think_s = schedule.think_time_s
        self._pending: list[tuple[float, int, SimRequest]] = []  # a heap by (arrival, job index)
        self._maker = maker
        self._frontend = frontend
        self.has_known_outputs = bool(maker.known_outputs)
        self.num_planned = schedule.quota
        self.num_read = 0
        for _ in range(schedule.users):
            sent = self.num_read
            self._send(0.0)
            if self.num_read == sent:
                break  # the draw is spent at time 0: no later user has a request either (2**31 users, 40 requests)

    def _send(self, time_s: float) -> None:
        """A free user's next request at `time_s`; one refused at the door is followed by the user's next after
        the think time (it finished at its arrival)."""
        while True:
            job = self._draw.next(time_s)
            if job is None:
                return  # this user is done
            arrival_s = self._frontend.arrival_s(job, time_s) if self._frontend is not None else time_s
            req = self._maker.make(job, arrival_s)
            heapq.heappush(self._pending, (arrival_s, req.index, req))
            self.num_read += 1
            if req.status is not FINISHED:
                return
            time_s += self._think_s

    def peek_time(self) -> float | None:
        return self._pending[0][0] if self._pending else None

    def pop(self) -> SimRequest:
        return heapq.heappop(self._pending)[2]

    def accepted_arrivals_upto(self, time_s: float) -> list[float]:
        return sorted(t for t, _, req in self._pending if t <= time_s and req.status is not FINISHED)

    def request_done(self, req: SimRequest) -> None:
        """The user whose request finished sends its next one after the think time."""
        assert req.finish_s is not None
        self._send(req.finish_s + self._think_s)


Feed = ArrivalFeed | ClosedLoopFeed
