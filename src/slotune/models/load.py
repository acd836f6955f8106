"""The load of a run: when each workload request is sent, and how much of it is measured.

(workload, load, seed) fully determine the schedule (`slotune.load.build_schedule`), on the simulator and
against a real server alike. Three kinds:

- `replay`: the workload's own arrival times from its first request, multiplied by `time_scale`.
- `rate` (open loop): sends at mean rate `rate_rps`, whatever the server does. Gaps are `poisson`
  (exponential), `gamma` with coefficient of variation `cv`, `constant` (request i at i / rate), or `trace`
  (the workload's own gaps scaled to mean rate `rate_rps`, keeping its burstiness).
- `concurrency` (closed loop): `concurrency` users; each sends its next request when its previous one
  finished, after a fixed think time of exactly `think_time_s` (not drawn).

Requests are drawn in arrival order (file order among equal times); an open or closed loop that needs more
requests than the workload has goes through it again (another pass, `cycle` 1, 2, ...).

The measured amount: `num_requests` measured requests, or every send in a window of `duration_s` seconds,
both after a warm-up of `warmup_s` seconds whose requests are sent but not measured; with neither, each
workload request once (replay: the whole trace).

Validation lives here and names the command-line flag of each field, so a bad value exits with code 2.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import model_validator

from slotune.errors import InputError
from slotune.models.base import Frozen

LoadKind = Literal["replay", "rate", "concurrency"]
ArrivalKind = Literal["poisson", "gamma", "constant", "trace"]
LOAD_KINDS: tuple[str, ...] = ("replay", "rate", "concurrency")
ARRIVALS: tuple[str, ...] = ("poisson", "gamma", "constant", "trace")


def _positive(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0


class LoadSpec(Frozen):
    """When requests are sent (`kind` and its fields) and how much is measured; see the module docstring.
    `think_time_s` is fixed, not drawn: a closed-loop user waits exactly that long after each response."""

    kind: LoadKind = "replay"
    rate_rps: float | None = None
    arrival: ArrivalKind = "poisson"
    cv: float | None = None
    concurrency: int | None = None
    think_time_s: float = 0.0
    time_scale: float = 1.0
    num_requests: int | None = None
    duration_s: float | None = None
    warmup_s: float = 0.0

    @model_validator(mode="before")
    @classmethod
    def _check_names(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if data.get("kind", "replay") not in LOAD_KINDS:
                raise InputError("kind", data["kind"], f"use one of {', '.join(LOAD_KINDS)}")
            if data.get("arrival", "poisson") not in ARRIVALS:
                raise InputError("--arrival", data["arrival"], f"use one of {', '.join(ARRIVALS)}")
        return data

    @model_validator(mode="after")
    def _check_values(self) -> LoadSpec:
        self._check_kind_fields()
        self._check_amount()
        return self

    def _check_kind_fields(self) -> None:
        if self.kind == "rate":
            if not _positive(self.rate_rps):
                raise InputError(
                    "--rate", self.rate_rps, "give a positive request rate in req/s, e.g. --rate 4"
                )
        elif self.rate_rps is not None:
            raise InputError("--rate", self.rate_rps, f"a {self.kind} load has no rate; drop --rate")
        if self.arrival == "gamma":
            if not _positive(self.cv):
                raise InputError(
                    "--cv", self.cv, "gamma arrivals need a positive --cv (1 = Poisson, > 1 burstier)"
                )
        elif self.cv is not None:
            raise InputError("--cv", self.cv, "--cv shapes --arrival gamma only; add --arrival gamma")
        if self.kind != "rate" and self.arrival != "poisson":
            raise InputError("--arrival", self.arrival, "--arrival shapes an open loop; add --rate R")
        if self.kind == "concurrency":
            if self.concurrency is None or self.concurrency < 1:
                raise InputError("--concurrency", self.concurrency, "give at least 1 concurrent user")
        elif self.concurrency is not None:
            raise InputError("--concurrency", self.concurrency, "give --rate or --concurrency, not both")
        if not (math.isfinite(self.think_time_s) and self.think_time_s >= 0):
            raise InputError("--think-time", self.think_time_s, "give a think time of 0 seconds or more")
        if self.think_time_s > 0 and self.kind != "concurrency":
            raise InputError(
                "--think-time", self.think_time_s, "think time belongs to a closed loop; add --concurrency N"
            )
        if not _positive(self.time_scale):
            raise InputError(
                "--time-scale", self.time_scale, "give a positive factor (0.5 replays twice as fast)"
            )
        if self.time_scale != 1.0 and self.kind != "replay":
            raise InputError(
                "--time-scale", self.time_scale, "--time-scale applies to replay; drop --rate/--concurrency"
            )

    def _check_amount(self) -> None:
        if self.num_requests is not None and self.duration_s is not None:
            raise InputError("--duration", self.duration_s, "give --num-requests or --duration, not both")
        if self.num_requests is not None and self.num_requests < 1:
            raise InputError("--num-requests", self.num_requests, "give at least 1 request")
        if self.duration_s is not None and not _positive(self.duration_s):
            raise InputError("--duration", self.duration_s, "give a positive duration in seconds")
        if not (math.isfinite(self.warmup_s) and self.warmup_s >= 0):
            raise InputError("--warmup-s", self.warmup_s, "give a warm-up of 0 seconds or more")

    @property
    def is_closed_loop(self) -> bool:
        return self.kind == "concurrency"

    def at_rate(self, rate_rps: float) -> LoadSpec:
        """The same load as an open loop at `rate_rps` (a sweep level); arrival and cv kept if it was one."""
        keep = self.kind == "rate"
        return LoadSpec(
            kind="rate",
            rate_rps=rate_rps,
            arrival=self.arrival if keep else "poisson",
            cv=self.cv if keep else None,
            num_requests=self.num_requests,
            duration_s=self.duration_s,
            warmup_s=self.warmup_s,
        )

    def with_users(self, users: int) -> LoadSpec:
        """The same amount as a closed loop of `users` (think time kept if it was one)."""
        return LoadSpec(
            kind="concurrency",
            concurrency=users,
            think_time_s=self.think_time_s,
            num_requests=self.num_requests,
            duration_s=self.duration_s,
            warmup_s=self.warmup_s,
        )

    def describe(self) -> str:
        if self.kind == "rate":
            extra = f", cv {self.cv:g}" if self.arrival == "gamma" and self.cv is not None else ""
            return f"{self.rate_rps:g} req/s ({self.arrival}{extra})"
        if self.kind == "concurrency":
            think = f", think {self.think_time_s:g} s" if self.think_time_s else ""
            return f"{self.concurrency} concurrent users (closed loop{think})"
        return f"trace replay (time scale {self.time_scale:g})"
