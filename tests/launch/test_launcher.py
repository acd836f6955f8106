"""The launcher against the fake vLLM: start-up facts, every failure kind, and no process left behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import HERE, PORT_RANGE

from slotune.errors import InputError
from slotune.launch import VllmLauncher, VllmServer
from slotune.launch.ports import port_is_free
from slotune.launch.process import group_members
from slotune.models import EngineConfig
from slotune.models.launch import LaunchFailure, ServerRequest

SRC = HERE.parents[1] / "src"


def request(
    model: str | Path, mode: str = "ok", pidfile: Path | None = None, **fields: object
) -> ServerRequest:
    env = {"FAKE_VLLM_MODE": mode, **({"FAKE_VLLM_PIDFILE": str(pidfile)} if pidfile else {})}
    return ServerRequest.model_validate(
        {
            "model": str(model),
            "served_model_name": "tiny",
            "engine_config": EngineConfig(max_model_len=4096, block_size=16),
            "env": env,
            **fields,
        }
    )


def failed_start(
    launcher: VllmLauncher, req: ServerRequest, groups: list[int], pidfile: Path
) -> LaunchFailure:
    outcome = launcher.start(req)
    if pidfile.exists():
        groups.append(int(pidfile.read_text()))
    assert isinstance(outcome, LaunchFailure), outcome
    return outcome


def test_a_healthy_server_with_its_facts_and_a_clean_stop(
    launcher: VllmLauncher, model_dir: Path, no_leftover_groups: list[int]
) -> None:
    with launcher.launched(request(model_dir)) as server:
        assert isinstance(server, VllmServer)
        no_leftover_groups.append(server.proc.pid)
        assert len(group_members(server.proc.pid)) >= 2  # the API server and its engine core
        assert httpx.get(f"{server.base_url}/health").status_code == 200
        info = server.info
        port = server.port
    assert PORT_RANGE[0] <= port <= PORT_RANGE[1]
    assert info.argv[:3] == (sys.executable, "-m", "vllm.entrypoints.openai.api_server")
    assert info.argv[3:11] == (
        "--model",
        str(model_dir),
        "--served-model-name",
        "tiny",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    )
    assert info.argv[11:13] == ("--max-model-len", "4096")
    assert info.env["FAKE_VLLM_MODE"] == "ok" and info.env["VLLM_NO_USAGE_STATS"] == "1"
    assert "PATH" not in info.env  # only what slotune set
    assert info.vllm_version == "0.25.0"
    assert 0 < info.time_to_healthy_s < 30
    facts = info.facts
    assert facts.kv_cache_tokens == 906_208 and facts.num_gpu_blocks == 56_638 and facts.block_size == 16
    assert (
        facts.max_concurrency == 110.62 and facts.torch_compile_s == 20.31 and facts.cuda_graph_capture_s == 5
    )
    assert facts.non_default_args["max_model_len"] == "4096"
    assert Path(info.log_path).is_file()  # the log is kept
    assert port_is_free("127.0.0.1", port)


@pytest.mark.parametrize(
    ("mode", "kind", "reason"),
    [
        (
            "kv_too_small",
            "kv_cache_too_small",
            "To serve at least one request with the model's max seq len (8192)",
        ),
        ("oom", "out_of_memory", "CUDA out of memory. Tried to allocate 2.00 GiB"),
        ("crash", "process_exit", "the fake engine fell over"),
    ],
)
def test_a_server_that_exits_during_start_up(
    launcher: VllmLauncher,
    model_dir: Path,
    tmp_path: Path,
    no_leftover_groups: list[int],
    mode: str,
    kind: str,
    reason: str,
) -> None:
    pidfile = tmp_path / "pid"
    failure = failed_start(launcher, request(model_dir, mode, pidfile), no_leftover_groups, pidfile)
    assert failure.kind == kind
    assert reason in failure.reason
    assert failure.exit_code == 1
    assert reason in failure.log_excerpt
    assert Path(failure.log_path).is_file() and failure.argv[0] == sys.executable
    assert kind in failure.describe() and failure.fix in failure.describe()


def test_a_server_that_never_becomes_healthy_times_out(
    launcher: VllmLauncher, model_dir: Path, tmp_path: Path, no_leftover_groups: list[int]
) -> None:
    launcher.startup_timeout_s = 1.5
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    failure = failed_start(launcher, request(model_dir, "hang", pidfile), no_leftover_groups, pidfile)
    assert failure.kind == "timeout"
    assert "/health did not answer within 2 s" in failure.reason
    assert time.monotonic() - started < 15


def test_a_value_only_vllm_refuses_is_a_bad_flag(
    launcher: VllmLauncher, model_dir: Path, tmp_path: Path, no_leftover_groups: list[int]
) -> None:
    pidfile = tmp_path / "pid"
    req = request(model_dir, pidfile=pidfile, extra_args=("--max-num-seqs", "abc"))
    failure = failed_start(launcher, req, no_leftover_groups, pidfile)
    assert failure.kind == "bad_flag" and failure.exit_code == 2
    assert "argument --max-num-seqs: invalid int value: 'abc'" in failure.reason


def test_an_unknown_model_id_is_reported_from_the_log(
    launcher: VllmLauncher, tmp_path: Path, no_leftover_groups: list[int]
) -> None:
    pidfile = tmp_path / "pid"
    failure = failed_start(
        launcher, request("nobody/no-such-model", pidfile=pidfile), no_leftover_groups, pidfile
    )
    assert failure.kind == "model_not_found" and "Repository Not Found" in failure.reason


def test_nothing_starts_for_a_missing_model_folder_or_a_removed_flag(
    launcher: VllmLauncher, tmp_path: Path, model_dir: Path
) -> None:
    failure = launcher.start(request(tmp_path / "nope"))
    assert isinstance(failure, LaunchFailure) and failure.kind == "model_not_found"
    assert str(tmp_path / "nope") in failure.reason
    with pytest.raises(InputError, match="has no flag --swap-space"):
        launcher.start(request(model_dir, extra_args=("--swap-space", "4")))
    assert not launcher.log_dir.exists() or not any(launcher.log_dir.iterdir())


def test_a_taken_port_that_was_asked_for(launcher: VllmLauncher, model_dir: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        failure = launcher.start(request(model_dir, port=port))
    assert isinstance(failure, LaunchFailure) and failure.kind == "port_in_use"
    assert str(port) in failure.reason


def test_no_free_port_in_the_range(launcher: VllmLauncher, model_dir: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        launcher.port_range = (port, port)
        failure = launcher.start(request(model_dir))
    assert isinstance(failure, LaunchFailure) and failure.kind == "port_in_use"
    assert f"no free port in {port}-{port}" in failure.reason


def test_a_port_taken_before_the_server_binds_it_is_retried_elsewhere(
    launcher: VllmLauncher, model_dir: Path, tmp_path: Path, no_leftover_groups: list[int]
) -> None:
    race = tmp_path / "race"
    req = request(model_dir)
    req = req.model_copy(update={"env": {**req.env, "FAKE_VLLM_PORT_RACE_FILE": str(race)}})
    with launcher.launched(req) as server:
        assert isinstance(server, VllmServer)
        no_leftover_groups.append(server.proc.pid)
        assert server.port != int(race.read_text())
    first_log = next(p for p in launcher.log_dir.iterdir() if p.name.endswith(f"-{race.read_text()}.log"))
    assert "[Errno 98] Address already in use" in first_log.read_text()


def test_a_server_that_ignores_sigint_and_sigterm_is_killed(
    launcher: VllmLauncher, model_dir: Path, no_leftover_groups: list[int]
) -> None:
    server = launcher.start(request(model_dir, "stubborn"))
    assert isinstance(server, VllmServer)
    no_leftover_groups.append(server.proc.pid)
    started = time.monotonic()
    server.stop()
    assert 3.5 < time.monotonic() - started < 15  # SIGINT and SIGTERM were given 2 s each, then SIGKILL
    assert server.proc.returncode == -signal.SIGKILL


def test_an_error_inside_the_with_block_stops_the_server(
    launcher: VllmLauncher, model_dir: Path, no_leftover_groups: list[int]
) -> None:
    with (
        pytest.raises(RuntimeError, match="measuring failed"),
        launcher.launched(request(model_dir)) as server,
    ):
        assert isinstance(server, VllmServer)
        no_leftover_groups.append(server.proc.pid)
        raise RuntimeError("measuring failed")
    assert not server.alive()


def _driver(mode: str, tmp_path: Path, parser_cache: Path) -> tuple[subprocess.Popen[str], Path]:
    pidfile = tmp_path / "pid"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "launch_driver.py"),
            mode,
            str(tmp_path / "logs"),
            str(pidfile),
            str(parser_cache),
        ],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, pidfile


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout_s: float = 60.0) -> int:
    deadline = time.monotonic() + timeout_s
    while not path.exists() or not path.read_text():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the fake server never started"
        time.sleep(0.05)
    return int(path.read_text())


def _wait_gone(pgid: int, timeout_s: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return group_members(pgid)


@pytest.mark.parametrize(("sig", "says"), [(signal.SIGINT, "KeyboardInterrupt"), (signal.SIGTERM, "")])
def test_ctrl_c_or_sigterm_while_waiting_for_health_stops_the_server(
    tmp_path: Path, parser_cache: Path, no_leftover_groups: list[int], sig: signal.Signals, says: str
) -> None:
    driver, pidfile = _driver("wait", tmp_path, parser_cache)
    pgid = _wait_for(pidfile, driver)
    no_leftover_groups.append(pgid)
    time.sleep(0.5)  # inside the health wait
    assert group_members(pgid)
    driver.send_signal(sig)
    _, stderr = driver.communicate(timeout=30)
    # Python ends on an uncaught KeyboardInterrupt by re-raising SIGINT; Terminated exits with 128 + 15.
    assert driver.returncode == (-signal.SIGINT if sig == signal.SIGINT else 128 + signal.SIGTERM), stderr
    assert says in stderr
    assert group_members(pgid) == []  # gone before the driver exited


def test_a_server_left_running_is_stopped_at_exit(
    tmp_path: Path, parser_cache: Path, no_leftover_groups: list[int]
) -> None:
    driver, pidfile = _driver("abandon", tmp_path, parser_cache)
    stdout, stderr = driver.communicate(timeout=60)
    assert driver.returncode == 0 and "healthy" in stdout, stderr
    pgid = int(pidfile.read_text())
    no_leftover_groups.append(pgid)
    assert group_members(pgid) == []


def test_a_killed_launcher_takes_its_server_down(
    tmp_path: Path, parser_cache: Path, no_leftover_groups: list[int]
) -> None:
    """SIGKILL leaves no chance to clean up: the server gets SIGTERM from the kernel (parent-death signal)."""
    if sys.platform != "linux":
        pytest.skip("the parent-death signal is Linux's")
    driver, pidfile = _driver("linger", tmp_path, parser_cache)
    assert driver.stdout is not None and driver.stdout.readline().strip() == "healthy"
    pgid = int(pidfile.read_text())
    no_leftover_groups.append(pgid)
    driver.kill()
    driver.communicate(timeout=10)
    assert _wait_gone(pgid) == []
