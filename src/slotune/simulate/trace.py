"""Chrome / Perfetto trace export (the JSON trace-event format: https://ui.perfetto.dev opens it).

Process 1 "engine": one complete event per timeline sample (an engine step, or a bucket of steps when the
timeline is downsampled) with its batch in `args`, plus counter tracks for KV usage and queue lengths.
Process 2 "requests": each request's queueing, prefill and decode as consecutive spans, packed greedily onto
as few rows (threads) as keep spans from overlapping.
"""

from __future__ import annotations

import heapq
import json
from pathlib import Path
from typing import Any

from slotune.files import write_atomically
from slotune.models import RunResult

_ENGINE_PID = 1
_REQUESTS_PID = 2
_US = 1e6


def _us(seconds: float) -> float:
    return round(seconds * _US, 3)


def chrome_trace(result: RunResult, *, max_requests: int = 20_000) -> dict[str, Any]:
    events: list[dict[str, Any]] = [
        {"ph": "M", "pid": _ENGINE_PID, "tid": 0, "name": "process_name", "args": {"name": "engine"}},
        {"ph": "M", "pid": _REQUESTS_PID, "tid": 0, "name": "process_name", "args": {"name": "requests"}},
        {"ph": "M", "pid": _ENGINE_PID, "tid": 1, "name": "thread_name", "args": {"name": "steps"}},
    ]
    for sample in result.timeline:
        name = "step" if sample.num_steps == 1 else f"{sample.num_steps} steps"
        if sample.num_prefill_tokens:
            name += " (prefill)"
        ts = _us(sample.time_s)
        events.append(
            {
                "ph": "X",
                "pid": _ENGINE_PID,
                "tid": 1,
                "name": name,
                "ts": ts,
                "dur": _us(sample.duration_s),
                "args": {
                    "num_running": sample.num_running,
                    "num_waiting": sample.num_waiting,
                    "prefill_tokens": sample.num_prefill_tokens,
                    "decode_tokens": sample.num_decode_tokens,
                    "preemptions": sample.num_preemptions,
                    "prefix_hit_tokens": sample.prefix_hit_tokens,
                    "num_steps": sample.num_steps,
                },
            }
        )
        events.append(
            {"ph": "C", "pid": _ENGINE_PID, "name": "kv_usage", "ts": ts, "args": {"kv": sample.kv_usage}}
        )
        events.append(
            {
                "ph": "C",
                "pid": _ENGINE_PID,
                "name": "requests",
                "ts": ts,
                "args": {"running": sample.num_running, "waiting": sample.num_waiting},
            }
        )
    rows: list[tuple[float, int]] = []  # (end time, row) of the last span on each row
    num_rows = 0
    for record in result.records[:max_requests]:
        if record.first_token_s is None or record.finish_s is None:
            continue
        start = record.arrival_s
        if rows and rows[0][0] <= start:
            _, row = heapq.heappop(rows)
        else:
            num_rows += 1
            row = num_rows
        heapq.heappush(rows, (record.finish_s, row))
        scheduled = record.scheduled_s if record.scheduled_s is not None else start
        args = {
            "request_id": record.request_id,
            "prompt_tokens": record.prompt_tokens,
            "cached_prompt_tokens": record.cached_prompt_tokens,
            "output_tokens": record.output_tokens,
            "preemptions": record.num_preemptions,
        }
        for name, begin, end in (
            ("queued", start, scheduled),
            ("prefill", scheduled, record.first_token_s),
            ("decode", record.first_token_s, record.finish_s),
        ):
            if end > begin:
                events.append(
                    {
                        "ph": "X",
                        "pid": _REQUESTS_PID,
                        "tid": row,
                        "name": name,
                        "ts": _us(begin),
                        "dur": _us(end - begin),
                        "args": args,
                    }
                )
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "backend": result.provenance.backend,
            "model": result.provenance.model,
            "gpu": result.provenance.gpu,
            "workload": result.provenance.workload_name,
            "seed": str(result.provenance.seed),
        },
    }


def write_chrome_trace(result: RunResult, path: str | Path, *, max_requests: int = 20_000) -> None:
    write_atomically(path, json.dumps(chrome_trace(result, max_requests=max_requests)))
