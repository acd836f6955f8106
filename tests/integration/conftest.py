"""A real vLLM (CPU build) server for the integration tests: one per test session, on the tiny model.

`scripts/setup_integration.sh` installs `.venv-vllm` and writes `.models/tiny-llama`. Without them the tests
are skipped on a developer's machine and fail in CI (CI=true), so CI never passes by skipping them.
The server's log is attached to the report of every failing integration test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vllm_launcher import ServerStartError, VllmServer, missing_installation, running_vllm_server

_SERVER_KEY = pytest.StashKey[VllmServer]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark this folder's tests `integration` and run them last.

    The server is session-scoped, so it lives until the session ends; running these tests last keeps its
    busy engine (one core spinning) from slowing every unit test collected after this folder.
    """
    here = Path(__file__).parent
    ours = [item for item in items if here in Path(str(item.fspath)).parents]
    for item in ours:
        item.add_marker(pytest.mark.integration)
    others = [item for item in items if here not in Path(str(item.fspath)).parents]
    items[:] = others + ours


def _require_installed() -> None:
    missing = missing_installation()
    if not missing:
        return
    message = (
        f"real vLLM is not installed ({', '.join(missing)} missing): run `bash scripts/setup_integration.sh`"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}. CI must run the integration tests, not skip them.", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def vllm_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VllmServer]:
    _require_installed()
    log_path = tmp_path_factory.mktemp("vllm") / "server.log"
    try:
        with running_vllm_server(log_path) as server:
            request.config.stash[_SERVER_KEY] = server
            yield server
    except ServerStartError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome: Any = yield
    report = outcome.get_result()
    if report.failed and "vllm_server" in getattr(item, "fixturenames", ()):
        server = item.config.stash.get(_SERVER_KEY, None)
        if server is not None:
            report.sections.append(("vLLM server log (tail)", server.log_tail()))
