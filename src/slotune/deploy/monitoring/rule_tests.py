"""promtool unit tests for the generated rules (`promtool test rules`): for every alert, synthetic series on
which it fires, series just under its threshold on which it stays silent, and for burn-rate alerts a recovery
on which the short window silences it; and one idle pool on which every alert stays silent.

The series are vLLM's as the catalogue names them, so the tests also prove that the rules select what a vLLM
server of the target version exposes (labels `model_name` and `engine`, plus the scrape's `instance`/`job`).
"""

from __future__ import annotations

import math
from typing import Any

from slotune.deploy.monitoring.rules import ERROR_RATIO, AlertRule, RuleSet
from slotune.deploy.monitoring.series import (
    ADMISSION_REJECTIONS,
    counter,
    gauge,
    has_family,
    selector,
)
from slotune.deploy.monitoring.terms import Term
from slotune.vllm_metrics import names as vllm_names

EVENTS_PER_STEP = 1000  # requests (or ITL gaps) counted per sample step
SCRAPE = {"engine": "0", "instance": "replica-0:8000", "job": "vllm"}
_DURATION_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(duration: str) -> int:
    return int(duration[:-1]) * _DURATION_S[duration[-1]]


def _duration(total_s: int) -> str:
    for unit in ("d", "h", "m"):
        if total_s % _DURATION_S[unit] == 0:
            return f"{total_s // _DURATION_S[unit]}{unit}"
    return f"{total_s}s"


def _ramp(per_step: float, steps: int, start: float = 0.0) -> str:
    """promtool's expanding notation: `start+per_step x steps` (a counter that grows by per_step each step)."""
    return f"{start:g}+{per_step:g}x{steps}"


class _Series:
    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.version = rules.deployment.vllm_version
        self.labels = {**rules.match, **SCRAPE}

    def name(self, series: str, **extra: str) -> str:
        return series + selector(self.labels, **extra)

    def latency(
        self, term: Term, error_ratio: float, steps: int, recover_steps: int = 0
    ) -> list[dict[str, str]]:
        """A histogram whose share of events over the term's edge is `error_ratio`, then 0 (recovery)."""
        good = EVENTS_PER_STEP * (1 - error_ratio)
        total_bad = EVENTS_PER_STEP * steps
        count = _ramp(EVENTS_PER_STEP, steps)
        bucket = _ramp(good, steps)
        if recover_steps:
            count += " " + _ramp(EVENTS_PER_STEP, recover_steps, total_bad + EVENTS_PER_STEP)
            bucket += " " + _ramp(EVENTS_PER_STEP, recover_steps, good * steps + EVENTS_PER_STEP)
        return [
            {"series": self.name(term.count), "values": count},
            {"series": self.name(term.bucket, le=term.le), "values": bucket},
            {"series": self.name(term.bucket, le="+Inf"), "values": count},
        ]

    def mean(self, term: Term, mean_s: float, steps: int) -> list[dict[str, str]]:
        return [
            {"series": self.name(term.count), "values": _ramp(EVENTS_PER_STEP, steps)},
            {"series": self.name(term.sum), "values": _ramp(EVENTS_PER_STEP * mean_s, steps)},
        ]

    def engine(
        self, steps: int, *, running: float = 0, waiting: float = 0, kv: float = 0.0
    ) -> list[dict[str, str]]:
        """The gauges every server exposes, constant, and its counters flat (an idle or steady server)."""
        flat = f"7+0x{steps}"
        out = [
            {
                "series": self.name(gauge(vllm_names.NUM_REQUESTS_RUNNING, self.version)),
                "values": f"{running:g}+0x{steps}",
            },
            {
                "series": self.name(gauge(vllm_names.NUM_REQUESTS_WAITING, self.version)),
                "values": f"{waiting:g}+0x{steps}",
            },
            {
                "series": self.name(gauge(vllm_names.KV_CACHE_USAGE, self.version)),
                "values": f"{kv:g}+0x{steps}",
            },
            {"series": self.name(counter(vllm_names.NUM_PREEMPTIONS, self.version)), "values": flat},
        ]
        if has_family(ADMISSION_REJECTIONS, self.version):
            rejections = counter(ADMISSION_REJECTIONS, self.version)
            for reason in ("max_num_queued_reqs", "max_num_queued_tokens"):
                out.append({"series": self._rejections(rejections, reason), "values": flat})
        return out

    def _rejections(self, rejections: str, reason: str) -> str:
        # vLLM counts rejections in the API server: the series has no `engine` label.
        labels = {k: v for k, v in self.labels.items() if k != "engine"}
        return rejections + selector(labels, reason=reason)

    def idle_latency(self, term: Term, steps: int) -> list[dict[str, str]]:
        flat = f"500+0x{steps}"
        if term.advice is None:
            return [
                {"series": self.name(term.count), "values": flat},
                {"series": self.name(term.sum), "values": flat},
            ]
        return [
            {"series": self.name(term.count), "values": flat},
            {"series": self.name(term.bucket, le=term.le), "values": "400+0x" + str(steps)},
            {"series": self.name(term.bucket, le="+Inf"), "values": flat},
        ]


