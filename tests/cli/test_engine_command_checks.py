"""`calibrate` and `validate` start a vLLM server: every input they take is checked before one starts.

The vLLM Python here is a stand-in script that records being run (and has no vLLM): a bad input must exit 2
naming its flag without running it; a good command line must get as far as running it."""

from __future__ import annotations

import contextlib
import io
import stat
from pathlib import Path

import pytest

from slotune.cli.main import main

REPO = Path(__file__).resolve().parents[2]
GOOD_CSV = REPO / "tests" / "data" / "azure_conv_replay_20.csv"


@pytest.fixture
def stand_in_vllm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A 'Python' that leaves a mark when run and exits 1, as one without vLLM does."""
    mark = tmp_path / "vllm-python-was-run"
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\ntouch {mark}\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("SLOTUNE_VLLM_PYTHON", str(script))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "garbage.bin").write_bytes(bytes(range(256)))
    (tmp_path / "dir").mkdir()
    return mark


def _line(text: str) -> list[str]:
    return text.split()


def _run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return code, " ".join(err.getvalue().split())


CALIBRATE = _line("calibrate --model llama-3.1-8b --gpu h100 --scale quick --out p.yaml")
VALIDATE = _line("validate --profile default --gpu h100 --model llama-3.1-8b --preset chatbot")
VALIDATE_RUN = [*VALIDATE, "--rate", "2", "--num-requests", "10"]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        ([*CALIBRATE, "--seed", "-1"], "--seed"),
        ([*CALIBRATE[:-1], "dir"], "--out"),
        ([*CALIBRATE, "--save-probes", "a_file/probes.json"], "--save-probes"),
        ([*CALIBRATE, "--from-probes", "missing.json"], "--from-probes"),
        ([*CALIBRATE, "--from-probes", "garbage.bin"], "from-probes"),
        ([*CALIBRATE, "--prior", "no-such-profile"], "--prior"),
        ([*CALIBRATE, "--allreduce", "garbage.bin"], "allreduce"),
        ([*CALIBRATE, "--modes", "lazy"], "--modes"),
        ([*CALIBRATE, "--startup-timeout", "0"], "--startup-timeout"),
        ([*VALIDATE_RUN, "--seed", "-1"], "--seed"),
        ([*VALIDATE_RUN, "--out", "a_file/result.json"], "--out"),
        ([*VALIDATE_RUN, "--timeout", "0"], "--timeout"),
        ([*VALIDATE[:-2], "--workload", "dir", "--rate", "2"], "--workload"),
        ([*VALIDATE, "--rate", "1e9", "--duration", "10"], "--duration"),
        ([*VALIDATE_RUN, "--request-limit", "5"], "--request-limit"),
    ],
)
def test_bad_input_exits_2_before_vllm_is_run(stand_in_vllm: Path, argv: list[str], said: str) -> None:
    code, err = _run(argv)
    assert code == 2 and "Traceback" not in err, err
    assert said in err, err
    assert not stand_in_vllm.exists(), "the vLLM Python was run before the input was checked"


@pytest.mark.parametrize("argv", [CALIBRATE, VALIDATE_RUN], ids=["calibrate", "validate"])
def test_good_input_gets_as_far_as_the_vllm_python(stand_in_vllm: Path, argv: list[str]) -> None:
    code, err = _run(argv)
    assert stand_in_vllm.exists(), err
    assert code == 2 and "vllm-python" in err and "vLLM is not installed there" in err, err
