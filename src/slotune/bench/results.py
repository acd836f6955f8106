"""Result files: `records.jsonl` streamed as requests finish, `result.json` (a BenchReport) at the end.

- `records.jsonl`: one `RequestRecord` (slotune.models) per measured request, in completion order, flushed
  after each line, so a crash or Ctrl-C loses nothing that finished. Failed requests are kept.
- `warmup.jsonl`: the warm-up requests, same format, excluded from every statistic.
- `result.json`: the BenchReport (slotune.models.reports): summary, server `/metrics` deltas, client telemetry,
  validity and provenance; `slotune.results.load_result` reads it back with the records. Secrets never reach
  these files: the API key is only ever a request header.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from slotune.bench.client import StreamResult
from slotune.bench.worker import Outcome, WireJob
from slotune.models import RequestRecord
from slotune.models.records import FinishReason

RECORDS_FILE = "records.jsonl"
WARMUP_FILE = "warmup.jsonl"


def finish_reason_of(result: StreamResult) -> FinishReason:
    kind = result.error_kind
    if kind is None:
        return "length" if result.finish_reason == "length" else "stop"
    if kind == "timeout":
        return "timeout"
    if kind == "interrupted":
        return "abort"
    if kind == "http" and result.status in (429, 503):
        return "rejected"  # the server refused the request (overloaded)
    return "error"


def to_record(job: WireJob, result: StreamResult, t0: float) -> RequestRecord:
    """A request's timings on the run's clock (0 = run start)."""
    chunk_times = tuple(t - t0 for t in result.chunk_times)
    # Without usage from the server, one token per chunk (flagged in the summary).
    output_tokens = result.completion_tokens if result.completion_tokens is not None else len(chunk_times)
    ok = result.error_kind is None
    finish_t = result.finish_t if ok else (result.ended_t or result.finish_t)
    return RequestRecord(
        request_id=job.request_id,
        arrival_s=result.sent_t - t0,
        first_token_s=chunk_times[0] if chunk_times else None,
        finish_s=None if finish_t is None else finish_t - t0,
        chunk_times_s=chunk_times,
        chunk_tokens=tuple(result.chunk_tokens) if result.continuous_usage else (),
        finish_reason=finish_reason_of(result),
        prompt_tokens=result.prompt_tokens
        if result.prompt_tokens is not None
        else job.expected_prompt_tokens,
        cached_prompt_tokens=result.cached_tokens or 0,
        output_tokens=output_tokens,
        error=result.error,
    )


class RecordWriter:
    """Appends records as they complete, from a background thread.

    The event loop only hands the record over: a write that blocks (a busy disk throttling dirty pages
    can stall `write` for hundreds of milliseconds) must not stall the sends and reads being timed. The
    thread flushes whenever it has caught up, so each line reaches the file as soon as the disk allows.
    """

    def __init__(self, out_dir: Path | None) -> None:
        self.out_dir = out_dir
        self._files: dict[bool, IO[str]] = {}
        self._queue: queue.SimpleQueue[tuple[RequestRecord, bool] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            self._files[False] = (out_dir / RECORDS_FILE).open("w", encoding="utf-8")
            self._files[True] = (out_dir / WARMUP_FILE).open("w", encoding="utf-8")
            self._thread = threading.Thread(target=self._run, name="slotune-record-writer", daemon=True)
            self._thread.start()

    def write(self, record: RequestRecord, *, warmup: bool) -> None:
        if self._thread is not None:
            self._queue.put((record, warmup))

    def _run(self) -> None:
        dirty: set[bool] = set()
        while True:
            item = self._queue.get()
            if item is None:
                break
            record, warmup = item
            try:
                self._files[warmup].write(record.model_dump_json() + "\n")
                dirty.add(warmup)
                if self._queue.empty():
                    for key in dirty:
                        self._files[key].flush()
                    dirty.clear()
            except OSError as exc:  # e.g. disk full: keep measuring, report at the end
                self.error = exc
        for f in self._files.values():
            f.flush()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        for f in self._files.values():
            f.close()
        self._files.clear()


@dataclass
class Collector:
    t0: float
    writer: RecordWriter
    keep_text: bool
    measured: list[tuple[WireJob, StreamResult, RequestRecord]] = field(default_factory=list)
    warmup: list[RequestRecord] = field(default_factory=list)
    num_failed: int = 0

    def __call__(self, outcome: Outcome) -> None:
        record = to_record(outcome.job, outcome.result, self.t0)
        self.writer.write(record, warmup=outcome.job.warmup)
        if outcome.job.warmup:
            self.warmup.append(record)
            return
        if not record.ok:
            self.num_failed += 1
        if not self.keep_text:
            outcome.result.text_parts = None
        self.measured.append((outcome.job, outcome.result, record))
