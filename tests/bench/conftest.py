from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # fake_server.py beside the tests

TOKENIZER_JSON = HERE.parent / "data" / "tokenizers" / "qwen3" / "tokenizer.json"


@pytest.fixture(scope="session")
def tokenizer_path() -> str:
    return str(TOKENIZER_JSON)


@pytest.fixture(scope="session")
def tokenizer(tokenizer_path: str):  # type: ignore[no-untyped-def]
    from slotune.workload.tokenizer import load_tokenizer

    return load_tokenizer(tokenizer_path)


@pytest.fixture
def fake_server() -> Iterator[object]:
    from fake_server import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(autouse=True)
def own_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own cache folder: the seed history (slotune.bench.seed_history) of one test must not warn
    in another."""
    cache = tmp_path / "slotune-cache"
    monkeypatch.setenv("SLOTUNE_CACHE_DIR", str(cache))
    return cache
