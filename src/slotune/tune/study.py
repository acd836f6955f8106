"""The study's storage: Optuna's RDB storage (SQLite by default, any SQLAlchemy URL such as PostgreSQL), so a
search stopped by Ctrl-C or a crash resumes without repeating finished trials, and workers on several hosts
share one study (`--storage URL --worker`).

Every trial keeps its whole TunePoint as a user attribute ("point"), so a report is rebuilt from the storage
alone. Baseline points are trials too (with a "role" attribute and no sampled parameters), measured once per
study. A trial a killed worker left RUNNING is failed once its heartbeat is older than the grace period, and
its configuration may then be sampled again; finished trials never are (the same configuration is reused).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from slotune.errors import InputError
from slotune.models.tune import TuneInputs, TunePoint

log = logging.getLogger(__name__)

DEFAULT_STORAGE_FILE = "slotune-tune.db"
POINT_ATTR = "point"
KEY_ATTR = "key"
ROLE_ATTR = "role"
INPUTS_ATTR = "inputs"
WORKER_ATTR = "worker"
# Which process ran a trial (host and pid): workers of one study are told apart in the storage.
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
HEARTBEAT_S = 20
GRACE_S = 60
# A RUNNING trial without its worker's name this long after it started belongs to a dead process.
OWNERLESS_DEAD_S = 10


def default_storage(out: Path | None) -> str:
    """SQLite beside the report (or in the working folder)."""
    folder = out.parent if out is not None and out.suffix else out or Path(".")
    return f"sqlite:///{(folder / DEFAULT_STORAGE_FILE).as_posix()}"


def shown_url(url: str) -> str:
    """The URL without its password (it goes into reports and logs)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL SQLAlchemy cannot parse is refused later (open_storage), with a fix
        return url


def study_name_for(inputs: TuneInputs) -> str:
    """The same question gets the same study: model, GPUs, workload, SLO, load, engine, space and seed."""
    keyed = inputs.model_dump(mode="json", exclude={"budget", "study_name", "storage"})
    digest = hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:12]
    return f"slotune-{inputs.model.replace('/', '_')}-{inputs.engine}-{digest}"


def open_storage(url: str, *, heartbeat_s: int = HEARTBEAT_S, grace_s: int = GRACE_S) -> Any:
    import optuna
    from sqlalchemy.exc import ArgumentError, OperationalError

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    try:
        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 4-5, and what resume needs
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_s, grace_period=grace_s
            )
    except (ArgumentError, OperationalError, ImportError, ValueError) as exc:
        raise InputError(
            "--storage",
            shown_url(url),
            "give an SQLAlchemy URL of a database this host reaches, e.g. sqlite:///tune.db or "
            "postgresql://user:password@host/db (PostgreSQL needs psycopg: pip install 'slotune[postgres]')",
            problem=str(exc).splitlines()[0],
        ) from exc


def open_study(storage: Any, name: str, *, seed: int, create: bool, inputs: TuneInputs | None) -> Any:
    """The study `name` in `storage`: created (with the inputs recorded) unless `create` is False (a worker
    joining), then it must exist."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True, multivariate=True, group=True)
    if not create:
        try:
            return optuna.load_study(study_name=name, storage=storage, sampler=sampler)
        except KeyError as exc:
            raise InputError(
                "--worker",
                name,
                "start the study first without --worker (same flags and --storage), then add workers",
                problem="no such study in the storage",
            ) from exc
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        sampler=sampler,
        directions=["minimize", "minimize"],
        load_if_exists=True,
    )
    if inputs is not None and INPUTS_ATTR not in study.user_attrs:
        study.set_user_attr(INPUTS_ATTR, inputs.model_dump(mode="json"))
    return study


def completed_points(study: Any) -> Iterator[tuple[Any, TunePoint]]:
    """(trial, point) of every finished trial (complete or pruned) that recorded its point."""
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    for trial in study.get_trials(deepcopy=False, states=states):
        data = trial.user_attrs.get(POINT_ATTR)
        if data is not None:
            yield trial, TunePoint.model_validate(data)


def record(trial: Any, point: TunePoint, key: str) -> None:
    trial.set_user_attr(ROLE_ATTR, point.role)
    trial.set_user_attr(KEY_ATTR, key)
    trial.set_user_attr(POINT_ATTR, point.model_dump(mode="json"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_dead_local_trials(study: Any) -> list[int]:
    """Fail the RUNNING trials a process of this host left behind when it died (killed, crashed): their
    configurations may be sampled again at once. Other hosts' trials are failed by their heartbeat instead."""
    import optuna

    host = socket.gethostname()
    now = datetime.datetime.now()
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        owner = str(trial.user_attrs.get(WORKER_ATTR, ""))
        owner_host, _, pid = owner.rpartition(":")
        # A worker names itself first thing in its objective; a trial still unnamed long after it started was
        # created by a process killed between Optuna's ask (which samples) and that first line.
        started = trial.datetime_start
        unnamed_dead = (
            not owner and started is not None and (now - started).total_seconds() > OWNERLESS_DEAD_S
        )
        if unnamed_dead or (
            owner_host == host and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid))
        ):
            study._storage.set_trial_state_values(trial._trial_id, state=optuna.trial.TrialState.FAIL)
            failed.append(trial.number)
    if failed:
        log.info("trials %s of a process that died are failed and may run again", failed)
    return failed
