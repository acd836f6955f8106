"""The saved results a report draws: each loaded once (without its records: what plots need of them is in the
report's `plot_data`), with a short label that tells them apart."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from slotune.errors import InputError
from slotune.models import RunResult
from slotune.models.reports import RunPlotData, SavedResult
from slotune.results import RESULT_FILE, load_result


@dataclass(frozen=True, slots=True)
class Loaded:
    label: str  # unique among the report's inputs
    path: Path  # the report file itself
    report: SavedResult

    @property
    def result(self) -> RunResult | None:
        value = getattr(self.report, "result", None)
        return value if isinstance(value, RunResult) else None

    @property
    def plot_data(self) -> RunPlotData | None:
        value = getattr(self.report, "plot_data", None)
        return value if isinstance(value, RunPlotData) else None


def _report_file(path: Path) -> Path:
    return path / RESULT_FILE if path.is_dir() else path


def _labels(files: list[Path]) -> list[str]:
    """Short names that tell the inputs apart: the file name ("run.json"), the folder's for a result.json
    ("bench-a"), with more of the path only where two would read the same."""
    parts = [f.resolve().parts for f in files]
    depths = [2 if f.name == RESULT_FILE and len(p) > 1 else 1 for f, p in zip(files, parts, strict=True)]

    def label(i: int) -> str:
        shown = parts[i][-depths[i] :]
        return "/".join(shown[:-1] if files[i].name == RESULT_FILE and len(shown) > 1 else shown).lstrip("/")

    while True:
        labels = [label(i) for i in range(len(files))]
        clashing = [
            i for i, name in enumerate(labels) if labels.count(name) > 1 and depths[i] < len(parts[i])
        ]
        if not clashing:  # the same file given twice: number the copies
            return [
                name if labels.count(name) == 1 else f"{name} #{labels[:i].count(name) + 1}"
                for i, name in enumerate(labels)
            ]
        for i in clashing:
            depths[i] += 1


def load_inputs(paths: list[str | os.PathLike[str]]) -> list[Loaded]:
    if not paths:
        raise InputError(
            "RESULT", "", "give at least one result file (e.g. run.json from `slotune simulate --out`)"
        )
    files = [_report_file(Path(p)) for p in paths]
    return [
        Loaded(label=label, path=f, report=load_result(f, with_records=False))
        for f, label in zip(files, _labels(files), strict=True)
    ]
