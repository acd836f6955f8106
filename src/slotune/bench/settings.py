"""What a benchmark run is asked to do: its settings, and how progress is reported."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from slotune.bench.loops import loop_factory
from slotune.bench.validity import ValidityThresholds
from slotune.errors import InputError
from slotune.models import SLO, EngineConfig, LoadSpec, PriceUsed


class ProgressReporter(Protocol):
    def start(self, total: int | None, description: str) -> None: ...

    def update(self, completed: int, failed: int) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class BenchSettings:
    url: str
    model: str
    load: LoadSpec  # also the measured amount: num_requests, duration_s, warmup_s
    api: str = "completions"
    seed: int = 0
    slo: SLO | None = None
    out_dir: Path | None = None
    api_key: str | None = None
    tokenizer: str | None = None
    timeout_s: float | None = 600.0
    scrape_interval_s: float = 1.0
    exact_output: bool | None = None  # None: on for vLLM servers (ignore_eos, min_tokens), off elsewhere
    prompt_as_token_ids: bool = False
    clip_prompts: bool = (
        False  # shorten requests that do not fit the server's max_model_len (else refuse the run)
    )
    check_tokens: bool = True
    thresholds: ValidityThresholds = field(default_factory=ValidityThresholds)
    extra_body: tuple[tuple[str, Any], ...] = ()
    engine_config: EngineConfig | None = None
    command_line: tuple[str, ...] = ()
    workers: int = 1  # load-generator processes (each its own event loop)
    event_loop: str = "auto"  # "auto" (uvloop where installed), "asyncio" or "uvloop"
    # What the server runs on, for the run's cost: the GPU (catalog id), every GPU it holds, and their price, or
    # why there is none. Neither price nor reason: the run is not priced (as a Backend's run is not).
    gpu: str | None = None
    num_gpus: int = 1
    price: PriceUsed | None = None
    price_missing: str | None = None

    def check(self) -> None:
        if self.seed < 0:
            raise InputError("seed", self.seed, "give a seed of 0 or more")
        loop_factory(self.event_loop)  # checks the name (and that uvloop is there when asked for)
        if not 1 <= self.workers <= 256:
            raise InputError("workers", self.workers, "give between 1 and 256 load-generator processes")
        if self.api not in ("completions", "chat"):
            raise InputError("api", self.api, "use completions or chat")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise InputError("timeout", self.timeout_s, "give a positive per-request timeout in seconds")
        if self.num_gpus < 1:
            raise InputError(
                "num-gpus", self.num_gpus, "give the number of GPUs the server holds (1 or more)"
            )
        if self.price is None and self.slo is not None and any(t.metric == "cost" for t in self.slo.targets):
            raise InputError(
                "gpu",
                self.gpu,
                "give --gpu ID (and --num-gpus N) of the server, and --price ID=USD_PER_HOUR where the catalog "
                "has no price",
                problem="the SLO has a cost target, and the run has no GPU price",
            )


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def api_key_from_env() -> str | None:
    return os.environ.get("SLOTUNE_API_KEY") or os.environ.get("OPENAI_API_KEY") or None
