"""Claims decide which trial measures a configuration, the same way in every worker, whatever the order in which
the workers get to decide: the interleavings two processes can produce are played here step by step."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from slotune.tune.claims import Claims
from slotune.tune.study import KEY_ATTR, POINT_ATTR


@pytest.fixture
def claims() -> Claims:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.InMemoryStorage()
    search = optuna.create_study(study_name="s", storage=storage, directions=["minimize", "minimize"])
    return Claims.open(storage, search)


def _trial(claims: Claims, key: str) -> Any:
    trial = claims.search.ask()
    trial.set_user_attr(KEY_ATTR, key)
    return trial


def _finish(
    claims: Claims, trial: Any, state: optuna.trial.TrialState = optuna.trial.TrialState.COMPLETE
) -> None:
    if state == optuna.trial.TrialState.COMPLETE:
        trial.set_user_attr(POINT_ATTR, {"measured": True})
        claims.search.tell(trial, [1.0, 1.0])
    else:
        claims.search.tell(trial, state=state)


def test_two_trials_that_file_for_the_last_place_at_once_never_both_give_up(claims: Claims) -> None:
    # 7 of 8 measured, two workers file at once; whichever decides first, exactly one of them measures.
    for i in range(7):
        done = _trial(claims, f"k{i}")
        claims.claim(done, f"k{i}", 8)
        _finish(claims, done)
    first, second = _trial(claims, "a"), _trial(claims, "b")
    first_claim, second_claim = claims.file(first, "a"), claims.file(second, "b")
    later = claims.decide(second, "b", second_claim, 8)  # it sees the earlier claim, undecided: it may win
    earlier = claims.decide(first, "a", first_claim, 8)
    assert (earlier.outcome, later.outcome) == ("won", "full")
    assert claims.tally().num_held == 8
    _finish(claims, first)
    # The loser retries: the budget is now measured, so it stops.
    assert claims.claim(second, "b", 8).outcome == "done"


def test_one_configuration_sampled_by_two_workers_is_measured_once_then_reused(claims: Claims) -> None:
    first, second = _trial(claims, "k"), _trial(claims, "k")
    first_claim, second_claim = claims.file(first, "k"), claims.file(second, "k")
    assert claims.decide(first, "k", first_claim, 8).outcome == "won"
    taken = claims.decide(second, "k", second_claim, 8)
    assert (taken.outcome, taken.trial) == ("taken", first.number)
    _finish(claims, first)
    reuse = claims.claim(second, "k", 8)
    assert (reuse.outcome, reuse.trial) == ("reuse", first.number)


def test_a_loss_written_down_frees_the_place_for_later_claims(claims: Claims) -> None:
    first, second, third = _trial(claims, "a"), _trial(claims, "a"), _trial(claims, "b")
    claims.claim(first, "a", 2)
    assert claims.claim(second, "a", 2).outcome == "taken"  # decided lost: it holds nothing
    assert claims.claim(third, "b", 2).outcome == "won"


def test_a_trial_that_died_frees_its_configuration_and_its_place(claims: Claims) -> None:
    first = _trial(claims, "k")
    assert claims.claim(first, "k", 1).outcome == "won"
    second = _trial(claims, "k")
    assert claims.claim(second, "k", 1).outcome == "taken"
    _finish(claims, first, optuna.trial.TrialState.FAIL)  # its worker was killed
    assert claims.claim(second, "k", 1).outcome == "won"
    assert claims.tally().running == {next(iter(claims.tally().running)): second.number}


def test_the_budget_counts_distinct_configurations_measured(claims: Claims) -> None:
    for key in ("a", "b"):
        trial = _trial(claims, key)
        claims.claim(trial, key, 2)
        _finish(claims, trial)
    again = _trial(claims, "a")
    assert claims.claim(again, "a", 2).outcome == "reuse"
    _finish(claims, again)
    assert len(claims.tally().measured) == 2
    assert claims.claim(_trial(claims, "c"), "c", 3).outcome == "won"
