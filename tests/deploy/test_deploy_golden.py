"""Golden files: what `slotune deploy --out` writes for each target, for one fixed deployment (Llama 3.1 8B on an
H100, two replicas, the interactive-chat SLO plus an E2E mean). A change to any renderer shows up as a diff
here; regenerate with SLOTUNE_UPDATE_GOLDEN=1 after reading it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from deploy_helpers import make_deployment

from slotune.deploy.targets import TARGETS
from slotune.deploy.writer import deployment_files, monitoring_files, target_files

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "deploy" / "golden"
UPDATE = os.environ.get("SLOTUNE_UPDATE_GOLDEN") == "1"


def _check(folder: Path, files: dict[str, str]) -> None:
    if UPDATE:
        for name, text in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
    for name, text in files.items():
        path = folder / name
        assert path.is_file(), f"no golden file {path}: run with SLOTUNE_UPDATE_GOLDEN=1"
        assert text == path.read_text(), f"{path} differs from what deploy writes now"


@pytest.mark.parametrize("target", list(TARGETS))
def test_each_target_matches_its_golden_files(target: str) -> None:
    _check(GOLDEN / target, target_files(make_deployment(replicas=2), target))


def test_the_monitoring_matches_its_golden_files() -> None:
    _check(GOLDEN, monitoring_files(make_deployment(replicas=2)))


def test_deploy_out_writes_the_target_the_monitoring_and_the_decisions() -> None:
    names = set(deployment_files(make_deployment(), "k8s"))
    assert names == {
        "k8s.yaml",
        "monitoring/slotune-rules.yaml",
        "monitoring/slotune-rules.test.yaml",
        "monitoring/grafana-dashboard.json",
        "deployment.json",
    }
