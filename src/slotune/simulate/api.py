"""The one call behind `slotune simulate`: resolve names and inputs, run the simulator, summarize."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from slotune.errors import InputError
from slotune.metrics import RunSummary
from slotune.models import SLO, EngineConfig, LoadSpec, RunResult, SpeculativeConfig, Workload
from slotune.models.base import Frozen
from slotune.simulate.simulator import Simulator
from slotune.simulate.trace import write_chrome_trace

log = logging.getLogger(__name__)

# vLLM --speculative-config keys the simulator has no use for (the draft model itself, proposer tuning).
_IGNORED_SPEC_KEYS = frozenset(
    {
        "model",
        "draft_tensor_parallel_size",
        "prompt_lookup_max",
        "prompt_lookup_min",
        "quantization",
        "revision",
    }
)


class SimulationReport(Frozen):
    result: RunResult
    summary: RunSummary
    engine: dict[str, float | int | None] = Field(default_factory=dict)
    trace_path: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """What `--json` prints: everything but per-request records and the timeline."""
        return {
            "provenance": self.result.provenance.model_dump(mode="json"),
            "engine_config": None
            if self.result.engine_config is None
            else self.result.engine_config.model_dump(mode="json"),
            "num_requests": self.result.num_requests,
            "duration_s": self.result.duration_s,
            "summary": self.summary.model_dump(mode="json"),
            "engine": self.engine,
            "trace_path": self.trace_path,
        }


def parse_speculative_config(text: str) -> SpeculativeConfig:
    """vLLM's --speculative-config JSON, plus slotune's acceptance_rates / draft_cost_ratio."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            "speculative_config", text, 'give JSON, e.g. \'{"method": "eagle", "num_speculative_tokens": 3}\''
        ) from exc
    if not isinstance(data, dict):
        raise InputError("speculative_config", text, "give a JSON object")
    ignored = sorted(k for k in data if k in _IGNORED_SPEC_KEYS)
    if ignored:
        log.warning("speculative_config: %s do not change the simulation and are ignored", ", ".join(ignored))
    data = {k: v for k, v in data.items() if k not in _IGNORED_SPEC_KEYS}
    if isinstance(data.get("acceptance_rates"), int | float):
        data["acceptance_rates"] = [data["acceptance_rates"]]
    try:
        return SpeculativeConfig.model_validate(data)
    except ValidationError as exc:
        raise InputError.from_validation(
            exc,
            field="speculative_config",
            fix="give valid values; keys: method, num_speculative_tokens, acceptance_rates, draft_cost_ratio",
        ) from exc


def load_engine_config_file(path: str | Path) -> dict[str, Any]:
    """A vLLM-style YAML config (`--config engine.yaml`): flag names with dashes or underscores."""
    p = Path(path)
    if not p.is_file():
        raise InputError("config", str(path), "give the path of an engine YAML file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError("config", str(path), f"the file is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(
            "config", str(path), "the file must map flag names to values, e.g. 'max-num-seqs: 256'"
        )
    out: dict[str, Any] = {}
    fields = EngineConfig.model_fields
    for key, value in data.items():
        name = str(key).strip().lstrip("-").replace("-", "_")
        if name not in fields:
            raise InputError(
                f"config {key}",
                value,
                f"use vLLM engine flag names such as {', '.join(sorted(fields)[:8])}, ...",
            )
        if name == "speculative_config" and isinstance(value, dict | str):
            value = parse_speculative_config(value if isinstance(value, str) else json.dumps(value))
        out[name] = value
    return out


def build_engine_config(file_values: dict[str, Any], flag_values: dict[str, Any]) -> EngineConfig:
    """File values, overridden by the flags given on the command line (None = not given)."""
    values = dict(file_values)
    values.update({k: v for k, v in flag_values.items() if v is not None})
    try:
        return EngineConfig.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "engine_config"
        raise InputError(loc, first.get("input"), first["msg"]) from exc


def simulate(
    model: str,
    gpu: str,
    workload: Workload,
    engine_config: EngineConfig,
    *,
    load: LoadSpec | None = None,
    slo: SLO | None = None,
    seed: int = 0,
    profile: str | Path | None = None,
    trace_path: str | Path | None = None,
    on_progress: Callable[[int, int | None], None] | None = None,
) -> SimulationReport:
    """Simulate `workload` under `load` (default: replayed at its own times) on `model` (catalog id, HF id or
    config.json path) served by vLLM on `gpu`. The result records the digest of the whole workload."""
    from slotune.catalog import get_gpu, get_model

    if not workload.digest:
        from slotune.workload.formats.canonical_jsonl import workload_digest

        workload = workload.model_copy(update={"digest": workload_digest(workload)})
    sim = Simulator(get_model(model), get_gpu(gpu), profile=profile, seed=seed)
    result = sim.run(workload, engine_config, load=load, slo=slo, on_progress=on_progress)
    assert sim.last_summary is not None and sim.last_engine_stats is not None
    if trace_path is not None:
        write_chrome_trace(result, trace_path)
    return SimulationReport(
        result=result,
        summary=sim.last_summary,
        engine={k: v for k, v in sim.last_engine_stats.as_dict().items() if k != "num_fast_steps"},
        trace_path=None if trace_path is None else str(trace_path),
    )
