"""The files of a deployment: the target's, the monitoring's, and the Deployment itself (what was decided)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from slotune.deploy.monitoring.dashboard import build_dashboard
from slotune.deploy.monitoring.rule_tests import rule_tests
from slotune.deploy.monitoring.rules import build_rules
from slotune.deploy.targets import TARGETS
from slotune.deploy.targets.common import comment, dump_yaml, header_lines
from slotune.errors import InputError
from slotune.files import write_atomically
from slotune.models.deploy import Deployment

RULES_FILE = "monitoring/slotune-rules.yaml"
RULES_TEST_FILE = "monitoring/slotune-rules.test.yaml"
DASHBOARD_FILE = "monitoring/grafana-dashboard.json"
DEPLOYMENT_FILE = "deployment.json"


def target_files(deployment: Deployment, target: str) -> dict[str, str]:
    renderer = TARGETS.get(target)
    if renderer is None:
        raise InputError("target", target, f"give --target one of {', '.join(TARGETS)}")
    return renderer(deployment)


def monitoring_files(deployment: Deployment) -> dict[str, str]:
    rules = build_rules(deployment)
    head = comment(
        [*header_lines(deployment), "Check: promtool check rules; promtool test rules the .test file."]
    )
    tests = rule_tests(rules, Path(RULES_FILE).name)
    return {
        RULES_FILE: head + dump_yaml(rules.to_yaml()),
        RULES_TEST_FILE: head + dump_yaml(tests),
        DASHBOARD_FILE: json.dumps(build_dashboard(deployment), indent=2, sort_keys=True) + "\n",
    }


def deployment_files(deployment: Deployment, target: str) -> dict[str, str]:
    """Every file `slotune deploy --out` writes, by path relative to the folder."""
    return {
        **target_files(deployment, target),
        **monitoring_files(deployment),
        DEPLOYMENT_FILE: deployment.model_dump_json(indent=1) + "\n",
    }


def write_files(files: dict[str, str], out_dir: Path) -> list[Path]:
    written = []
    for name, text in files.items():
        path = write_atomically(out_dir / name, text)
        if name.endswith(".sh"):
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        written.append(path)
    return written
