"""Which trial measures which configuration, decided the same way by every worker of a study.

The budget counts distinct configurations measured, finished or running, across all workers; no configuration
is measured twice. Reading the study and then starting a trial is a race (two workers both see room for one
more, or both see a configuration free), so a trial first files a claim and only then decides:

- Claims are trials of a second study, `<name>:claims`, each created with its key, its search trial and its
  budget in one transaction. Optuna numbers a study's trials under a lock on the study's row, so the claims'
  numbers order them the same way for every worker: that order is the arbiter.
- A claim looks only at the claims filed before it. One of those counts as live while its search trial runs,
  unless that trial wrote down that this claim lost; a claim not decided yet counts as live (it may win). A
  claim wins when no live earlier claim holds its configuration and the measured configurations plus the live
  earlier claims leave room in the budget. A decision is written on the search trial ("won:N" or "lost:N").
- Every claim filed later sees this one (as live until it is decided), so of two claims on one configuration,
  or on the last place in the budget, at most one wins; both may lose, and the loser retries.

A claim whose trial died (failed by its heartbeat, or by `fail_dead_local_trials`) stops counting: its
configuration and its place in the budget are free again.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from slotune.tune.study import KEY_ATTR, POINT_ATTR

CLAIMS_SUFFIX = ":claims"
DECISION_ATTR = "claim"

Outcome = Literal["won", "reuse", "taken", "full", "done"]


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome  # won: measure it; reuse: finished before; taken: running elsewhere; full/done: budget
    claim: int | None = None
    trial: int | None = None  # the trial that measured (reuse) or is measuring (taken) this configuration

    @property
    def reason(self) -> str:
        if self.outcome == "taken":
            return f"trial {self.trial} is measuring the same configuration"
        if self.outcome == "full":
            return "the budget is held by configurations running in other trials"
        if self.outcome == "done":
            return "budget reached"
        return self.outcome


@dataclass(frozen=True, slots=True)
class Tally:
    """Distinct configurations measured (finished) and running (won claims) in the study."""

    measured: dict[str, int]  # key digest -> a trial that measured it
    running: dict[str, int]  # key digest -> the trial measuring it

    @property
    def num_held(self) -> int:
        return len(self.measured.keys() | self.running.keys())


def _measured(trials: list[Any]) -> dict[str, int]:
    import optuna

    out: dict[str, int] = {}
    for t in trials:
        if t.state == optuna.trial.TrialState.COMPLETE and POINT_ATTR in t.user_attrs:
            out.setdefault(key_digest(str(t.user_attrs[KEY_ATTR])), t.number)
    return out


@dataclass
class Claims:
    search: Any  # the search study
    study: Any  # `<name>:claims`

    @classmethod
    def open(cls, storage: Any, search: Any) -> Claims:
        import optuna

        study = optuna.create_study(
            study_name=search.study_name + CLAIMS_SUFFIX, storage=storage, load_if_exists=True
        )
        return cls(search, study)

    def tally(self) -> Tally:
        import optuna

        trials = self.search.get_trials(deepcopy=False)
        running = {
            key_digest(str(t.user_attrs[KEY_ATTR])): t.number
            for t in trials
            if t.state == optuna.trial.TrialState.RUNNING
            and str(t.user_attrs.get(DECISION_ATTR, "")).startswith("won:")
        }
        return Tally(_measured(trials), running)

    def file(self, trial: Any, key: str) -> int:
        """File a claim for `trial` on configuration `key`; its number orders it among all claims."""
        import optuna

        nonce = uuid.uuid4().hex
        attrs = {"key": key_digest(key), "trial": trial.number, "nonce": nonce}
        self.study.add_trial(
            optuna.trial.create_trial(state=optuna.trial.TrialState.COMPLETE, value=0.0, user_attrs=attrs)
        )
        for claim in reversed(self.study.get_trials(deepcopy=False)):
            if claim.user_attrs.get("nonce") == nonce:
                return int(claim.number)
        raise RuntimeError("a claim just filed is not in the storage")

    def decide(self, trial: Any, key: str, number: int, budget: int) -> Verdict:
        """Decide claim `number` from the claims filed before it (read after it was filed), and write it down."""
        import optuna

        earlier = [c for c in self.study.get_trials(deepcopy=False) if c.number < number]
        trials = {t.number: t for t in self.search.get_trials(deepcopy=False)}
        digest = key_digest(key)
        measured = _measured(list(trials.values()))
        if digest in measured:
            verdict = Verdict("reuse", number, measured[digest])
        else:
            live: dict[str, int] = {}
            for claim in earlier:
                owner = trials.get(int(claim.user_attrs["trial"]))
                if owner is None or owner.state != optuna.trial.TrialState.RUNNING:
                    continue  # finished (its configuration is measured, or it never ran) or died
                if owner.user_attrs.get(DECISION_ATTR) == f"lost:{claim.number}":
                    continue
                live.setdefault(str(claim.user_attrs["key"]), owner.number)
            if digest in live:
                verdict = Verdict("taken", number, live[digest])
            elif len(measured.keys() | live.keys()) >= budget:
                verdict = Verdict("done" if len(measured) >= budget else "full", number)
            else:
                verdict = Verdict("won", number)
        trial.set_user_attr(DECISION_ATTR, f"{'won' if verdict.outcome == 'won' else 'lost'}:{number}")
        return verdict

    def claim(self, trial: Any, key: str, budget: int) -> Verdict:
        return self.decide(trial, key, self.file(trial, key), budget)
