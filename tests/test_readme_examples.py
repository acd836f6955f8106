"""Every example of the README, and the commands `make demo` runs, work from a fresh clone as written.

Each `slotune ...` line of the README's Examples block runs in order, in an empty folder that holds only the
repository's `examples/` (the one folder the examples read), through `python -m slotune` (the `slotune` entry
point of an installed checkout runs the same `main`). The bench example needs a server: the loopback OpenAI
server of the bench tests serves `my-model` at the example's URL; if that port is taken on this machine, the
example's URL is pointed at a free port instead (the only change made to a line).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "bench"))  # the loopback OpenAI server

from fake_server import Behaviour, FakeOpenAIServer  # noqa: E402

TIMEOUT_S = 300


def readme_examples() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Examples\s+```bash\n(.*?)```", text, re.S)
    assert block is not None, "README.md has no Examples block"
    joined = block.group(1).replace("\\\n", " ")  # a command continued on the next line
    lines = [line.split("  #")[0].strip() for line in joined.splitlines()]
    return [line for line in lines if line.startswith("slotune ")]


def demo_commands() -> list[str]:
    """The slotune lines of the Makefile's demo target, with its variables filled in."""
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    demo = re.search(r"^DEMO := (\S+)", text, re.M)
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", text, re.M)
    assert demo is not None and recipe is not None
    joined = recipe.group(1).replace("\\\n", " ")  # a command continued on the next line
    lines = [line.strip() for line in joined.splitlines()]
    return [
        line.replace("$(BIN)/slotune", "slotune").replace("$(DEMO)", demo.group(1))
        for line in lines
        if line.startswith("$(BIN)/slotune ")
    ]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _run(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = shlex.split(line)
    assert args[0] == "slotune"
    return subprocess.run(
        [sys.executable, "-m", "slotune", *args[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


@pytest.fixture
def clone(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    work = tmp_path / "clone"
    shutil.copytree(REPO / "examples", work / "examples")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "SLOTUNE_CACHE_DIR": str(tmp_path / "cache"),
        "COLUMNS": "100",
    }
    env.pop("SLOTUNE_PRICES", None)
    return work, env


def test_the_examples_name_only_files_inside_the_repository() -> None:
    for line in readme_examples():
        assert "../" not in line, line


def test_every_readme_example_runs_as_written(clone: tuple[Path, dict[str, str]]) -> None:
    work, env = clone
    examples = readme_examples()
    assert len(examples) >= 6 and any(line.startswith("slotune bench ") for line in examples)
    for line in examples:
        if line.startswith("slotune bench "):
            url = re.search(r"--url (http://127\.0\.0\.1:(\d+))", line)
            assert url is not None, line
            port = int(url.group(2)) if _port_free(int(url.group(2))) else 0
            model = shlex.split(line)[shlex.split(line).index("--model") + 1]
            # A real model's context (the loopback server's default is a small test model's).
            with FakeOpenAIServer(Behaviour(max_model_len=131072), model=model, port=port) as server:
                result = _run(line.replace(url.group(1), server.url), work, env)
            # 3: the run was judged invalid, which a busy test machine can cause (client lag); it is still saved.
            assert result.returncode in (0, 3), (line, result.stderr)
        else:
            result = _run(line, work, env)
            # audit exits 1 when it finds something (the example's --enforce-eager is there to be found).
            found = line.startswith("slotune audit ") and "finding(s)" in result.stdout
            assert result.returncode == 0 or (result.returncode == 1 and found), (line, result.stderr)
        assert "Traceback" not in result.stderr, (line, result.stderr)
    for made in ("chat.jsonl", "run.json", "sim.json", "results/result.json", "report.html", "audit.sarif"):
        assert (work / made).is_file(), made


def test_make_demo_commands_run(clone: tuple[Path, dict[str, str]]) -> None:
    work, env = clone
    commands = demo_commands()
    assert any(c.startswith("slotune simulate ") for c in commands)
    for line in commands:
        result = _run(line, work, env)
        assert result.returncode == 0, (line, result.stderr)
