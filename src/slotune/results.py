"""Saving and loading the reports commands write (slotune.models.reports): one place for the file format.

A report is one JSON file. Per-request records, which can number millions, are kept beside it as JSON lines
(`records_file`, relative to the report's folder) and read back with it. Files are written to a temporary
name and renamed, so a reader never sees half a file. Loading checks the kind and the schema version, so a
file from another slotune version is a clear error rather than silently misread numbers.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from slotune import __version__
from slotune.errors import InputError
from slotune.files import atomic_open, write_atomically
from slotune.metrics.plot_data import run_plot_data
from slotune.models import RequestRecord, RunResult
from slotune.models.audit import AuditReport
from slotune.models.reports import BenchReport, SavedResult, SimulationReport, SweepReport, WorkloadReport
from slotune.models.tune import TuneReport
from slotune.models.validation import ValidationReport

RESULT_FILE = "result.json"
R = TypeVar("R", bound=SavedResult)

REPORT_TYPES: dict[str, type[SavedResult]] = {
    "simulate": SimulationReport,
    "bench": BenchReport,
    "sweep": SweepReport,
}


def register_report(cls: type[R]) -> type[R]:
    """Make a new report kind loadable (its `kind` field's default names it)."""
    REPORT_TYPES[str(cls.model_fields["kind"].default)] = cls
    return cls


register_report(WorkloadReport)
register_report(TuneReport)
register_report(ValidationReport)
register_report(AuditReport)


def stamped(report: R) -> R:
    """The report with the writing slotune's version and the time, where not set yet."""
    updates: dict[str, str] = {}
    if not report.slotune_version:
        updates["slotune_version"] = __version__
    if not report.created_utc:
        updates["created_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    return report.model_copy(update=updates) if updates else report


def _report_path(path: Path) -> Path:
    """A folder (existing, or a new name without a suffix) gets result.json; anything else is the file."""
    return path / RESULT_FILE if path.is_dir() or (path.suffix == "" and not path.exists()) else path


def write_records(path: Path, records: tuple[RequestRecord, ...] | list[RequestRecord]) -> None:
    with atomic_open(path) as f:
        for r in records:
            f.write(r.model_dump_json())
            f.write("\n")


def read_records(path: Path) -> list[RequestRecord]:
    with path.open(encoding="utf-8") as f:
        return [RequestRecord.model_validate_json(line) for line in f if line.strip()]


def _result_of(report: SavedResult) -> RunResult | None:
    value = getattr(report, "result", None)
    return value if isinstance(value, RunResult) else None


def save_result(report: R, path: str | os.PathLike[str], *, records_written: bool = False) -> Path:
    """Write `report` to `path` (a .json file, or a folder that gets result.json); returns the file written.

    Records of its RunResult go to `<name>.records.jsonl` beside it; what plots need of them is summarized into
    the report's `plot_data` (so a report of a million-request run never reads the records back). `records_written`: the report's own
    `records_file` already holds them (a benchmark streams its records while it runs), so only the report is
    written."""
    target = _report_path(Path(path))
    report = stamped(report)
    result = _result_of(report)
    if result is not None and result.records and "plot_data" in type(report).model_fields:
        report = report.model_copy(update={"plot_data": run_plot_data(result.records)})
    if result is not None and result.records:
        if records_written and report.records_file:
            records_name = report.records_file
        else:  # named after the report, so two reports in one folder never share a records file
            records_name = target.with_suffix("").name + ".records.jsonl"
            write_records(target.with_name(records_name), result.records)
        report = report.model_copy(update={"records_file": records_name})
    elif report.records_file is not None:
        report = report.model_copy(update={"records_file": None})  # nothing in memory to keep beside it
    exclude: Any = {"result": {"records"}} if result is not None else None
    data = report.model_dump(mode="json", exclude=exclude)
    write_atomically(target, json.dumps(data, indent=1) + "\n")
    return target


def _check_header(data: object, where: str) -> type[SavedResult]:
    kinds = ", ".join(sorted(REPORT_TYPES))
    if not isinstance(data, dict):
        raise InputError("result", where, f"give a result file written by slotune (kinds: {kinds})")
    if "kind" not in data:
        old = data.get("schema")
        problem = f"an old result format ({old})" if old else "not a slotune result"
        raise InputError(
            "result", where, "re-run the command that made it with this slotune version", problem=problem
        )
    cls = REPORT_TYPES.get(str(data["kind"]))
    if cls is None:
        raise InputError("result kind", data["kind"], f"this slotune reads {kinds}")
    version = data.get("schema_version")
    if version != cls.SCHEMA_VERSION:
        raise InputError(
            "result schema_version",
            version,
            f"re-run `slotune {data['kind']}` to write it again with this slotune",
            problem=f"{where} was written by slotune {data.get('slotune_version') or '?'}; this slotune reads "
            f"schema {cls.SCHEMA_VERSION} of '{data['kind']}' results",
        )
    return cls


def load_result(
    path: str | os.PathLike[str], expect: type[R] | None = None, *, with_records: bool = True
) -> R:
    """Read a saved report (a file, or a folder holding result.json), records included unless told not to."""
    target = _report_path(Path(path))
    where = str(target)
    if not target.is_file():
        raise InputError(
            "result", str(path), "give a result file (or a folder with result.json) written by slotune"
        )
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            "result", where, "give a JSON result file written by slotune", problem=str(exc)
        ) from exc
    cls = _check_header(data, where)
    if expect is not None and not issubclass(cls, expect):
        wanted = expect.model_fields["kind"].default
        raise InputError("result kind", data["kind"], f"give a '{wanted}' result here")
    try:
        report = cls.model_validate(data)
    except ValidationError as exc:
        raise InputError.from_validation(
            exc, field=where, fix="re-run the command that wrote it", joiner=": "
        ) from exc
    result = _result_of(report)
    if with_records and report.records_file and result is not None:
        records_path = target.parent / report.records_file
        if not records_path.is_file():
            raise InputError(
                "records_file",
                str(records_path),
                "keep the records file beside the result, or load without records",
            )
        records = tuple(read_records(records_path))
        report = report.model_copy(update={"result": result.model_copy(update={"records": records})})
    return report  # type: ignore[return-value]


def report_json(report: SavedResult) -> dict[str, Any]:
    """What `--json` prints: the report without per-request records and the timeline (they can be huge), nor
    the plot data drawn from the records (for `slotune report`)."""
    exclude: Any = None
    if _result_of(report) is not None:
        exclude = {"result": {"records", "timeline"}, "plot_data": True}
    return report.model_dump(mode="json", exclude=exclude)
