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
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
import pytest

from slotune.tune import study as study_module
from slotune.tune.study import KEY_ATTR, POINT_ATTR, WORKER_ATTR, fail_dead_local_trials, open_storage

SLICE = Path(__file__).parents[1] / "data" / "azure_conv_replay_20.csv"
SRC = Path(__file__).parents[2] / "src"
POSTGRES_URL = os.environ.get(
    "SLOTUNE_TEST_POSTGRES_URL",
    f"postgresql://postgres@127.0.0.1:{os.environ.get('SLOTUNE_PG_PORT', '54329')}/slotune_test",
)
BUDGET = 8


def _study_name() -> str:
    """A study of its own: other test runs (other checkouts, CI jobs) may share the PostgreSQL server."""
    return f"test-study-{uuid.uuid4().hex[:12]}"


def _tune(storage: str, study: str, *extra: str) -> list[str]:
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
        study,
        "--json",
        *extra,
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def _trials(
    storage: Any, name: str, states: tuple[Any, ...] = (optuna.trial.TrialState.COMPLETE,)
) -> list[Any]:
    """`storage`: a URL, or a storage opened once (a poll that opens it each time lags behind the tune)."""
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        return []
    return study.get_trials(deepcopy=False, states=states)


def _ran_keys(trials: list[Any]) -> list[str]:
    """Configurations a trial actually measured (not reused from an earlier trial)."""
    return [t.user_attrs[KEY_ATTR] for t in trials if t.user_attrs[POINT_ATTR].get("reused_from") is None]


def _assert_budget_measured_once(trials: list[Any]) -> None:
    """The budget counts distinct configurations: exactly BUDGET were measured, none twice."""
    ran = _ran_keys(trials)
    assert len(ran) == len(set(ran)), Counter(ran).most_common(2)
    assert len(set(ran)) == BUDGET
    assert {t.user_attrs[KEY_ATTR] for t in trials} == set(ran)


def test_a_killed_tune_resumes_without_repeating_finished_trials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    name = _study_name()
    first = subprocess.Popen(
        _tune(storage, name), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 300
    # Opened once, with the tune's own lock timeout: the kill must follow the third configuration closely (a
    # configuration takes well under a second here), and a read must wait for the tune's writes, not fail.
    watch = open_storage(storage)
    while len({t.user_attrs[KEY_ATTR] for t in _trials(watch, name)}) < 3:
        assert first.poll() is None, first.stderr.read().decode() if first.stderr else ""
        assert time.monotonic() < deadline, "no trial finished in 300 s"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    before = {t.number: t.user_attrs[KEY_ATTR] for t in _trials(storage, name)}
    assert 3 <= len(set(before.values())) < BUDGET
    second = subprocess.run(_tune(storage, name), env=_env(), capture_output=True, timeout=600)
    assert second.returncode == 0, second.stderr.decode()
    after = _trials(storage, name)
    # The finished trials are kept as they were and no configuration was measured twice.
    assert {t.number: t.user_attrs[KEY_ATTR] for t in after if t.number in before} == before
    _assert_budget_measured_once(after)
    # The trial the kill interrupted is failed, or (killed before it named its worker, and the second run
    # ended within OWNERLESS_DEAD_S of it) recognized as a dead process's by the next look.
    left = _trials(storage, name, (optuna.trial.TrialState.RUNNING,))
    assert all(not t.user_attrs.get(WORKER_ATTR) for t in left), left
    monkeypatch.setattr(study_module, "OWNERLESS_DEAD_S", 0.0)
    fail_dead_local_trials(optuna.load_study(study_name=name, storage=storage))
    assert not _trials(storage, name, (optuna.trial.TrialState.RUNNING,))


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


def _delete_postgres_study(name: str) -> None:
    for suffix in ("", ":runs", ":claims"):
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=name + suffix, storage=POSTGRES_URL)


def test_two_workers_on_one_postgresql_study_split_the_trials_without_duplicates(tmp_path: Path) -> None:
    _postgres_or_fail()
    name = _study_name()
    try:
        _two_workers_split_the_budget(name, tmp_path)
    finally:
        _delete_postgres_study(name)


def _two_workers_split_the_budget(name: str, logs: Path) -> None:
    # The study is started (baselines measured, first trials queued) by one run; then two workers join.
    leader = subprocess.run(
        _tune(POSTGRES_URL, name, "--budget", "1"), env=_env(), capture_output=True, timeout=600
    )
    assert leader.returncode == 0, leader.stderr.decode()
    errors = [logs / f"worker{i}.err" for i in range(2)]
    workers = []
    for path in errors:
        with path.open("wb") as err:
            workers.append(
                subprocess.Popen(
                    _tune(POSTGRES_URL, name, "--worker"), env=_env(), stdout=subprocess.DEVNULL, stderr=err
                )
            )
    for worker, path in zip(workers, errors, strict=True):
        assert worker.wait(timeout=600) == 0, path.read_text()
    trials = _trials(POSTGRES_URL, name)
    _assert_budget_measured_once(trials)
    assert not _trials(POSTGRES_URL, name, (optuna.trial.TrialState.RUNNING,))
    measured = [t for t in trials if t.user_attrs[POINT_ATTR].get("reused_from") is None]
    by_worker = Counter(str(t.user_attrs[WORKER_ATTR]) for t in measured)
    assert len(by_worker) == 3 and all(n >= 1 for n in by_worker.values()), by_worker
