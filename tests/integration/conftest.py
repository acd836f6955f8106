"""A real vLLM (CPU build) server for the integration tests: one per test session, on the tiny model, started
by slotune's own launcher through a `VllmBackend` (so the backend's tests reuse it rather than start another).

`scripts/setup_integration.sh` installs `.venv-vllm` and writes `.models/tiny-llama`. Without them the tests
are skipped on a developer's machine and fail in CI (CI=true), so CI never passes by skipping them.
The server's log is attached to the report of every failing integration test. Every process a test starts
carries this run's marker in its environment: after each test only the session's server may be left, and
at the end of the session nothing; a survivor is killed and fails the test or the session.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vllm_launcher import TINY_ENGINE, TOKENIZER_JSON, missing_installation, tiny_launcher, tiny_request
from vllm_processes import MARKER, RUN_ID, marked_processes, process_group

from slotune.bench import HttpBackend
from slotune.launch import VllmServer
from slotune.launch.backend import LaunchError, VllmBackend

LOG_TAIL_CHARS = 12_000
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
def vllm_installed() -> None:
    """For tests that run vLLM's own Python without a server: skipped here, a failure in CI, when it is missing."""
    _require_installed()


@pytest.fixture(scope="session")
def vllm_log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vllm")


@pytest.fixture(scope="session")
def vllm_backend(vllm_installed: None, vllm_log_dir: Path) -> Iterator[VllmBackend]:
    launcher = tiny_launcher(vllm_log_dir, env={MARKER: RUN_ID})
    http = functools.partial(HttpBackend, tokenizer=str(TOKENIZER_JSON))
    with VllmBackend(launcher, tiny_request(), http_backend=http) as backend:
        yield backend


@pytest.fixture(scope="session")
def vllm_server(request: pytest.FixtureRequest, vllm_backend: VllmBackend) -> VllmServer:
    try:
        server = vllm_backend.ensure_server(TINY_ENGINE)
    except LaunchError as exc:
        pytest.fail(f"{exc}\n{exc.failure.log_excerpt}", pytrace=False)
    request.config.stash[_SERVER_KEY] = server
    return server


def _kill(processes: dict[int, str]) -> None:
    for pid in processes:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(autouse=True)
def no_stray_vllm_processes(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test, only the session's server (its process group) may still run."""
    yield
    server = request.config.stash.get(_SERVER_KEY, None)
    kept = server.proc.pid if server is not None and server.alive() else None
    strays = {pid: cmd for pid, cmd in marked_processes().items() if process_group(pid) != kept}
    if strays:
        _kill(strays)
        pytest.fail(f"processes survived the test (killed now): {strays}", pytrace=False)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After the session's fixtures are torn down, no process a test started may be left."""
    survivors = marked_processes()
    if not survivors:
        return
    _kill(survivors)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"vLLM processes survived the test session (killed now): {survivors}", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome: Any = yield
    report = outcome.get_result()
    if report.failed and "vllm_server" in getattr(item, "fixturenames", ()):
        server = item.config.stash.get(_SERVER_KEY, None)
        if server is not None:
            report.sections.append(("vLLM server log (tail)", server.log_text()[-LOG_TAIL_CHARS:]))
