"""Deployments built the way `slotune deploy` builds them, from a source that names a catalog model and GPU."""

from __future__ import annotations

from typing import Any

from slotune.deploy.build import DeployOptions, build_deployment
from slotune.models import EngineConfig
from slotune.models.deploy import Deployment, DeploySource
from slotune.slo import resolve_slo

SLO_TEXT = "ttft:p99<200ms;itl:p99<50ms;e2e:mean<8s@0.99"


def make_deployment(
    slo: str | None = SLO_TEXT,
    engine: EngineConfig | None = None,
    model: str = "llama-3.1-8b",
    gpu: str = "h100",
    **options: Any,
) -> Deployment:
    source = DeploySource(
        engine_config=engine or EngineConfig(max_num_seqs=128, max_model_len=32768),
        model=model,
        gpu=gpu,
        origin="simulate result run.json",
    )
    return build_deployment(source, DeployOptions(slo=resolve_slo(slo) if slo else None, **options))
