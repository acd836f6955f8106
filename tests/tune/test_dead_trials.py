"""A trial a killed process left RUNNING is failed by the next run on the same host, named or not."""

from __future__ import annotations

import subprocess
import sys

import optuna
import pytest

from slotune.tune import study as study_module
from slotune.tune.study import WORKER_ATTR, WORKER_ID, fail_dead_local_trials


def _study() -> optuna.Study:
    return optuna.create_study(storage=optuna.storages.InMemoryStorage())


def test_a_trial_named_by_a_dead_local_process_is_failed() -> None:
    study = _study()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    host = WORKER_ID.rpartition(":")[0]
    trial = study.ask()
    trial.set_user_attr(WORKER_ATTR, f"{host}:{dead.stdout.strip()}")
    mine = study.ask()
    mine.set_user_attr(WORKER_ATTR, WORKER_ID)
    assert fail_dead_local_trials(study) == [trial.number]
    running = study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
    assert [t.number for t in running] == [mine.number]


def test_an_unnamed_trial_is_failed_only_after_its_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    study = _study()
    trial = study.ask()  # killed between Optuna's ask and the objective's first line: never named
    assert fail_dead_local_trials(study) == []  # it may still be a live worker's, just created
    monkeypatch.setattr(study_module, "OWNERLESS_DEAD_S", -1.0)
    assert fail_dead_local_trials(study) == [trial.number]
