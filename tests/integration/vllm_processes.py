"""Processes a test session started, found by a marker in their environment.

Every vLLM server the integration tests launch gets SLOTUNE_TEST_RUN=<this run's id>; its engine core and
workers inherit it. Whatever still carries the marker when it should be gone has survived its test.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

MARKER = "SLOTUNE_TEST_RUN"
RUN_ID = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


def marked_processes(run_id: str = RUN_ID) -> dict[int, str]:
    """pid -> command line of every live process whose environment carries this run's marker."""
    needle = f"{MARKER}={run_id}".encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue  # exited, waiting for its parent to reap it
            found[int(entry.name)] = (
                (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            )
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def process_group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None
