"""The study lives in its storage: a tune killed mid-run resumes without repeating finished trials, and two
workers on one PostgreSQL study split the trials without duplicates.

Both run `slotune tune` as separate processes on the simulator. The PostgreSQL server is started by
scripts/setup_postgres.sh (`make test` runs it); without it the test is skipped on a developer's machine and
fails in CI (CI=true).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
import pytest

from slotune.tune.study import KEY_ATTR, POINT_ATTR, WORKER_ATTR

SLICE = Path(__file__).parents[1] / "data" / "azure_conv_replay_20.csv"
SRC = Path(__file__).parents[2] / "src"
POSTGRES_URL = os.environ.get(
    "SLOTUNE_TEST_POSTGRES_URL",
    f"postgresql://postgres@127.0.0.1:{os.environ.get('SLOTUNE_PG_PORT', '54329')}/slotune_test",
)
BUDGET = 8


def _tune(storage: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "slotune",
        "tune",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "h100",
        "--workload",
        str(SLICE),
        "--slo",
        "interactive-chat",
        "--budget",
        str(BUDGET),
        "--num-requests",
        "120",
        "--no-grid",
        "--tiers",
        "2",
        "--storage",
        storage,
        "--study",
        "test-study",
        "--json",
        *extra,
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def _trials(storage: str, states: tuple[Any, ...] = (optuna.trial.TrialState.COMPLETE,)) -> list[Any]:
    try:
        study = optuna.load_study(study_name="test-study", storage=storage)
    except KeyError:
        return []
    return study.get_trials(deepcopy=False, states=states)


def _ran_keys(trials: list[Any]) -> list[str]:
    """Configurations a trial actually measured (not reused from an earlier trial)."""
    return [t.user_attrs[KEY_ATTR] for t in trials if t.user_attrs[POINT_ATTR].get("reused_from") is None]


def test_a_killed_tune_resumes_without_repeating_finished_trials(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    first = subprocess.Popen(_tune(storage), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while len(_trials(storage)) < 3:
        assert first.poll() is None, first.stderr.read().decode() if first.stderr else ""
        assert time.monotonic() < deadline, "no trial finished in 300 s"
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    before = {t.number: t.user_attrs[KEY_ATTR] for t in _trials(storage)}
    assert 3 <= len(before) < BUDGET
    second = subprocess.run(_tune(storage), env=_env(), capture_output=True, timeout=600)
    assert second.returncode == 0, second.stderr.decode()
    after = _trials(storage)
    assert len(after) == BUDGET
    # The finished trials are kept as they were and no configuration was measured twice.
    assert {t.number: t.user_attrs[KEY_ATTR] for t in after if t.number in before} == before
    ran = _ran_keys(after)
    assert len(ran) == len(set(ran))
    # The trial the kill interrupted is failed, not left running.
    assert not _trials(storage, (optuna.trial.TrialState.RUNNING,))


def _postgres_or_fail() -> None:
    import sqlalchemy

    try:
        with sqlalchemy.create_engine(POSTGRES_URL).connect():
            return
    except Exception as exc:  # no server: skipped here, a failure in CI
        message = f"PostgreSQL at {POSTGRES_URL} is not reachable ({type(exc).__name__}): run `bash scripts/setup_postgres.sh`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}. CI must run the storage test, not skip it.", pytrace=False)
        pytest.skip(message)


def _fresh_postgres_study() -> None:
    for name in ("test-study", "test-study:runs"):
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=name, storage=POSTGRES_URL)


def test_two_workers_on_one_postgresql_study_split_the_trials_without_duplicates() -> None:
    _postgres_or_fail()
    _fresh_postgres_study()
    # The study is started (baselines measured, first trials queued) by one run; then two workers join.
    leader = subprocess.run(
        _tune(POSTGRES_URL, "--budget", "1"), env=_env(), capture_output=True, timeout=600
    )
    assert leader.returncode == 0, leader.stderr.decode()
    workers = [
        subprocess.Popen(
            _tune(POSTGRES_URL, "--worker"), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.wait(timeout=600) == 0, worker.stderr.read().decode() if worker.stderr else ""
    trials = _trials(POSTGRES_URL)
    assert len(trials) == BUDGET
    ran = _ran_keys(trials)
    assert len(ran) == len(set(ran)), Counter(ran).most_common(2)
    by_worker = Counter(str(t.user_attrs[WORKER_ATTR]) for t in trials)
    assert len(by_worker) == 3 and all(n >= 1 for n in by_worker.values()), by_worker
    _fresh_postgres_study()
