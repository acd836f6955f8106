"""Values for vLLM's production-stack chart (vllm-project/production-stack, chart `vllm-stack`).

The chart renders a few engine flags from `vllmConfig` and passes the rest through `extraArgs`; prefix caching
and chunked prefill are set explicitly either way (the chart writes `--no-enable-prefix-caching` when
`enablePrefixCaching` is false or missing). The chart's own KEDA trigger selects `model="<name>"`, a label vLLM
does not set, and its values schema types `triggers` as an object, refusing a trigger list, so autoscaling is a
ScaledObject of our own beside the values, aimed at the chart's Deployment (`<release>-<name>-deployment-vllm`).
"""

from __future__ import annotations

from typing import Any

from slotune.deploy.flags import explicit_args
from slotune.deploy.targets.common import (
    HEALTH_PATH,
    RUN_AS,
    comment,
    dump_all,
    dump_yaml,
    gib,
    header_lines,
    startup_failures,
)
from slotune.deploy.targets.k8s import STARTUP_PERIOD_S, scaled_object
from slotune.models.deploy import Deployment

RELEASE = "vllm"
# Engine flags the chart renders from vllmConfig keys; every other flag goes to extraArgs.
CHART_KEYS = {
    "enable-prefix-caching": "enablePrefixCaching",
    "enable-chunked-prefill": "enableChunkedPrefill",
    "max-model-len": "maxModelLen",
    "dtype": "dtype",
    "tensor-parallel-size": "tensorParallelSize",
    "max-num-seqs": "maxNumSeqs",
    "gpu-memory-utilization": "gpuMemoryUtilization",
}


def _vllm_config(d: Deployment) -> dict[str, Any]:
    config: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for flag, value in d.engine_flags.items():
        if flag in CHART_KEYS:
            config[CHART_KEYS[flag]] = value
        else:
            extra[flag] = value
    args = explicit_args(extra)
    if d.served_model_name != d.model:
        args += ["--served-model-name", d.served_model_name]
    config["extraArgs"] = args
    return config


def _probe(period_s: int, failures: int, port: int) -> dict[str, Any]:
    return {
        "initialDelaySeconds": 0,
        "periodSeconds": period_s,
        "failureThreshold": failures,
        "httpGet": {"path": HEALTH_PATH, "port": port},
    }


def values(d: Deployment) -> dict[str, Any]:
    r = d.resources
    repository, _, tag = d.image.rpartition(":")
    model_spec = {
        "name": d.name,
        "repository": repository,
        "tag": tag,
        "modelURL": d.model,
        "replicaCount": d.replicas,
        "requestCPU": r.cpu_cores,
        "requestMemory": gib(r.memory_request_bytes),
        "limitMemory": gib(r.memory_limit_bytes),
        "requestGPU": r.num_gpus,
        "pvcStorage": gib(r.cache_bytes),
        "pvcAccessMode": ["ReadWriteMany"],
        "shmSize": gib(r.shm_bytes),
        "hf_token": {"secretName": d.hf_token_secret, "secretKey": "token"},
        "vllmConfig": _vllm_config(d),
    }
    return {
        "servingEngineSpec": {
            "containerPort": d.port,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": RUN_AS,
                "runAsGroup": RUN_AS,
                "fsGroup": RUN_AS,
            },
            "containerSecurityContext": {"runAsNonRoot": True},
            "vllmApiKey": {"secretName": d.api_key_secret, "secretKey": "token"},
            "startupProbe": _probe(STARTUP_PERIOD_S, startup_failures(d, STARTUP_PERIOD_S), d.port),
            "readinessProbe": _probe(5, 3, d.port),
            "livenessProbe": _probe(15, 4, d.port),
            "modelSpec": [model_spec],
        }
    }


def render_helm_values(d: Deployment, release: str = RELEASE) -> dict[str, str]:
    # The chart names its model_name label after modelURL unless --served-model-name is passed (extraArgs).
    target = f"{release}-{d.name}-deployment-vllm"
    lines = [*header_lines(d), f"helm install {release} vllm/vllm-stack -f helm-values.yaml"]
    scaler = [
        *header_lines(d),
        f"Autoscaling for the chart's Deployment {target} (kubectl apply -f after helm install).",
    ]
    return {
        "helm-values.yaml": comment(lines) + dump_yaml(values(d)),
        "helm-scaledobject.yaml": comment(scaler) + dump_all([scaled_object(d, target)]),
    }
