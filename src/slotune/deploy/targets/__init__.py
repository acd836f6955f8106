"""One renderer per deploy target, keyed by the target's name: Deployment -> {file name: text}."""

from __future__ import annotations

from collections.abc import Callable

from slotune.deploy.targets.compose import render_compose
from slotune.deploy.targets.helm import render_helm_values
from slotune.deploy.targets.k8s import render_k8s
from slotune.deploy.targets.vllm import render_cmd, render_config
from slotune.models.deploy import Deployment

Renderer = Callable[[Deployment], dict[str, str]]

TARGETS: dict[str, Renderer] = {
    "vllm-cmd": render_cmd,
    "vllm-config": render_config,
    "compose": render_compose,
    "k8s": render_k8s,
    "helm-values": render_helm_values,
}
