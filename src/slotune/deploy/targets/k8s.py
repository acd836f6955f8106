"""Kubernetes: a Deployment and its Service, the model-cache claim, and a KEDA ScaledObject that scales on the
queue and on KV-cache usage (never on GPU utilization: a GPU is busy whether or not the SLO holds).

KEDA rather than a plain HorizontalPodAutoscaler: an HPA on Prometheus series needs a metrics adapter with
renaming rules (vLLM's names carry a colon, which custom-metric names may not), while KEDA queries Prometheus
directly with the same PromQL the monitoring uses.
"""

from __future__ import annotations

from typing import Any

from slotune.deploy.monitoring.rules import check_expressions
from slotune.deploy.monitoring.series import gauge, selector
from slotune.deploy.targets.common import (
    CACHE_DIR,
    CACHE_ENV,
    HEALTH_PATH,
    RUN_AS,
    comment,
    dump_all,
    gib,
    header_lines,
    labels,
    server_args,
    startup_failures,
)
from slotune.models.deploy import Deployment
from slotune.vllm_metrics import names as vllm_names

STARTUP_PERIOD_S = 10
PROMETHEUS_URL = "http://prometheus-operated.monitoring.svc:9090"
# Scale down slowly: a replica taken away takes minutes to come back (the start-up budget).
COOLDOWN_S = 600


def _secret_env(name: str, secret: str) -> dict[str, Any]:
    # optional: a public model needs no token, and a server without an API key serves without one.
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": "token", "optional": True}}}


def _probe(period_s: int, failures: int, timeout_s: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": HEALTH_PATH, "port": "http"},
        "periodSeconds": period_s,
        "failureThreshold": failures,
        "timeoutSeconds": timeout_s,
    }


def _container(d: Deployment) -> dict[str, Any]:
    r = d.resources
    gpu = {"nvidia.com/gpu": str(r.num_gpus)}
    return {
        "name": "vllm",
        "image": d.image,
        "command": ["vllm", "serve"],
        "args": [d.model, *server_args(d), *d.vllm_args],
        "ports": [{"name": "http", "containerPort": d.port, "protocol": "TCP"}],
        "env": [
            *({"name": k, "value": v} for k, v in CACHE_ENV.items()),
            _secret_env("HF_TOKEN", d.hf_token_secret),
            _secret_env("VLLM_API_KEY", d.api_key_secret),
        ],
        "resources": {
            "requests": {"cpu": str(r.cpu_cores), "memory": gib(r.memory_request_bytes), **gpu},
            "limits": {"memory": gib(r.memory_limit_bytes), **gpu},
        },
        # Liveness and readiness start only once the start-up probe passed, so their budgets stay short.
        "startupProbe": _probe(STARTUP_PERIOD_S, startup_failures(d, STARTUP_PERIOD_S), 5),
        "readinessProbe": _probe(5, 3, 5),
        "livenessProbe": _probe(15, 4, 10),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "shm", "mountPath": "/dev/shm"},
            {"name": "model-cache", "mountPath": CACHE_DIR},
            {"name": "scratch", "mountPath": "/tmp"},
        ],
    }


def deployment_manifest(d: Deployment) -> dict[str, Any]:
    match = labels(d)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": d.name, "labels": match},
        "spec": {
            "replicas": d.replicas,
            "selector": {"matchLabels": match},
            # No replica goes before its successor is ready: serving capacity never drops during a rollout
            # (it needs one replica's GPUs free).
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {
                    "labels": match,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(d.port),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS,
                        "runAsGroup": RUN_AS,
                        "fsGroup": RUN_AS,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "terminationGracePeriodSeconds": 60,
                    "containers": [_container(d)],
                    "volumes": [
                        {
                            "name": "shm",
                            "emptyDir": {"medium": "Memory", "sizeLimit": gib(d.resources.shm_bytes)},
                        },
                        {
                            "name": "model-cache",
                            "persistentVolumeClaim": {"claimName": f"{d.name}-model-cache"},
                        },
                        {"name": "scratch", "emptyDir": {}},
                    ],
                },
            },
        },
    }


def service_manifest(d: Deployment) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": d.name, "labels": labels(d)},
        "spec": {
            "selector": labels(d),
            "ports": [{"name": "http", "port": d.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def cache_claim(d: Deployment) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": f"{d.name}-model-cache", "labels": labels(d)},
        "spec": {
            # Every replica reads the same cache, on whichever node it runs: a ReadWriteMany storage class.
            "accessModes": ["ReadWriteMany"],
            "resources": {"requests": {"storage": gib(d.resources.cache_bytes)}},
        },
    }


def scaling_queries(d: Deployment) -> tuple[str, str]:
    """(requests waiting over the pool, mean KV-cache usage), PromQL checked against the catalogue."""
    sel = selector({"model_name": d.served_model_name})
    waiting = f"sum({gauge(vllm_names.NUM_REQUESTS_WAITING, d.vllm_version)}{sel})"
    kv = f"avg({gauge(vllm_names.KV_CACHE_USAGE, d.vllm_version)}{sel})"
    check_expressions(d, [waiting, kv])
    return waiting, kv


def scaled_object(d: Deployment, target: str, prometheus_url: str = PROMETHEUS_URL) -> dict[str, Any]:
    waiting, kv = scaling_queries(d)
    a = d.autoscaling
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": d.name, "labels": labels(d)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicaCount": a.min_replicas,
            "maxReplicaCount": a.max_replicas,
            "pollingInterval": 15,
            "cooldownPeriod": COOLDOWN_S,
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {"scaleDown": {"stabilizationWindowSeconds": COOLDOWN_S}}
                }
            },
            "triggers": [
                {
                    # AverageValue: replicas = ceil(waiting requests / threshold).
                    "type": "prometheus",
                    "metricType": "AverageValue",
                    "metadata": {
                        "serverAddress": prometheus_url,
                        "query": waiting,
                        "threshold": f"{a.waiting_per_replica:g}",
                    },
                },
                {
                    # Value: replicas grow with mean usage / threshold.
                    "type": "prometheus",
                    "metricType": "Value",
                    "metadata": {
                        "serverAddress": prometheus_url,
                        "query": kv,
                        "threshold": f"{a.kv_usage:g}",
                    },
                },
            ],
        },
    }


def render_k8s(d: Deployment) -> dict[str, str]:
    documents = [deployment_manifest(d), service_manifest(d), cache_claim(d), scaled_object(d, d.name)]
    lines = [
        *header_lines(d),
        f"Secrets by reference, never here: {d.hf_token_secret} and {d.api_key_secret} (key `token`).",
        f"Start-up probe budget {d.startup.total_s} s; the autoscaler needs KEDA and Prometheus at {PROMETHEUS_URL}.",
    ]
    return {"k8s.yaml": comment(lines) + dump_all(documents)}
