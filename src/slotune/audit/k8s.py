"""Kubernetes manifests as audit evidence: the pods that run vLLM (their container's command line, resources,
probes and shared memory) and the autoscalers that scale them.

A container runs vLLM when its command or arguments mention vLLM's server (`vllm serve`, the OpenAI server
module) or its image is a vLLM image. Workloads (Deployment, StatefulSet, DaemonSet, Job, ReplicaSet) are read
through their pod template; `List` objects through their items.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slotune.audit.monitoring_files import load_yaml_documents
from slotune.errors import InputError

_WORKLOADS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"})
GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")
# Kubernetes' own defaults for a probe's fields.
PROBE_DEFAULTS = {"initialDelaySeconds": 0, "periodSeconds": 10, "failureThreshold": 3, "timeoutSeconds": 1}


@dataclass(frozen=True, slots=True)
class Probe:
    kind: str  # startupProbe, readinessProbe, livenessProbe
    initial_delay_s: float
    period_s: float
    failure_threshold: int

    @property
    def budget_s(self) -> float:
        """How long the container may take to answer before this probe gives up (and a liveness or startup
        probe restarts it): initial delay + failureThreshold x period."""
        return self.initial_delay_s + self.failure_threshold * self.period_s


@dataclass(frozen=True, slots=True)
class VllmContainer:
    file: str
    owner: str  # Deployment/vllm
    name: str
    pointer: str  # spec.template.spec.containers[0]
    line: int | None
    argv: tuple[str, ...]
    cpu_request: float | None  # cores
    cpu_limit: float | None
    gpus: int | None
    probes: tuple[Probe, ...]
    has_dev_shm: bool  # an emptyDir (medium: Memory) mounted at /dev/shm, or the pod shares the host's IPC

    def probe(self, kind: str) -> Probe | None:
        return next((p for p in self.probes if p.kind == kind), None)


@dataclass(frozen=True, slots=True)
class Autoscaler:
    file: str
    owner: str  # HorizontalPodAutoscaler/vllm, ScaledObject/vllm
    line: int | None
    pointer: str
    metric: str  # what it scales on, as written


@dataclass(frozen=True, slots=True)
class Manifests:
    files: tuple[str, ...]
    containers: tuple[VllmContainer, ...]
    autoscalers: tuple[Autoscaler, ...]


def parse_cpu(value: Any) -> float | None:
    """Kubernetes CPU quantity: 4, "4", "500m" -> cores."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text[:-1]) / 1000 if text.endswith("m") else float(text)
        except ValueError:
            return None
    return None


def _is_vllm(container: dict[str, Any]) -> bool:
    words = [str(w) for w in (container.get("command") or []) + (container.get("args") or [])]
    text = " ".join(words)
    image = str(container.get("image") or "")
    return (
        "vllm" in image.lower() or "vllm serve" in text or "vllm.entrypoints" in text or "vllm/vllm" in text
    )


def _argv(container: dict[str, Any]) -> tuple[str, ...]:
    """The command line: `sh -c "vllm serve ..."` is split as the shell would."""
    words = [str(w) for w in (container.get("command") or []) + (container.get("args") or [])]
    if len(words) >= 3 and words[0].rsplit("/", 1)[-1] in ("sh", "bash") and words[1] == "-c":
        try:
            return tuple(shlex.split(words[2]))
        except ValueError:
            return tuple(words)
    return tuple(words)


def _probes(container: dict[str, Any]) -> tuple[Probe, ...]:
    probes = []
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        raw = container.get(kind)
        if isinstance(raw, dict):
            values = {k: raw.get(k, d) for k, d in PROBE_DEFAULTS.items()}
            probes.append(
                Probe(
                    kind=kind,
                    initial_delay_s=float(values["initialDelaySeconds"] or 0),
                    period_s=float(values["periodSeconds"] or 10),
                    failure_threshold=int(values["failureThreshold"] or 3),
                )
            )
    return tuple(probes)


