"""Hardware profiles: the cost model's coefficients, versioned YAML data files with provenance.

A profile holds what the datasheet does not say: achievable fractions of peak (efficiencies), fixed per-step
overheads (CPU scheduling, kernel launches) and collective latencies. Efficiencies left empty (null) are taken
from the catalog's `GpuSpec` (published figures); the calibration issue fits every coefficient from a real
engine and writes a new profile with `write_profile`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from slotune.catalog._schema import check_model_keys
from slotune.errors import InputError
from slotune.models.base import Frozen

SCHEMA_VERSION = 1
_BUILTIN_PACKAGE = "slotune.simulate.profiles"


class ProfileProvenance(Frozen):
    # "published-figures" (datasheets and public efficiency figures) or "calibrated" (fitted from probes).
    method: str
    sources: tuple[str, ...] = ()
    notes: str = ""
    created: str = ""
    # For calibrated profiles: the engine, model and GPU the probes ran on.
    fitted_on: dict[str, str] = Field(default_factory=dict)


class ProfileCoefficients(Frozen):
    # Fractions of peak; None takes the GpuSpec value (mem_bw_efficiency, mfu_prefill, mfu_decode).
    mem_bw_efficiency: float | None = Field(default=None, gt=0, le=1)
    mfu_prefill: float | None = Field(default=None, gt=0, le=1)
    mfu_decode: float | None = Field(default=None, gt=0, le=1)
    # Achieved fraction of the per-direction GPU link bandwidth in a ring all-reduce.
    interconnect_efficiency: float = Field(default=0.75, gt=0, le=1)
    # Fixed latency of one all-reduce call (NCCL launch + p2p latency).
    allreduce_latency_s: float = Field(default=1.0e-5, ge=0)
    # Engine-core CPU time per step (schedule, prepare inputs, process outputs) and per scheduled sequence.
    step_cpu_s: float = Field(default=3.0e-4, ge=0)
    cpu_per_seq_s: float = Field(default=4.0e-6, ge=0)
    # GPU-side launch overhead per step: one full CUDA graph replay; piecewise graphs (attention eager)
    # and fully eager execution cost per decoder layer.
    graph_launch_s: float = Field(default=2.5e-5, ge=0)
    piecewise_launch_per_layer_s: float = Field(default=8.0e-6, ge=0)
    eager_launch_per_layer_s: float = Field(default=3.5e-5, ge=0)


class HardwareProfile(Frozen):
    schema_version: int = SCHEMA_VERSION
    name: str
    # Bumped whenever a coefficient changes, so saved results say which numbers produced them.
    version: str
    # Catalog GPU id the profile was fitted on; None applies to any GPU.
    gpu: str | None = None
    provenance: ProfileProvenance
    coefficients: ProfileCoefficients = ProfileCoefficients()

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


def builtin_profile_names() -> list[str]:
    root = resources.files(_BUILTIN_PACKAGE)
    return sorted(p.name[: -len(".yaml")] for p in root.iterdir() if p.name.endswith(".yaml"))


def _parse(data: object, where: str) -> HardwareProfile:
    if not isinstance(data, dict):
        raise InputError("profile", where, "a hardware profile is a YAML mapping; see simulate/profiles/")
    version = data.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise InputError(
            "profile schema_version", version, f"this slotune reads schema_version {SCHEMA_VERSION}"
        )
    check_model_keys(data, HardwareProfile, file=where, entry=str(data.get("name", "profile")))
    try:
        return HardwareProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise InputError(f"profile {loc}", first.get("input"), f"{first['msg']} (in {where})") from exc


def load_profile(name_or_path: str | Path | None = None) -> HardwareProfile:
    """A built-in profile by name ("default") or a YAML file by path."""
    if name_or_path is None:
        name_or_path = "default"
    text_name = str(name_or_path)
    if text_name in builtin_profile_names():
        text = resources.files(_BUILTIN_PACKAGE).joinpath(f"{text_name}.yaml").read_text(encoding="utf-8")
        return _parse(yaml.safe_load(text), f"built-in profile {text_name}")
    path = Path(name_or_path)
    if not path.is_file():
        raise InputError(
            "profile",
            text_name,
            f"give a built-in profile ({', '.join(builtin_profile_names())}) or the path of a profile YAML file",
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError("profile", text_name, f"the file is not valid YAML: {exc}") from exc
    return _parse(data, text_name)


def write_profile(profile: HardwareProfile, path: str | Path) -> None:
    """Write a profile as YAML (what the calibration step produces)."""
    data = profile.model_dump(mode="json")
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