def _expected(alert: AlertRule, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "exp_labels": {**labels, "severity": alert.severity, **alert.labels},
        "exp_annotations": alert.annotations(),
    }


class _Cases:
    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.s = _Series(rules)
        self.model = rules.deployment.served_model_name
        self.term_labels = {"model_name": self.model, "deployment": rules.deployment.name}

    def _test(
        self,
        interval_s: int,
        series: list[dict[str, str]],
        alert: AlertRule,
        at_s: int,
        firing: list[dict[str, Any]],
        name: str,
    ) -> dict[str, Any]:
        return {
            "name": f"{alert.name}: {name}",
            "interval": _duration(interval_s),
            "input_series": series,
            "alert_rule_test": [
                {"eval_time": _duration(at_s), "alertname": alert.name, "exp_alerts": firing}
            ],
        }

    def burn(self, alert: AlertRule) -> list[dict[str, Any]]:
        assert alert.term is not None and alert.window is not None and alert.threshold is not None
        term, window, threshold = alert.term, alert.window, alert.threshold
        interval = min(max(60, seconds(window.short) // 5), 300)
        hold = seconds(alert.for_) + 3 * interval
        steps = math.ceil(hold / interval) + 1
        fire_ratio = (1 + threshold) / 2
        labels = {**self.term_labels, "slo_term": term.key}
        firing = [_expected(alert, labels)]
        cases = [
            self._test(
                interval,
                [*self.s.latency(term, fire_ratio, steps), *self.s.engine(steps)],
                alert,
                hold,
                firing,
                f"{fire_ratio:.3g} of events over {term.expression}: fires",
            ),
            self._test(
                interval,
                [*self.s.latency(term, threshold / 2, steps), *self.s.engine(steps)],
                alert,
                hold,
                [],
                f"{threshold / 2:.3g} of events over {term.expression} (half the threshold): silent",
            ),
        ]
        # Recovery: a burn long enough to fire, then only good events for longer than the short window; the long
        # window still holds twice its threshold's worth of errors, so only the short window can silence it.
        good = math.ceil(seconds(window.short) / interval) + 2
        needed = 2 * good * threshold / (fire_ratio - threshold)
        bad = max(math.ceil(needed), steps)
        series = [*self.s.latency(term, fire_ratio, bad, recover_steps=good), *self.s.engine(bad + good)]
        case = self._test(
            interval,
            series,
            alert,
            (bad + good) * interval,
            [],
            f"recovered for {_duration(good * interval)}: the {window.short} window silences it",
        )
        case["alert_rule_test"].insert(
            0, {"eval_time": _duration(bad * interval), "alertname": alert.name, "exp_alerts": firing}
        )
        cases.append(case)
        return cases

    def mean(self, alert: AlertRule) -> list[dict[str, Any]]:
        assert alert.term is not None and alert.threshold is not None
        hold = seconds(alert.for_) + 600
        steps = hold // 60 + 1
        labels = {**self.term_labels, "slo_term": alert.term.key}
        engine = self.s.engine(steps)
        return [
            self._test(
                60,
                [*self.s.mean(alert.term, 2 * alert.threshold, steps), *engine],
                alert,
                hold,
                [_expected(alert, labels)],
                "mean twice the threshold: fires",
            ),
            self._test(
                60,
                [*self.s.mean(alert.term, alert.threshold / 2, steps), *engine],
                alert,
                hold,
                [],
                "mean half the threshold: silent",
            ),
        ]

    def preemptions(self, alert: AlertRule) -> list[dict[str, Any]]:
        hold = seconds(alert.for_) + 600
        steps = hold // 60 + 1
        preempt = counter(vllm_names.NUM_PREEMPTIONS, self.s.version)
        series = [s for s in self.s.engine(steps) if not s["series"].startswith(preempt)]
        series.append({"series": self.s.name(preempt), "values": _ramp(3, steps)})
        return [
            self._test(
                60,
                series,
                alert,
                hold,
                [_expected(alert, {"model_name": self.model})],
                "3 preemptions a minute: fires",
            )
        ]

    def kv_saturated(self, alert: AlertRule) -> list[dict[str, Any]]:
        assert alert.threshold is not None
        hold = seconds(alert.for_) + 600
        steps = hold // 60 + 1
        full = min(1.0, alert.threshold + 0.05)
        labels = {**self.s.labels}
        return [
            self._test(
                60,
                self.s.engine(steps, running=40, waiting=5, kv=full),
                alert,
                hold,
                [_expected(alert, labels)],
                f"KV {full:.0%} full, 5 waiting: fires",
            ),
            self._test(
                60,
                self.s.engine(steps, running=40, waiting=0, kv=full),
                alert,
                hold,
                [],
                f"KV {full:.0%} full, no queue: silent",
            ),
            self._test(
                60,
                self.s.engine(steps, running=40, waiting=5, kv=alert.threshold - 0.1),
                alert,
                hold,
                [],
                "a queue with KV room: silent",
            ),
        ]

    def admission_rejections(self, alert: AlertRule) -> list[dict[str, Any]]:
        hold = seconds(alert.for_) + 600
        steps = hold // 60 + 1
        rejections = counter(ADMISSION_REJECTIONS, self.s.version)
        series = [s for s in self.s.engine(steps) if not s["series"].startswith(rejections)]
        series.append(
            {"series": self.s._rejections(rejections, "max_num_queued_reqs"), "values": _ramp(2, steps)}
        )
        labels = {"model_name": self.model, "reason": "max_num_queued_reqs"}
        return [
            self._test(60, series, alert, hold, [_expected(alert, labels)], "2 rejections a minute: fires")
        ]

    def target_missing(self, alert: AlertRule) -> list[dict[str, Any]]:
        hold = seconds(alert.for_) + 600
        steps = hold // 60 + 1
        other = {"series": 'up{job="vllm",instance="replica-0:8000"}', "values": f"0+0x{steps}"}
        return [
            self._test(
                60,
                [other],
                alert,
                hold,
                [_expected(alert, {"model_name": self.model})],
                "no vLLM series at all: fires",
            ),
            self._test(
                60, [other, *self.s.engine(steps)], alert, hold, [], "an idle server is still there: silent"
            ),
        ]

    def idle(self) -> dict[str, Any]:
        """A pool with no traffic for longer than every window and `for`: no alert at all."""
        alerts = self.rules.alerts
        at = max(seconds(a.for_) for a in alerts) + 3600
        steps = at // 300 + 1
        series = list(self.s.engine(steps))
        for term in {a.term.key: a.term for a in alerts if a.term is not None}.values():
            series += self.s.idle_latency(term, steps)
        return {
            "name": "idle pool: every alert silent",
            "interval": "5m",
            "input_series": series,
            "alert_rule_test": [
                {"eval_time": _duration(t), "alertname": a.name, "exp_alerts": []}
                for a in alerts
                for t in (seconds(a.for_) + 600, at)
            ],
        }

    def ratio(self) -> list[dict[str, Any]]:
        """The error-ratio rule's value itself, on a known share of slow events."""
        out = []
        for term in {
            a.term.key: a.term for a in self.rules.alerts if a.term is not None and a.kind == "burn"
        }.values():
            steps = 20
            out.append(
                {
                    "name": f"{term.key}: 20% of events over {term.expression}",
                    "interval": "1m",
                    "input_series": self.s.latency(term, 0.2, steps),
                    "promql_expr_test": [
                        {
                            "expr": ERROR_RATIO
                            + "5m"
                            + selector({"deployment": self.rules.deployment.name, "slo_term": term.key}),
                            "eval_time": "10m",
                            "exp_samples": [
                                {
                                    "labels": ERROR_RATIO
                                    + "5m"
                                    + selector({**self.term_labels, "slo_term": term.key}),
                                    "value": 0.2,
                                }
                            ],
                        }
                    ],
                }
            )
        return out


def rule_tests(rules: RuleSet, rule_file: str) -> dict[str, Any]:
    """The promtool test file for `rule_file` (the path of the rules, relative to the test file)."""
    cases = _Cases(rules)
    tests: list[dict[str, Any]] = []
    for alert in rules.alerts:
        tests += getattr(cases, alert.kind)(alert)
    tests += cases.ratio()
    tests.append(cases.idle())
    return {"rule_files": [rule_file], "evaluation_interval": "1m", "tests": tests}