def _has_dev_shm(pod: dict[str, Any], container: dict[str, Any]) -> bool:
    if pod.get("hostIPC") is True:
        return True
    memory_volumes = {
        v.get("name")
        for v in pod.get("volumes") or []
        if isinstance(v, dict)
        and isinstance(v.get("emptyDir"), dict)
        and v["emptyDir"].get("medium") == "Memory"
    }
    return any(
        isinstance(m, dict) and m.get("mountPath") == "/dev/shm" and m.get("name") in memory_volumes
        for m in container.get("volumeMounts") or []
    )


def _gpus(resources: dict[str, Any]) -> int | None:
    for section in ("limits", "requests"):
        values = resources.get(section) or {}
        for key in GPU_RESOURCES:
            if key in values:
                try:
                    return int(values[key])
                except (TypeError, ValueError):
                    return None
    return None


def _pods(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(owner, pointer of the pod spec, pod spec) of a workload or a bare Pod."""
    kind = document.get("kind")
    name = (document.get("metadata") or {}).get("name", "?")
    spec = document.get("spec") or {}
    if kind == "Pod":
        yield f"Pod/{name}", "spec", spec
    elif kind in _WORKLOADS:
        template = spec.get("template") or {}
        if kind == "Job":
            template = template or (spec.get("jobTemplate") or {}).get("spec", {}).get("template", {})
        yield f"{kind}/{name}", "spec.template.spec", template.get("spec") or {}


def _containers(document: dict[str, Any], file: str, lines: dict[int, int]) -> Iterator[VllmContainer]:
    for owner, pointer, pod in _pods(document):
        for i, container in enumerate(pod.get("containers") or []):
            if not isinstance(container, dict) or not _is_vllm(container):
                continue
            resources = container.get("resources") or {}
            yield VllmContainer(
                file=file,
                owner=owner,
                name=str(container.get("name", i)),
                pointer=f"{pointer}.containers[{i}]",
                line=lines.get(id(container)),
                argv=_argv(container),
                cpu_request=parse_cpu((resources.get("requests") or {}).get("cpu")),
                cpu_limit=parse_cpu((resources.get("limits") or {}).get("cpu")),
                gpus=_gpus(resources),
                probes=_probes(container),
                has_dev_shm=_has_dev_shm(pod, container),
            )


def _autoscalers(document: dict[str, Any], file: str, lines: dict[int, int]) -> Iterator[Autoscaler]:
    kind = document.get("kind")
    name = (document.get("metadata") or {}).get("name", "?")
    spec = document.get("spec") or {}
    if kind == "HorizontalPodAutoscaler":
        for i, metric in enumerate(spec.get("metrics") or []):
            yield Autoscaler(file, f"{kind}/{name}", lines.get(id(metric)), f"spec.metrics[{i}]", str(metric))
        if "targetCPUUtilizationPercentage" in spec:
            yield Autoscaler(
                file, f"{kind}/{name}", lines.get(id(spec)), "spec.targetCPUUtilizationPercentage", "cpu"
            )
    elif kind == "ScaledObject":
        for i, trigger in enumerate(spec.get("triggers") or []):
            yield Autoscaler(
                file, f"{kind}/{name}", lines.get(id(trigger)), f"spec.triggers[{i}]", str(trigger)
            )


def _objects(documents: list[Any]) -> Iterator[dict[str, Any]]:
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == "List":
            yield from (item for item in document.get("items") or [] if isinstance(item, dict))
        elif isinstance(document, dict):
            yield document


def read_manifests(paths: list[Path]) -> Manifests:
    containers: list[VllmContainer] = []
    autoscalers: list[Autoscaler] = []
    for path in paths:
        documents, lines = load_yaml_documents(path, "--k8s")
        for obj in _objects(documents):
            containers.extend(_containers(obj, str(path), lines))
            autoscalers.extend(_autoscalers(obj, str(path), lines))
    if not containers:
        raise InputError(
            "--k8s",
            ", ".join(map(str, paths)),
            "give manifests with a pod (Deployment, StatefulSet, Pod, ...) whose container runs vLLM",
            problem="no vLLM container found",
        )
    return Manifests(tuple(map(str, paths)), tuple(containers), tuple(autoscalers))
