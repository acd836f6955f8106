"""`VllmBackend`: the Backend protocol on a vLLM server this backend starts itself (launcher + HTTP backend).

`run(workload, engine_config)` starts a server with that configuration, or reuses the warm one when the
resolved arguments and environment are the same, measures the workload over HTTP, and returns the
RunResult with the launch facts in its provenance. Runs must not see each other's prefix cache: before every
run the prefix cache is emptied through vLLM's `/reset_prefix_cache` (a development endpoint in 0.25 and
0.32, served only with VLLM_SERVER_DEV_MODE=1, which this backend sets on its loopback server), or, where
that endpoint is missing, a server that already ran something is restarted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Literal

import httpx

from slotune.bench.http_backend import HttpBackend
from slotune.errors import BackendError
from slotune.launch.launcher import VllmLauncher, VllmServer
from slotune.models import SLO, EngineConfig, RunResult, Workload
from slotune.models.launch import LaunchFailure, LaunchInfo, ServerRequest

log = logging.getLogger(__name__)

CachePolicy = Literal["reset", "restart", "share"]
RESET_ATTEMPTS = 20
RESET_RETRY_S = 0.25
DEV_MODE_ENV = {"VLLM_SERVER_DEV_MODE": "1"}


class LaunchError(BackendError):
    """The server for a run did not start; `failure` says why, with vLLM's log excerpt."""

    def __init__(self, failure: LaunchFailure) -> None:
        self.failure = failure
        super().__init__(failure.describe())


def with_launch_info(result: RunResult, info: LaunchInfo) -> RunResult:
    """`result` of a server slotune launched: the launch facts, and the backend and version in the provenance."""
    provenance = result.provenance.model_copy(
        update={"backend": "vllm", "engine_version": f"vllm {info.vllm_version}"}
    )
    return result.model_copy(update={"provenance": provenance, "launch": info})


def reset_prefix_cache(base_url: str) -> bool:
    """Empty the server's prefix cache; False where the endpoint is missing (server without dev mode).

    0.25 answers 200 with no body; 0.32 answers {"success": false} while requests still hold blocks, so it
    is asked again for a few seconds.
    """
    with httpx.Client(timeout=30.0) as client:
        for _ in range(RESET_ATTEMPTS):
            response = client.post(f"{base_url}/reset_prefix_cache")
            if response.status_code in (404, 405):
                return False
            response.raise_for_status()
            body = response.json() if response.content else {}
            if not isinstance(body, dict) or body.get("success", True):
                return True
            time.sleep(RESET_RETRY_S)
    raise BackendError(
        f"{base_url}/reset_prefix_cache kept answering success=false (requests still running?)"
    )


class VllmBackend:
    """Runs workloads on vLLM servers it starts and stops; use it as a context manager (or call close())."""

    name = "vllm"

    def __init__(
        self,
        launcher: VllmLauncher,
        server: ServerRequest,
        *,
        http_backend: Callable[[str, str], HttpBackend] | None = None,
        cache_policy: CachePolicy = "reset",
    ) -> None:
        """`server` is the model and what every launch shares; each run's engine config replaces its own.

        `http_backend(base_url, served_model_name)` makes the HTTP backend that measures (load, request
        count, tokenizer, ...); `cache_policy`: "reset" the prefix cache before each run on a reused server,
        "restart" the server instead, or "share" the cache between runs.
        """
        self.launcher = launcher
        # The caller's own setting wins: VLLM_SERVER_DEV_MODE=0 makes "reset" fall back to restarts.
        env = {**(DEV_MODE_ENV if cache_policy == "reset" else {}), **server.env}
        self.server_request = server.model_copy(update={"env": env})
        self.http_backend = http_backend or (lambda url, model: HttpBackend(url, model))
        self.cache_policy = cache_policy
        self._server: VllmServer | None = None
        self._runs_on_server = 0
        self.launches = 0

    def request_for(self, engine_config: EngineConfig | None) -> ServerRequest:
        return self.server_request.model_copy(update={"engine_config": engine_config})

    def _same_server(self, request: ServerRequest) -> bool:
        server = self._server
        return server is not None and server.alive() and server.key == self.launcher.request_key(request)

    def ensure_server(self, engine_config: EngineConfig | None) -> VllmServer:
        """The warm server if it runs with these resolved flags, else a fresh one (the old one stopped)."""
        request = self.request_for(engine_config)
        if self._same_server(request):
            assert self._server is not None
            return self._server
        self.close()
        outcome = self.launcher.start(request)
        if isinstance(outcome, LaunchFailure):
            raise LaunchError(outcome)
        self.launches += 1
        self._server = outcome
        self._runs_on_server = 0
        return outcome

    def _fresh_cache(self, engine_config: EngineConfig | None) -> VllmServer:
        """The server for `engine_config`, its prefix cache empty unless the policy is to share it.

        The cache is reset before every run, not only after this backend's own: a server handed out by
        `ensure_server` may have served anything since.
        """
        server = self.ensure_server(engine_config)
        if self.cache_policy == "share":
            return server
        if self.cache_policy == "reset" and reset_prefix_cache(server.base_url):
            return server
        if self._runs_on_server == 0:
            return server  # fresh from its launch as far as this backend knows
        log.info("restarting the vLLM server so that the next run starts with an empty prefix cache")
        self.close()
        return self.ensure_server(engine_config)

    def run(self, workload: Workload, engine_config: EngineConfig, *, slo: SLO | None = None) -> RunResult:
        server = self._fresh_cache(engine_config)
        http = self.http_backend(server.base_url, server.served_model_name)
        if slo is not None:
            http.slo = slo
        result = http.run(workload, engine_config)
        self._runs_on_server += 1
        return with_launch_info(result, server.info)

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> VllmBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
