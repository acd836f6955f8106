"""Named SLOs. Each says where its numbers come from."""

from __future__ import annotations

from dataclasses import dataclass

from slotune.errors import InputError
from slotune.models.slo import SLO
from slotune.slo.parse import parse_slo


@dataclass(frozen=True, slots=True)
class SLOPreset:
    name: str
    expression: str
    objective: str
    why: str


PRESETS: dict[str, SLOPreset] = {
    p.name: p
    for p in (
        SLOPreset(
            "interactive-chat",
            "ttft:p99<200ms;itl:p99<50ms@0.99",
            "cost",
            "The framework's chatbot example: TTFT under 200 ms; a 50 ms chunk gap (20 tokens/s) streams faster "
            "than people read. Cheapest configuration that holds both at p99.",
        ),
        SLOPreset(
            "summarization",
            "ttft:p99<5s;e2e:p90<20s@0.95",
            "throughput",
            "The framework's offline summarization example: a few seconds of latency is acceptable, "
            "throughput matters most.",
        ),
        SLOPreset(
            "offline-batch",
            "e2e:p99<3600s@0.99",
            "throughput",
            "Offline batch: throughput first; the only latency bound is that a job finishes within the hour.",
        ),
    )
}


def get_preset(name: str) -> SLO:
    key = name.strip().lower().replace("_", "-")
    preset = PRESETS.get(key)
    if preset is None:
        raise InputError(
            "slo preset", name, f"use one of {', '.join(PRESETS)} or an expression like 'ttft:p99<200ms'"
        )
    slo = parse_slo(preset.expression, name=preset.name)
    return slo.model_copy(update={"objective": preset.objective})


def resolve_slo(text_or_preset: str) -> SLO:
    """`--slo` accepts a preset name or an expression."""
    key = text_or_preset.strip().lower().replace("_", "-")
    if key in PRESETS:
        return get_preset(key)
    if ":" not in key and "<" not in key and ">" not in key:
        raise InputError(
            "slo",
            text_or_preset,
            f"use a preset ({', '.join(PRESETS)}) or an expression like 'ttft:p99<200ms'",
        )
    return parse_slo(text_or_preset)
