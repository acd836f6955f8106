"""Free TCP ports for a server that binds its socket only after seconds of imports."""

from __future__ import annotations

import random
import socket
import time


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The same option vLLM's server socket uses, so a port in TIME_WAIT counts as free, as it is for it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_free_port(
    host: str, port_range: tuple[int, int] | None = None, *, avoid: set[int] | None = None
) -> int:
    """A port nothing listens on now: from `port_range` (inclusive) in random order, else the OS's choice.

    The server binds it seconds later, so another process can take it in between; the launcher retries
    on "address already in use" with another port.
    """
    avoid = avoid or set()
    if port_range is None:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
                port = int(sock.getsockname()[1])
            if port not in avoid:
                return port
        raise OSError("no free port found")
    low, high = port_range
    candidates = [p for p in range(low, high + 1) if p not in avoid]
    random.shuffle(candidates)
    for port in candidates:
        if port_is_free(host, port):
            return port
    raise OSError(f"no free port in {low}-{high}")


def wait_port_free(host: str, port: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not port_is_free(host, port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True
