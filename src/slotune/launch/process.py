"""A server process in its own process group, and the guarantee that the whole group ends.

vLLM's API server starts an engine-core process, which starts workers (and a multiprocessing resource
tracker). All of them stay in the group of the process slotune starts (`start_new_session`), also when the
API server dies first and they are re-parented, so one signal to the group reaches them all. Stopping
sends SIGINT (vLLM's own clean shutdown, as on Ctrl-C), then SIGTERM, then SIGKILL, and waits until no
process of the group is left. Every started group is also stopped at interpreter exit, and on Linux the
server gets SIGTERM if slotune itself dies without cleaning up.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

INTERRUPT_GRACE_S = 20.0
TERMINATE_GRACE_S = 10.0
KILL_WAIT_S = 10.0
_PR_SET_PDEATHSIG = 1

_live: dict[int, subprocess.Popen[bytes]] = {}
_live_lock = threading.Lock()
_atexit_registered = False


def group_members(pgid: int) -> list[int]:
    """Pids of the processes in process group `pgid` that have not been reaped (from /proc)."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces and parentheses): state ppid pgrp ...
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def group_alive(pgid: int) -> bool:
    if sys.platform != "linux":
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    return bool(group_members(pgid))


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _wait_group(proc: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Wait until every process of the group has exited (reaping the leader); True if it did."""
    deadline = time.monotonic() + timeout_s
    while True:
        proc.poll()
        if not group_alive(proc.pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def stop_group(
    proc: subprocess.Popen[bytes],
    *,
    interrupt_grace_s: float = INTERRUPT_GRACE_S,
    terminate_grace_s: float = TERMINATE_GRACE_S,
) -> None:
    """End the process group led by `proc`: SIGINT, then SIGTERM, then SIGKILL; return when none is left."""
    try:
        for sig, grace_s in (
            (signal.SIGINT, interrupt_grace_s),
            (signal.SIGTERM, terminate_grace_s),
            (signal.SIGKILL, KILL_WAIT_S),
        ):
            if not group_alive(proc.pid):
                break
            _signal_group(proc.pid, sig)
            if _wait_group(proc, grace_s):
                break
        else:
            log.error(
                "process group %d still has members after SIGKILL: %s", proc.pid, group_members(proc.pid)
            )
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=1.0)
    finally:
        with _live_lock:
            _live.pop(proc.pid, None)


def stop_all() -> None:
    """Stop every group this process started and has not stopped yet (the atexit last resort)."""
    with _live_lock:
        procs = list(_live.values())
    for proc in procs:
        stop_group(proc, interrupt_grace_s=5.0, terminate_grace_s=5.0)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the thread that started it dies (Linux prctl)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def start_group(
    argv: Sequence[str], *, env: Mapping[str, str], log_path: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start `argv` as the leader of a new process group (and session), stdout and stderr to `log_path`."""
    global _atexit_registered
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # The parent-death signal is tied to the starting thread, so only a main-thread start may use it.
    on_main = threading.current_thread() is threading.main_thread()
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" and on_main else None,
        )
    with _live_lock:
        _live[proc.pid] = proc
        if not _atexit_registered:
            atexit.register(stop_all)
            _atexit_registered = True
    return proc


class Terminated(SystemExit):
    """SIGTERM arrived while a server was starting or running: unwinds like Ctrl-C, so cleanup runs."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(128 + signum)


@contextlib.contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Within the block, SIGTERM to this process raises `Terminated` instead of ending it on the spot.

    Only where the default action is in force (nobody else handles SIGTERM) and only on the main thread,
    where Python runs signal handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
