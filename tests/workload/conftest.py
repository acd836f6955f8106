import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def data_dir() -> Path:
    return DATA / "workload"


@pytest.fixture
def tokenizer_path() -> Path:
    return DATA / "tokenizers" / "qwen3" / "tokenizer.json"


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real `slotune` entry point in a fresh interpreter (exit codes and stderr as a user sees them)."""

    def _run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "slotune", *args], capture_output=True, text=True, timeout=120
        )

    return _run


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write
