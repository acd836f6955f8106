"""The launcher's tests run a fake vLLM (fake_vllm/vllm: the same module paths, a small parser, a server that
fails on request) with this interpreter, on ports 18000-18999, and check that no process outlives a test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from slotune.launch import VllmLauncher
from slotune.launch.process import group_members

HERE = Path(__file__).resolve().parent
FAKE_VLLM_ROOT = HERE / "fake_vllm"
DATA = HERE / "data"
CPU_LOGS = DATA / "vllm-0.32.0-cpu"
PORT_RANGE = (18000, 18999)
QUICK_STOP_S = (2.0, 2.0)

sys.path.insert(0, str(HERE))  # drivers beside the tests
sys.path.insert(0, str(HERE.parent / "bench"))  # the bench CLI tests' run_cli


def fake_env(**extra: str) -> dict[str, str]:
    return {"PYTHONPATH": str(FAKE_VLLM_ROOT), **extra}


@pytest.fixture(scope="session")
def parser_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("parser-cache")


@pytest.fixture
def launcher(tmp_path: Path, parser_cache: Path) -> VllmLauncher:
    return VllmLauncher(
        sys.executable,
        log_dir=tmp_path / "logs",
        port_range=PORT_RANGE,
        startup_timeout_s=30.0,
        env=fake_env(),
        cache_dir=parser_cache,
        stop_grace_s=QUICK_STOP_S,
    )


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-model"
    path.mkdir()
    (path / "config.json").write_text("{}")
    return path


@pytest.fixture(autouse=True)
def no_leftover_groups() -> Iterator[list[int]]:
    """Tests append the process groups they started; each must be empty when the test ends."""
    groups: list[int] = []
    yield groups
    leftovers = {pgid: group_members(pgid) for pgid in groups}
    assert not any(leftovers.values()), f"processes survived the test: {leftovers}"
