"""Start vLLM's OpenAI server for a `ServerRequest`, wait until it is healthy, and always stop it.

`VllmLauncher.start` returns a running `VllmServer` or a `LaunchFailure` (what went wrong, in vLLM's
words, with the log excerpt): a configuration that does not start is an outcome, not an exception. Bad
flags are refused before anything starts (InputError). Whatever happens while waiting (Ctrl-C, SIGTERM,
an error) the server's whole process group is stopped before the exception leaves `start`; a running
server is stopped by `VllmServer.stop`, its context manager, or at the latest at interpreter exit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

import httpx

from slotune.bench.server_metrics import parse_prometheus
from slotune.launch.argv import server_args, server_command, without_port
from slotune.launch.failures import diagnose
from slotune.launch.flags import ParserSpec, check_flags, load_parser_spec
from slotune.launch.log_facts import startup_facts
from slotune.launch.ports import pick_free_port, port_is_free, wait_port_free
from slotune.launch.process import (
    INTERRUPT_GRACE_S,
    TERMINATE_GRACE_S,
    sigterm_unwinds,
    start_group,
    stop_group,
)
from slotune.models.launch import LaunchFailure, LaunchInfo, ServerRequest

log = logging.getLogger(__name__)

DEFAULT_STARTUP_TIMEOUT_S = 900.0  # an 8B model on a cold H200 takes ~100 s; compile caches can be slower
POLL_INTERVAL_S = 0.25
RequestKey = tuple[tuple[str, ...], tuple[tuple[str, str], ...]]
# The server's log is only read by us; these keep it current and keep vLLM from phoning home.
SERVER_ENV = {"PYTHONUNBUFFERED": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}


class VllmServer:
    """A healthy vLLM server this process started. Stop it with `stop()` or by leaving its `with` block."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        info: LaunchInfo,
        *,
        served_model_name: str,
        host: str,
        key: RequestKey,
        stop_grace_s: tuple[float, float] = (INTERRUPT_GRACE_S, TERMINATE_GRACE_S),
    ):
        self.proc = proc
        self.info = info
        self.served_model_name = served_model_name
        self.host = host
        self.key = key  # same key, same server: resolved arguments (port aside) and the environment set
        self.stop_grace_s = stop_grace_s
        self._stopped = False

    @property
    def base_url(self) -> str:
        return self.info.base_url

    @property
    def model(self) -> str:
        """What clients send as `model`: the served model name."""
        return self.served_model_name

    @property
    def port(self) -> int:
        return self.info.port

    @property
    def log_path(self) -> Path:
        return Path(self.info.log_path)

    def alive(self) -> bool:
        return not self._stopped and self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the whole process group and wait until the port is free again (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        interrupt_grace_s, terminate_grace_s = self.stop_grace_s
        stop_group(self.proc, interrupt_grace_s=interrupt_grace_s, terminate_grace_s=terminate_grace_s)
        if not wait_port_free(self.host, self.port):
            log.warning("port %d still taken after the server stopped", self.port)

    def __enter__(self) -> VllmServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class VllmLauncher:
    """Starts vLLM servers from one installation (`python`: the Python where `import vllm` works)."""

    def __init__(
        self,
        python: Path | str,
        *,
        log_dir: Path,
        host: str = "127.0.0.1",
        port_range: tuple[int, int] | None = None,
        startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        cache_dir: Path | None = None,
        validate_flags: bool = True,
        port_attempts: int = 3,
        stop_grace_s: tuple[float, float] = (INTERRUPT_GRACE_S, TERMINATE_GRACE_S),
        on_start: Callable[[list[str], Path], None] | None = None,
    ) -> None:
        """`stop_grace_s`: seconds the server gets after SIGINT, then after SIGTERM, before SIGKILL.
        `on_start(argv, log_path)` is called as each server process starts (e.g. to show where its log is)."""
        self.python = Path(python)
        self.log_dir = log_dir
        self.host = host
        self.port_range = port_range
        self.startup_timeout_s = startup_timeout_s
        self.env = dict(env or {})
        self.cwd = cwd
        self.cache_dir = cache_dir
        self.validate_flags = validate_flags
        self.port_attempts = port_attempts
        self.stop_grace_s = stop_grace_s
        self.on_start = on_start
        self._spec: ParserSpec | None = None

    # Before launch ------------------------------------------------------------------------------
    def parser_spec(self) -> ParserSpec:
        if self._spec is None:
            self._spec = load_parser_spec(self.python, cache_dir=self.cache_dir, env=self.env)
        return self._spec

    def server_args(self, request: ServerRequest, port: int) -> list[str]:
        return server_args(
            model=request.model,
            served_model_name=request.served_name(),
            host=self.host,
            port=port,
            engine_config=request.engine_config,
            extra_args=request.extra_args,
        )

    def request_key(self, request: ServerRequest) -> RequestKey:
        return without_port(self.server_args(request, 0)), tuple(sorted(self.server_env(request).items()))

    def check(self, request: ServerRequest) -> list[str]:
        """Raise InputError for flags this vLLM would refuse; return its deprecation warnings."""
        if not self.validate_flags:
            return []
        return check_flags(self.server_args(request, request.port or 1), self.parser_spec())

    def server_env(self, request: ServerRequest) -> dict[str, str]:
        """What slotune sets for the server (recorded in LaunchInfo), on top of the caller's environment."""
        return {**SERVER_ENV, **self.env, **request.env}

    # Launch -------------------------------------------------------------------------------------
    def start(self, request: ServerRequest) -> VllmServer | LaunchFailure:
        """Start a server and wait until /health answers; a failed start comes back as a LaunchFailure."""
        for warning in self.check(request):
            log.warning("%s", warning)
        if missing := _missing_local_model(request.model):
            return missing
        if request.port is not None and not port_is_free(self.host, request.port):
            return LaunchFailure(
                kind="port_in_use",
                reason=f"{self.host}:{request.port} is taken",
                fix="choose another port, or leave the port unset so slotune picks a free one",
            )
        tried: set[int] = set()
        for _ in range(max(1, self.port_attempts)):
            try:
                port = request.port or pick_free_port(self.host, self.port_range, avoid=tried)
            except OSError as exc:
                return LaunchFailure(
                    kind="port_in_use", reason=str(exc), fix="free a port or widen the port range"
                )
            tried.add(port)
            outcome = self._start_once(request, port)
            retry = isinstance(outcome, LaunchFailure) and outcome.kind == "port_in_use" and not request.port
            if not retry:
                return outcome
            log.info("port %d was taken before vLLM bound it; trying another", port)
        return outcome

    @contextlib.contextmanager
    def launched(self, request: ServerRequest) -> Iterator[VllmServer | LaunchFailure]:
        """`start` as a context manager: the server is stopped on leaving, whatever the reason."""
        with sigterm_unwinds():
            outcome = self.start(request)
            try:
                yield outcome
            finally:
                if isinstance(outcome, VllmServer):
                    outcome.stop()

    def _log_path(self, request: ServerRequest, port: int) -> Path:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")[
            :-3
        ]  # ms: two restarts on a port never share a log
        return self.log_dir / f"vllm-{request.served_name()}-{stamp}-{port}.log"

    def _start_once(self, request: ServerRequest, port: int) -> VllmServer | LaunchFailure:
        args = self.server_args(request, port)
        argv = server_command(self.python, args)
        env = self.server_env(request)
        log_path = self._log_path(request, port)
        base_url = f"http://{self.host}:{port}"
        t0 = time.monotonic()
        with sigterm_unwinds():
            proc = start_group(argv, env={**os.environ, **env}, log_path=log_path, cwd=self.cwd)
            try:
                if self.on_start is not None:
                    self.on_start(argv, log_path)
                state = _wait_healthy(proc, base_url, t0 + self.startup_timeout_s)
                if state == "healthy":
                    info = self._launch_info(proc, argv, env, base_url, port, log_path, time.monotonic() - t0)
                    return VllmServer(
                        proc,
                        info,
                        served_model_name=request.served_name(),
                        host=self.host,
                        key=self.request_key(request),
                        stop_grace_s=self.stop_grace_s,
                    )
            except BaseException:
                self._stop(proc)
                raise
            self._stop(proc)
        return self._failure(state, proc, argv, log_path, time.monotonic() - t0)

    def _stop(self, proc: subprocess.Popen[bytes]) -> None:
        interrupt_grace_s, terminate_grace_s = self.stop_grace_s
        stop_group(proc, interrupt_grace_s=interrupt_grace_s, terminate_grace_s=terminate_grace_s)

    def _failure(
        self, state: str, proc: subprocess.Popen[bytes], argv: list[str], log_path: Path, elapsed_s: float
    ) -> LaunchFailure:
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
        found = diagnose(text)
        kind, reason, fix = found.kind, found.reason, found.fix
        if state == "timeout":
            kind = "timeout"
            reason = f"/health did not answer within {self.startup_timeout_s:.0f} s; last: {found.reason}"
            fix = "allow more time (the startup timeout) or look at the log for where it stalled"
        return LaunchFailure(
            kind=kind,
            reason=reason,
            fix=fix,
            log_excerpt=found.excerpt,
            argv=tuple(argv),
            exit_code=proc.returncode,
            elapsed_s=elapsed_s,
            log_path=str(log_path),
        )

    def _launch_info(
        self,
        proc: subprocess.Popen[bytes],
        argv: list[str],
        env: dict[str, str],
        base_url: str,
        port: int,
        log_path: Path,
        time_to_healthy_s: float,
    ) -> LaunchInfo:
        labels, version = _server_facts(base_url)
        if self._spec is not None:
            version = self._spec.vllm_version
        return LaunchInfo(
            argv=tuple(argv),
            env=env,
            vllm_version=version,
            base_url=base_url,
            port=port,
            pid=proc.pid,
            log_path=str(log_path),
            time_to_healthy_s=time_to_healthy_s,
            facts=startup_facts(log_path.read_text(errors="replace"), labels),
        )


