"""Flying blind (seed, section 4, layer 3): a configuration deployed without a benchmark of its own workload and
without a service-level objective to hold it to. Its evidence is what is missing."""

from __future__ import annotations

from slotune.audit.evidence import Evidence
from slotune.audit.registry import Hit, Rule
from slotune.models.audit import Fix


def check_flying_blind(ev: Evidence) -> list[Hit]:
    if ev.bench or ev.slo is not None:
        return []
    workload = ev.requests.path if ev.requests is not None else "your-requests.jsonl"
    return [
        Hit(
            severity="medium",
            confidence="high",
            message=(
                "no benchmark result and no SLO were given: nothing says this configuration meets a latency target "
                "on this traffic, so every other finding is a guess about what matters"
            ),
            evidence=(),
            observed={"bench given": False, "slo given": False},
            fixes=(
                Fix(
                    kind="action",
                    target="--slo",
                    value="interactive-chat",
                    text="state the SLO (slotune slo presets lists some) and pass it with --slo",
                ),
                Fix(
                    kind="bench",
                    target="slotune bench",
                    value=f"--workload {workload} --slo <your SLO> --out bench/",
                    text=f"measure: slotune bench --workload {workload} --slo <your SLO> --out bench/, then audit with --bench bench/",
                ),
            ),
        )
    ]


RULES = (
    Rule(
        "flying-blind",
        "no benchmark and no SLO",
        "operations",
        "neither a benchmark result (--bench) nor an SLO (--slo) was given",
        (),
        check_flying_blind,
    ),
)
