"""The files `slotune deploy` writes, against the schemas their tools apply: Kubernetes' API schemas (the
kubernetes-validate package), KEDA's ScaledObject CRD, the Compose Specification, production-stack's values
schema (tests/data/schemas/SOURCES.md says where each comes from)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from deploy_helpers import make_deployment

from slotune.deploy.writer import target_files

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "schemas"
KUBERNETES_VERSIONS = ("1.29.0", "1.33.0")


def _documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _keda_schema() -> dict[str, Any]:
    crd = yaml.safe_load((SCHEMAS / "keda.sh_scaledobjects.yaml").read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
    return version["schema"]["openAPIV3Schema"]


@pytest.mark.parametrize("replicas", [1, 3])
@pytest.mark.parametrize("kubernetes", KUBERNETES_VERSIONS)
def test_kubernetes_manifests_validate_against_the_api_schemas(kubernetes: str, replicas: int) -> None:
    docs = _documents(target_files(make_deployment(replicas=replicas), "k8s")["k8s.yaml"])
    kinds = [d["kind"] for d in docs]
    assert kinds == ["Deployment", "Service", "PersistentVolumeClaim", "ScaledObject"]
    for doc in docs:
        if doc["apiVersion"].startswith("keda.sh/"):
            jsonschema.validate(doc, _keda_schema())
        else:
            kubernetes_validate.validate(doc, kubernetes, strict=True)


def test_a_broken_manifest_is_refused() -> None:
    """The validator is not a rubber stamp: a misspelt field and a wrong type both fail."""
    doc = _documents(target_files(make_deployment(), "k8s")["k8s.yaml"])[0]
    doc["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES_VERSIONS[-1], strict=True)
    scaler = _documents(target_files(make_deployment(), "k8s")["k8s.yaml"])[-1]
    scaler["spec"]["minReplicaCount"] = "one"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaler, _keda_schema())


def test_the_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    for replicas in (1, 2):
        text = target_files(make_deployment(replicas=replicas), "compose")["compose.yaml"]
        jsonschema.Draft7Validator(schema).validate(yaml.safe_load(text))
    broken = yaml.safe_load(text)
    broken["services"]["vllm"]["shm_sizee"] = "1g"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(broken)


def test_helm_values_follow_production_stacks_schema_and_its_scaler_kedas() -> None:
    files = target_files(make_deployment(replicas=2), "helm-values")
    values = yaml.safe_load(files["helm-values.yaml"])
    jsonschema.validate(values, json.loads((SCHEMAS / "production-stack-values.schema.json").read_text()))
    model = values["servingEngineSpec"]["modelSpec"][0]
    # Prefix caching and chunked prefill are explicit, never left to the chart's defaults.
    assert model["vllmConfig"]["enablePrefixCaching"] is True
    assert model["vllmConfig"]["enableChunkedPrefill"] is True
    (scaler,) = _documents(files["helm-scaledobject.yaml"])
    jsonschema.validate(scaler, _keda_schema())
    assert scaler["spec"]["scaleTargetRef"]["name"] == f"vllm-{model['name']}-deployment-vllm"
