"""Prometheus's own tools for the tests: `promtool` (and `prometheus` for the integration test), from Debian's
`prometheus` package (scripts/setup_monitoring.sh). Missing, a test is skipped on a developer's machine and
fails in CI (CI=true), so CI never passes by skipping it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is not None:
        return path
    message = (
        f"`{name}` is not installed: run `bash scripts/setup_monitoring.sh` (Debian's prometheus package)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}. CI must run these tests, not skip them.", pytrace=False)
    pytest.skip(message)


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
