"""Rules `slotune watch` runs on each window of a live server, and the seam for more.

A rule is anything with a `name` and `check(window, slo) -> LiveFinding | None`; `watch()` takes the list to run
(`BUILTIN_RULES` by default), so the anti-pattern rules of `slotune audit` join by being passed in. Each finding
names the flag to change, from the same advice table the generated Prometheus alerts annotate with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from slotune.deploy.monitoring.advice import Condition, advice_for
from slotune.deploy.monitoring.rules import KV_SATURATED
from slotune.deploy.monitoring.terms import BURN_WINDOWS
from slotune.models.slo import SLO
from slotune.models.watch import LiveFinding, WindowStatus

# The fast-burn page's factor: a window burning its budget this many times faster than it lasts.
FAST_BURN = BURN_WINDOWS[0].factor


class LiveRule(Protocol):
    @property
    def name(self) -> str: ...

    def check(self, window: WindowStatus, slo: SLO | None) -> LiveFinding | None: ...


def finding(rule: str, condition: Condition, window: WindowStatus, message: str) -> LiveFinding:
    advice = advice_for(condition)
    return LiveFinding(
        rule=rule, window=window.window, message=message, flag=advice.flag, action=advice.action
    )


@dataclass(frozen=True, slots=True)
class Preemptions:
    name: str = "preemptions"

    def check(self, window: WindowStatus, slo: SLO | None) -> LiveFinding | None:
        count = window.engine.preemptions
        if not count:
            return None
        return finding(self.name, "preemptions", window, f"{count:g} requests preempted in {window.window}")


@dataclass(frozen=True, slots=True)
class KvSaturated:
    name: str = "kv_saturated"

    def check(self, window: WindowStatus, slo: SLO | None) -> LiveFinding | None:
        e = window.engine
        if e.kv_usage is None or e.kv_usage <= KV_SATURATED or not e.waiting:
            return None
        return finding(
            self.name, "kv_saturated", window, f"KV cache {e.kv_usage:.0%} full with {e.waiting:g} waiting"
        )


@dataclass(frozen=True, slots=True)
class AdmissionRejections:
    name: str = "admission_rejections"

    def check(self, window: WindowStatus, slo: SLO | None) -> LiveFinding | None:
        count = window.engine.admission_rejections
        if not count:
            return None
        return finding(
            self.name, "admission_rejections", window, f"{count:g} requests rejected in {window.window}"
        )


@dataclass(frozen=True, slots=True)
class FastBurn:
    """A term whose window burns its error budget faster than the fast-burn page allows."""

    name: str = "fast_burn"

    def check(self, window: WindowStatus, slo: SLO | None) -> LiveFinding | None:
        for term in window.terms:
            if term.burn_rate is not None and term.burn_rate > FAST_BURN:
                metric = term.term.split(":", 1)[0]
                return finding(
                    self.name,
                    metric,  # type: ignore[arg-type]
                    window,
                    f"{term.term} burns its budget {term.burn_rate:.1f}x too fast in {window.window}",
                )
        return None


BUILTIN_RULES: tuple[LiveRule, ...] = (FastBurn(), Preemptions(), KvSaturated(), AdmissionRejections())


def run_rules(rules: tuple[LiveRule, ...], window: WindowStatus, slo: SLO | None) -> list[LiveFinding]:
    return [f for rule in rules if (f := rule.check(window, slo)) is not None]
