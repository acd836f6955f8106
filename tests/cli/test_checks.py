"""Path, seed and flag-name checks made before a command starts work."""

from pathlib import Path

import pytest

from slotune.cli import checks
from slotune.errors import InputError


def test_input_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    checks.input_file("--workload", tmp_path / "f")
    checks.input_file("--workload", None)
    with pytest.raises(InputError, match="is a folder"):
        checks.input_file("--workload", tmp_path)
    with pytest.raises(InputError, match="file not found"):
        checks.input_file("--workload", tmp_path / "nope")


def test_output_file_and_folder(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    checks.output_file("--trace", tmp_path / "new" / "deeper" / "t.json")  # missing folders are created later
    checks.output_file("--trace", tmp_path / "f")  # replaced
    with pytest.raises(InputError, match="is a folder"):
        checks.output_file("--trace", tmp_path)
    with pytest.raises(InputError, match="is a file"):
        checks.output_file("--trace", tmp_path / "f" / "t.json")
    checks.output_folder("--out", tmp_path / "results")
    with pytest.raises(InputError, match="is a file"):
        checks.output_folder("--out", tmp_path / "f")
    checks.output_file_or_folder("--out", tmp_path / "run.json")
    checks.output_file_or_folder("--out", tmp_path / "run")
    with pytest.raises(InputError, match="is a file"):
        checks.output_file_or_folder("--out", tmp_path / "f" / "run")


def test_seed() -> None:
    checks.check_seed(0)
    with pytest.raises(InputError, match="--seed 1"):
        checks.check_seed(-1)


def test_library_errors_in_the_commands_own_flag_names() -> None:
    with pytest.raises(InputError) as info, checks.flags_named({"--format": "--workload-format"}):
        raise InputError("--format", "x", "pass --format azure-csv (not --formats)")
    assert info.value.field == "--workload-format"
    assert info.value.fix == "pass --workload-format azure-csv (not --formats)"
