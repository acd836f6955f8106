"""Run probes against a real server: each probe is one HTTP benchmark run (its own load), on an empty prefix
cache, with exact output lengths; the records and the server's own histogram means are kept."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from slotune.bench.http_backend import HttpBackend
from slotune.calibrate.probes import Mode, Probe
from slotune.launch.backend import reset_prefix_cache
from slotune.models import EngineConfig, RunResult
from slotune.models.calibration import ProbeData

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """The server the probes go to."""

    base_url: str
    served_model: str
    tokenizer: str | None = None
    timeout_s: float = 600.0
    # Empty the prefix cache before each probe (vLLM's /reset_prefix_cache, served in dev mode).
    reset_cache: bool = True


def server_means(result: RunResult) -> dict[str, float]:
    """Means of the server's histograms over the run's window (vLLM's ttft_s, queue_time_s, ...)."""
    window = result.server.window if result.server is not None else None
    if window is None:
        return {}
    return {key: h.mean for key, h in window.histograms.items() if h.mean is not None and h.count > 0}


def run_probe(
    endpoint: Endpoint, probe: Probe, mode: Mode, engine_config: EngineConfig, seed: int
) -> ProbeData:
    if endpoint.reset_cache and not reset_prefix_cache(endpoint.base_url):
        log.warning("%s has no /reset_prefix_cache: probes may hit each other's cache", endpoint.base_url)
    http = HttpBackend(
        endpoint.base_url,
        endpoint.served_model,
        tokenizer=endpoint.tokenizer,
        load=probe.load,
        seed=seed,
        timeout_s=endpoint.timeout_s,
        exact_output=True,
    )
    started = time.perf_counter()
    result = http.run(probe.workload, engine_config)
    return ProbeData(
        name=probe.name,
        kind=probe.kind,
        mode=mode,
        workload=probe.workload,
        load=probe.load,
        statistics=probe.statistics,
        concurrency=probe.concurrency,
        records=result.records,
        server_s=server_means(result),
        wall_s=time.perf_counter() - started,
    )


def run_probes(
    endpoint: Endpoint,
    probes: list[Probe],
    mode: Mode,
    engine_config: EngineConfig,
    *,
    seed: int,
    on_probe: Callable[[ProbeData], None] | None = None,
) -> list[ProbeData]:
    """Run `probes` in order; every probe gets its own seed (fresh prompt contents)."""
    out = []
    for i, probe in enumerate(probes):
        data = run_probe(endpoint, probe, mode, engine_config, seed + i)
        failed = [r for r in data.records if not r.ok]
        if failed:
            log.warning(
                "probe %s: %d of %d requests failed (%s)",
                probe.name,
                len(failed),
                len(data.records),
                failed[0].error,
            )
        out.append(data)
        if on_probe is not None:
            on_probe(data)
    return out
