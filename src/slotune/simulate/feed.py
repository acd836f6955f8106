"""The arrival stream: requests in arrival order, read lazily (a million requests need not sit in memory)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

from slotune.errors import InputError
from slotune.models import RequestSpec
from slotune.simulate.request_state import FINISHED, SimRequest


class ArrivalFeed:
    """Requests in (arrival time, position in the workload) order: the position is the per-run sequence number
    that breaks ties between requests arriving at the same instant."""

    def __init__(self, specs: Iterable[RequestSpec], *, hash_block_size: int, max_model_len: int) -> None:
        self._specs: Iterator[RequestSpec] = iter(specs)
        self._buffer: deque[SimRequest] = deque()
        self._next_index = 0
        self._last_arrival_s = float("-inf")
        self._hash_block_size = hash_block_size
        self._max_model_len = max_model_len
        self.num_read = 0

    def _load(self) -> bool:
        spec = next(self._specs, None)
        if spec is None:
            return False
        if spec.arrival_s < self._last_arrival_s:
            raise InputError(
                "workload arrival_s",
                spec.arrival_s,
                f"requests must come in arrival order (request {spec.request_id!r} arrives before the one "
                "before it); sort the workload by arrival time",
            )
        self._last_arrival_s = spec.arrival_s
        req = SimRequest(
            index=self._next_index,
            request_id=spec.request_id,
            arrival_s=float(spec.arrival_s),
            prompt_tokens=spec.prompt_tokens,
            max_output_tokens=spec.output_tokens,
            prefix_block_ids=spec.prefix_block_ids,
            prompt_token_ids=spec.prompt_token_ids,
            hash_block_size=self._hash_block_size,
        )
        if spec.prompt_tokens + spec.output_tokens > self._max_model_len:
            # vLLM's frontend refuses it before it reaches the engine (HTTP 400).
            req.status = FINISHED
            req.finish_reason = "rejected"
            req.finish_s = req.arrival_s
        self._next_index += 1
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
            if req.status != FINISHED:
                out.append(req.arrival_s)
            i += 1
