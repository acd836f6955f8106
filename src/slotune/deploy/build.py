"""From a saved result (or an engine YAML) to one Deployment: resolve the flags once for the model and GPU,
size the replica from the capacity plan, pick the monitoring's bucket edges. Every target renders this."""

from __future__ import annotations

import re
from dataclasses import dataclass

from slotune.catalog import get_gpu, get_model
from slotune.deploy.flags import buckets_flag, explicit_args, flag_values, resolved_dtype
from slotune.deploy.monitoring.buckets import advise, custom_buckets
from slotune.deploy.resources import autoscaling, replica_resources, startup_budget
from slotune.errors import InputError
from slotune.models import GpuSpec, ModelSpec, ResolvedEngineConfig
from slotune.models.deploy import Deployment, DeploySource
from slotune.models.slo import SLO
from slotune.plan import plan_capacity
from slotune.slo import format_slo
from slotune.vllm_metrics import CATALOGUED_VERSIONS, catalogued_version
from slotune.vllm_rules import resolve_engine_config

IMAGE = "vllm/vllm-openai"
_HF_URL = re.compile(r"huggingface\.co/([^/\s]+/[^/\s]+)")
NAME_MAX = 40  # leaves room for suffixes ("-model-cache") under Kubernetes' 63-character names


@dataclass(frozen=True, slots=True)
class DeployOptions:
    """What the command line adds to or overrides in the source."""

    model: str | None = None  # what vLLM serves: a Hugging Face id or a path
    model_config: str | None = None  # the architecture, when --model is not in the catalog
    gpu: str | None = None
    served_model_name: str | None = None
    name: str | None = None
    replicas: int | None = None  # None: the source's, else 1
    max_replicas: int | None = None
    vllm_version: str | None = None
    image: str | None = None
    slo: SLO | None = None
    hf_token_secret: str | None = None
    api_key_secret: str | None = None


def dns_label(text: str) -> str:
    """A Kubernetes object name from a model name: `meta-llama/Llama-3.1-8B` -> `llama-3-1-8b`."""
    base = text.rstrip("/").rsplit("/", 1)[-1].lower()
    slug = re.sub(r"[^a-z0-9]+", "-", base).strip("-")[:NAME_MAX].strip("-")
    return slug or "vllm"


def _hf_repo(spec: ModelSpec) -> str | None:
    """The Hugging Face repository of a catalog model (from its source URL, else its first `org/name` alias)."""
    match = _HF_URL.search(spec.source)
    if match:
        return match.group(1)
    return next((a for a in spec.aliases if "/" in a and not a.startswith((".", "/"))), None)


def _architecture(source: DeploySource, options: DeployOptions, serve: str) -> ModelSpec:
    for candidate in (options.model_config, serve, source.model):
        if not candidate:
            continue
        try:
            return get_model(candidate)
        except InputError:
            if candidate == options.model_config:
                raise
    raise InputError(
        "model",
        serve,
        "name its architecture with --model-config (a catalog id or a config.json path)",
        problem="not in slotune's model catalog",
    )


def _serve_id(source: DeploySource, options: DeployOptions) -> str:
    serve = options.model or source.engine_config.model or source.model
    if not serve:
        raise InputError(
            "model", "", "give the model vLLM serves with --model (a Hugging Face id or a local path)"
        )
    return serve


def _public_id(serve: str, spec: ModelSpec) -> str:
    """A catalog id (`llama-3.1-8b`) is not something vLLM can download: serve its Hugging Face repository."""
    if "/" in serve or serve.startswith((".", "~")):
        return serve
    return _hf_repo(spec) or serve


def _gpu(source: DeploySource, options: DeployOptions) -> GpuSpec:
    name = options.gpu or source.gpu
    if not name:
        raise InputError("gpu", "", "give the GPU type the replicas run on with --gpu (e.g. h100)")
    return get_gpu(name)


def _version(source: DeploySource, options: DeployOptions) -> str:
    wanted = options.vllm_version or source.vllm_version or CATALOGUED_VERSIONS[-1]
    try:
        return catalogued_version(wanted)
    except InputError as exc:
        raise InputError(
            "vllm_version",
            wanted,
            f"give one of {', '.join(CATALOGUED_VERSIONS)} with --vllm-version",
            problem="no metric catalogue and no flag rules for this vLLM version",
        ) from exc


def _notes(engine: ResolvedEngineConfig, slo: SLO | None, advice_notes: list[str]) -> tuple[str, ...]:
    notes = list(advice_notes)
    if slo is None:
        notes.append("no SLO: the monitoring has no burn-rate alerts (give one with --slo)")
    elif any(t.is_latency for t in slo.targets):
        notes.append(
            f"the SLO {format_slo(slo)} is watched term by term: Prometheus sees each latency's histogram, not "
            f"which requests met every term at once ({slo.attainment_target:.0%} of requests), which "
            "`slotune bench` measures"
        )
    spec = engine.speculative_config
    if spec is not None and spec.method in ("eagle", "eagle3", "draft_model"):
        notes.append(
            f'speculative decoding ({spec.method}) needs its draft model: add "model": "<draft repo>" to '
            "--speculative-config before starting"
        )
    return tuple(notes)


def build_deployment(source: DeploySource, options: DeployOptions) -> Deployment:
    serve = _serve_id(source, options)
    spec = _architecture(source, options, serve)
    serve = _public_id(serve, spec)
    gpu = _gpu(source, options)
    engine = resolve_engine_config(spec, gpu, source.engine_config)
    version = _version(source, options)
    slo = options.slo if options.slo is not None else source.slo
    custom = custom_buckets(slo, version)
    advice = advise(slo, version, custom)
    values = {**flag_values(engine, resolved_dtype(engine, spec, gpu)), **buckets_flag(custom)}
    plan = plan_capacity(spec, gpu, engine)
    if not plan.fits:
        raise InputError(
            "engine_config",
            source.origin,
            "choose a GPU with more memory (--gpu) or deploy a configuration `slotune plan` says fits",
            problem="does not fit: " + "; ".join(plan.verdict.reasons),
        )
    resources = replica_resources(spec, engine, plan)
    replicas = options.replicas or source.replicas or 1
    served = options.served_model_name or serve
    name = options.name or dns_label(served)
    return Deployment(
        name=name,
        model=serve,
        served_model_name=served,
        gpu=gpu.name,
        vllm_version=version,
        image=options.image or f"{IMAGE}:v{version}",
        engine=engine,
        engine_flags=values,
        vllm_args=tuple(explicit_args(values)),
        custom_histogram_buckets=custom,
        replicas=replicas,
        resources=resources,
        startup=startup_budget(engine, resources, source.startup),
        autoscaling=autoscaling(replicas, options.max_replicas),
        slo=slo,
        bucket_advice=advice,
        hf_token_secret=options.hf_token_secret or f"{name}-hf-token",
        api_key_secret=options.api_key_secret or f"{name}-api-key",
        origin=source.origin,
        notes=_notes(engine, slo, [a.note for a in advice if not a.is_edge]),
    )