def _wait_healthy(proc: subprocess.Popen[bytes], base_url: str, deadline: float) -> str:
    """ "healthy", "exited" or "timeout"."""
    with httpx.Client(timeout=2.0) as client:
        while True:
            if proc.poll() is not None:
                return "exited"
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{base_url}/health").status_code == 200:
                    return "healthy"
            if time.monotonic() >= deadline:
                return "timeout"
            time.sleep(POLL_INTERVAL_S)


def _server_facts(base_url: str) -> tuple[dict[str, str], str]:
    """/metrics' cache_config_info labels and /version's version (best effort: either may be missing)."""
    labels: dict[str, str] = {}
    version = ""
    with httpx.Client(timeout=10.0) as client:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            snapshot = parse_prometheus(client.get(f"{base_url}/metrics").text)
            found = snapshot.labels_of("vllm:cache_config_info")
            labels = found[0] if found else {}
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, TypeError):
            version = str(client.get(f"{base_url}/version").json()["version"])
    return labels, version


def _missing_local_model(model: str) -> LaunchFailure | None:
    """A model given as a path (absolute, or starting with . or ~) that does not exist: no need to start."""
    if not model.startswith(("/", ".", "~")):
        return None  # a model id: only vLLM can tell whether it resolves
    path = Path(model).expanduser()
    if path.exists():
        return None
    return LaunchFailure(
        kind="model_not_found",
        reason=f"no such model folder: {path}",
        fix="give --model an existing local model folder (with config.json) or a model id",
    )
