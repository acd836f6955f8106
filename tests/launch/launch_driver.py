"""A program that starts a fake vLLM through the launcher and then stops in the way the test asks:

  wait      start a server that never becomes healthy (the test interrupts the wait)
  abandon   start a healthy server and return without stopping it (atexit must)
  linger    start a healthy server, print "healthy", sleep (the test kills this program)

usage: python launch_driver.py MODE LOG_DIR PIDFILE CACHE_DIR
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from conftest import PORT_RANGE, fake_env

from slotune.launch import VllmLauncher, VllmServer
from slotune.models.launch import ServerRequest


def main() -> None:
    mode, log_dir, pidfile, cache_dir = sys.argv[1:5]
    launcher = VllmLauncher(
        sys.executable,
        log_dir=Path(log_dir),
        port_range=PORT_RANGE,
        startup_timeout_s=60.0,
        env=fake_env(FAKE_VLLM_PIDFILE=pidfile),
        cache_dir=Path(cache_dir),
        stop_grace_s=(2.0, 2.0),
    )
    fake_mode = "hang" if mode == "wait" else "ok"
    request = ServerRequest(model="Qwen/Qwen3-0.6B", env={"FAKE_VLLM_MODE": fake_mode})
    server = launcher.start(request)
    assert isinstance(server, VllmServer), server
    print("healthy", flush=True)
    if mode == "linger":
        time.sleep(600)


if __name__ == "__main__":
    main()
