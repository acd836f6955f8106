"""A docker compose file (the Compose Specification): one vLLM service per replica is not needed here, one
service with the GPUs it reserves, /dev/shm sized, the model cache on a named volume, a non-root user, the
Hugging Face token as a compose secret (a file the host provides), and a health check whose start period is the
start-up budget."""

from __future__ import annotations

from typing import Any

from slotune.deploy.targets.common import (
    CACHE_DIR,
    CACHE_ENV,
    HEALTH_PATH,
    RUN_AS,
    comment,
    dump_yaml,
    header_lines,
    server_args,
)
from slotune.models.deploy import Deployment
from slotune.units import GiB

HEALTH_CHECK = (
    "import sys, urllib.request; "
    "sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=5).status == 200 else 1)"
)


def _service(d: Deployment) -> dict[str, Any]:
    return {
        "image": d.image,
        "command": [d.model, *server_args(d), *d.vllm_args],
        "user": f"{RUN_AS}:{RUN_AS}",
        "ports": [f"{d.port}:{d.port}"],
        "environment": {
            **CACHE_ENV,
            # huggingface_hub reads the token from this file; the secret itself never appears here.
            "HF_TOKEN_PATH": "/run/secrets/hf_token",
            "VLLM_API_KEY": "${VLLM_API_KEY:-}",
        },
        "secrets": ["hf_token"],
        "shm_size": f"{d.resources.shm_bytes // GiB}gb",
        "volumes": [f"model-cache:{CACHE_DIR}"],
        "tmpfs": ["/tmp"],
        "depends_on": {"cache-owner": {"condition": "service_completed_successfully"}},
        "read_only": True,
        "security_opt": ["no-new-privileges:true"],
        "cap_drop": ["ALL"],
        "healthcheck": {
            "test": ["CMD", "python3", "-c", HEALTH_CHECK.format(port=d.port, path=HEALTH_PATH)],
            "interval": "10s",
            "timeout": "5s",
            "retries": 3,
            "start_period": f"{d.startup.total_s}s",
        },
        "deploy": {
            "replicas": d.replicas,
            "resources": {
                "limits": {"memory": f"{d.resources.memory_limit_bytes // GiB}g"},
                "reservations": {
                    "cpus": str(d.resources.cpu_cores),
                    "memory": f"{d.resources.memory_request_bytes // GiB}g",
                    "devices": [{"driver": "nvidia", "count": d.resources.num_gpus, "capabilities": ["gpu"]}],
                },
            },
        },
        "restart": "unless-stopped",
    }


def render_compose(d: Deployment) -> dict[str, str]:
    service = _service(d)
    if d.replicas > 1:
        service["ports"] = [str(d.port)]  # one host port cannot serve several replicas: let compose pick
    # A new named volume belongs to root: one root step hands it to the server's user, then exits.
    owner = {
        "image": d.image,
        "user": "0:0",
        "entrypoint": ["chown", "-R", f"{RUN_AS}:{RUN_AS}", CACHE_DIR],
        "volumes": [f"model-cache:{CACHE_DIR}"],
        "restart": "no",
    }
    document = {
        "name": d.name,
        "services": {"cache-owner": owner, "vllm": service},
        "volumes": {"model-cache": {}},
        "secrets": {"hf_token": {"file": "./hf_token"}},
    }
    lines = [*header_lines(d), "Put the Hugging Face token in ./hf_token (an empty file for a public model)."]
    return {"compose.yaml": comment(lines) + dump_yaml(document)}
