from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))  # headless.py beside the tests
sys.path.insert(0, str(REPO / "tests" / "bench"))  # the loopback OpenAI server for real bench results


@pytest.fixture(scope="session")
def chromium_binary() -> str:
    """Debian's chromium. Missing: skipped on a developer's machine, a failure in CI (CI=true), so CI never
    passes by skipping the browser test. `bash scripts/setup_report_browser.sh` installs it."""
    from headless import find_chromium

    binary = find_chromium()
    missing = []
    if binary is None:
        missing.append("chromium")
    if importlib.util.find_spec("websocket") is None:
        missing.append("the websocket-client package")
    if not missing:
        assert binary is not None
        return binary
    message = f"{' and '.join(missing)} not installed: run `bash scripts/setup_report_browser.sh`"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}. CI must run the browser test, not skip it.", pytrace=False)
    pytest.skip(message)
