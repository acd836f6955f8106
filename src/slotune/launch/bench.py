"""`slotune bench --engine vllm`: start a vLLM server, measure it like any server, stop it, in one call.

The measurement is the HTTP benchmark's own (one run or a sweep); the launch facts are added to its report
(`result.launch`, or the sweep's `launch`) and saved with it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from slotune.bench.settings import BenchSettings
from slotune.bench.summary import BenchOutcome
from slotune.bench.sweep import SweepOutcome
from slotune.launch.backend import with_launch_info
from slotune.launch.launcher import VllmLauncher
from slotune.models.launch import LaunchFailure, LaunchInfo, ServerRequest
from slotune.results import RESULT_FILE, save_result

M = TypeVar("M", BenchOutcome, SweepOutcome)


def _with_launch(measured: M, info: LaunchInfo, out_dir: Path | None) -> M:
    """The measurement with the launch facts in its report(s), saved again where it was saved."""
    if isinstance(measured, BenchOutcome):
        report = measured.report
        report = report.model_copy(update={"result": with_launch_info(report.result, info)})
        if out_dir is not None:
            save_result(report, out_dir / RESULT_FILE, records_written=True)
        return dataclasses.replace(measured, report=report)
    sweep = measured.report.model_copy(update={"launch": info})
    if out_dir is not None:
        save_result(sweep, out_dir / RESULT_FILE)
    return dataclasses.replace(measured, report=sweep)


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
        return _with_launch(measured, server.info, settings.out_dir)
