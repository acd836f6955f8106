"""Which asyncio event loop runs the client: uvloop where installed (its C read path costs ~15% less CPU
per streamed token than the standard loop's), else the standard one. Send timing does not depend on the
choice: sends are timed by a timerfd on Linux (see timer.py), not by the loop's own timers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, Literal, TypeVar

from slotune.errors import InputError

EventLoopKind = Literal["auto", "asyncio", "uvloop"]
EVENT_LOOPS: tuple[str, ...] = ("auto", "asyncio", "uvloop")
T = TypeVar("T")


def loop_factory(kind: str) -> tuple[str, Callable[[], asyncio.AbstractEventLoop]]:
    """(the loop actually used, a factory for it)."""
    if kind not in EVENT_LOOPS:
        raise InputError("event-loop", kind, f"use one of {', '.join(EVENT_LOOPS)}")
    if kind in ("auto", "uvloop"):
        try:
            import uvloop

            return "uvloop", uvloop.new_event_loop
        except ImportError:
            if kind == "uvloop":
                raise InputError(
                    "event-loop", kind, "install uvloop (pip install uvloop) or use asyncio"
                ) from None
    return "asyncio", asyncio.new_event_loop


def run_with_loop(kind: str, coro: Coroutine[Any, Any, T]) -> T:
    name, factory = loop_factory(kind)
    with collector_paused(pause=name == "uvloop"), asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)


@contextlib.contextmanager
def collector_paused(*, pause: bool) -> Iterator[None]:
    """Keep Python's cyclic garbage collector from pausing the load loop.

    A collection stops the event loop for as long as it runs. At thousands of streamed requests per second
    a young-generation pass took 10-15 ms on the development VM, and every send due meanwhile went late:
    schedule-lag p99 6 ms at 3,000 req/s with the collector on, 0.07 ms with it off (docs/metrics.md).

    With uvloop the request path makes no reference cycles, on success or on failure
    (tests/bench/test_no_cycles.py), so reference counting frees everything a run allocates and the
    collector is turned off until the run ends. The standard loop's socket transports do make one cycle
    each (a transport holds its own bound read callback), so a server that closes connections would leak
    one per request: there the collector stays on. Either way, objects made before the run are frozen out
    of its sight, so no collection walks the tokenizer and the prepared requests.
    """
    gc.collect()
    gc.freeze()
    was_enabled = gc.isenabled()
    if pause:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.unfreeze()
