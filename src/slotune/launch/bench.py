"""`slotune bench --engine vllm`: start a vLLM server, measure it like any server, stop it, in one call.

The measurement is the HTTP benchmark's own (one run or a sweep); the launch facts are added to its
summary (`launch`, also in summary.json) and to the RunResult's provenance.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from slotune.bench.results import write_summary
from slotune.bench.settings import BenchSettings
from slotune.bench.summary import BenchOutcome
from slotune.launch.backend import with_launch_info
from slotune.launch.launcher import VllmLauncher
from slotune.models.launch import LaunchFailure, LaunchInfo, ServerRequest


class _Measured(Protocol):
    summary: dict[str, Any]


M = TypeVar("M", bound=_Measured)


def add_launch_to_summary(summary: dict[str, Any], info: LaunchInfo) -> None:
    summary["launch"] = info.model_dump(mode="json")
    provenance = summary.get("provenance")
    if isinstance(provenance, dict):
        provenance["backend"] = "vllm"
        provenance["engine_version"] = f"vllm {info.vllm_version}"


def bench_launched(
    launcher: VllmLauncher,
    request: ServerRequest,
    settings: BenchSettings,
    measure: Callable[[BenchSettings], M],
) -> M | LaunchFailure:
    """Start the server for `request`, run `measure` (run_bench or a sweep) against it, always stop it."""
    with launcher.launched(request) as server:
        if isinstance(server, LaunchFailure):
            return server
        measured = measure(
            dataclasses.replace(
                settings,
                url=server.base_url,
                model=server.served_model_name,
                engine_config=request.engine_config,
            )
        )
        add_launch_to_summary(measured.summary, server.info)
        if isinstance(measured, BenchOutcome):
            measured.run_result = with_launch_info(measured.run_result, server.info)
        if settings.out_dir is not None:
            write_summary(settings.out_dir, measured.summary)
        return measured
