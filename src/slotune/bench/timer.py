"""A precise one-shot timer for the send schedule.

asyncio's timers wake the loop through `epoll_wait`, whose timeout is rounded up to whole milliseconds, so
an idle client sends up to 1 ms late. On Linux a `timerfd` armed at the absolute CLOCK_MONOTONIC time
(the clock behind `time.perf_counter`) wakes `epoll` within microseconds instead. Elsewhere, or where
timerfd is unavailable, `loop.call_at` is used and the lag shows in the schedule-lag statistic.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import sys
import time
from collections.abc import Callable
from typing import Protocol

_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK = 0o4000
_TFD_CLOEXEC = 0o2000000
_TFD_TIMER_ABSTIME = 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _nothing() -> None:
    return None


class OneShotTimer(Protocol):
    def arm(self, when: float) -> None: ...

    def close(self) -> None: ...


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    if "CLOCK_MONOTONIC" not in time.get_clock_info("perf_counter").implementation:
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.timerfd_settime.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(_Itimerspec),
            ctypes.c_void_p,
        ]
        return libc
    except (OSError, AttributeError):
        return None


class TimerFd:
    """Calls `callback` (in the loop) once the perf_counter clock reaches the armed time."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None], libc: ctypes.CDLL
    ) -> None:
        self._libc = libc
        self._loop = loop
        self._callback = callback
        fd = libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self._fd = fd
        self._spec = _Itimerspec()
        loop.add_reader(fd, self._on_ready)

    def arm(self, when: float) -> None:
        when = max(when, 1e-6)  # 0 would disarm
        sec = int(when)
        self._spec.it_value.tv_sec = sec
        self._spec.it_value.tv_nsec = int((when - sec) * 1e9)
        if self._libc.timerfd_settime(self._fd, _TFD_TIMER_ABSTIME, ctypes.byref(self._spec), None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")

    def _on_ready(self) -> None:
        try:
            os.read(self._fd, 8)
        except BlockingIOError:
            return
        self._callback()

    def close(self) -> None:
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
        self._callback = _nothing  # the callback may hold this timer (a closure): no cycle left behind


class LoopTimer:
    """The portable fallback: asyncio's own timer (millisecond wake-up granularity on epoll)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        self._loop = loop
        self._callback = callback
        self._handle: asyncio.TimerHandle | None = None

    def arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._loop.call_later(max(0.0, when - time.perf_counter()), self._callback)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._callback = _nothing


def make_timer(
    loop: asyncio.AbstractEventLoop, callback: Callable[[], None], *, precise: bool = True
) -> OneShotTimer:
    libc = _libc() if precise else None
    if libc is not None:
        try:
            return TimerFd(loop, callback, libc)
        except OSError:
            pass
    return LoopTimer(loop, callback)
