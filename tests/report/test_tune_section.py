"""The report's tune section: the frontier with the baselines and the recommendation marked, the search's
progress, the baselines side by side, the vLLM command."""

from __future__ import annotations

from pathlib import Path

from slotune.models import LoadSpec
from slotune.report.inputs import Loaded
from slotune.report.sections.tune import FRONTIER, section
from slotune.slo import resolve_slo
from slotune.tune import TuneOptions, tune
from slotune.workload.io import read_workload

SLICE = Path(__file__).parents[1] / "data" / "azure_conv_replay_20.csv"


def test_the_tune_section_marks_the_frontier_baselines_and_recommendation(tmp_path: Path) -> None:
    report = tune(
        TuneOptions(
            model="llama-3.1-8b",
            gpus=["h100"],
            workload=read_workload(SLICE),
            slo=resolve_slo("interactive-chat"),
            load=LoadSpec(kind="rate", rate_rps=1.0, arrival="trace", num_requests=60),
            storage=f"sqlite:///{tmp_path / 'study.db'}",
            budget=4,
            tiers=[2],
            grid=False,
        )
    )
    drawn = section(Loaded(label="tune.json", path=tmp_path / "tune.json", report=report))
    assert drawn.verdict is not None and drawn.verdict.passed
    frontier, progress = drawn.figures
    groups = {row["group"] for row in frontier.spec["data"]["values"]}
    assert {FRONTIER, "baseline: defaults", "baseline: seed", "recommended"} <= groups
    steps = [row["value"] for row in progress.spec["data"]["values"]]
    assert steps == sorted(steps, reverse=True)  # the best $/Mtok so far never gets worse
    names = [row[0].text for row in drawn.tables[0].rows]
    assert names == ["baseline: defaults", "baseline: seed", "recommended"]
    assert any(note.startswith("vLLM command: vllm serve llama-3.1-8b") for note in drawn.notes)
