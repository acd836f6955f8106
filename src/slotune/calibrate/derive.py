"""Profiles for GPUs nobody calibrated, from one that was, through the GPU catalog (docs/calibration.md).

What transfers, and how:
- compute and bandwidth efficiencies (mfu_prefill, mfu_decode, mem_bw_efficiency) are fractions of the
  catalog's peaks; they move by the catalog's ratio between the two GPUs (BLIS's published efficiencies),
  so a Hopper-to-Hopper transfer (H200 -> H100) keeps them and H200 -> A100 lowers them as BLIS does;
- the host side (step_cpu_s, cpu_per_seq_s, the frontend's times) is the same vLLM on a comparable host CPU:
  kept;
- kernel launches (graph replay, piecewise and eager per layer, eager per sequence, launch_overlap): kept, an assumption that
  holds for CUDA GPUs of the same driver generation and is least certain for B200;
- prefill_attention_rate (attention against the GEMMs of the same vLLM build): kept;
- all-reduce: the latency is kept, the efficiency stays a fraction of the target's own link bandwidth
  (NVLink 3/4/5, PCIe for L40S) in the catalog;
- the vLLM version (the release whose engine rules the simulator applies): the calibrated one's.
"""

from __future__ import annotations

from datetime import UTC, datetime

from slotune.models import GpuSpec, HardwareProfile, ProfileProvenance

EFFICIENCIES = {
    "mem_bw_efficiency": "mem_bw_efficiency",
    "mfu_prefill": "mfu_prefill",
    "mfu_decode": "mfu_decode",
}


def derive_profile(
    calibrated: HardwareProfile, source: GpuSpec, target: GpuSpec, *, name: str | None = None
) -> HardwareProfile:
    c = calibrated.coefficients
    update: dict[str, float] = {}
    for field, catalog_field in EFFICIENCIES.items():
        value = getattr(c, field) or getattr(source, catalog_field)
        ratio = getattr(target, catalog_field) / getattr(source, catalog_field)
        update[field] = min(1.0, value * ratio)
    cal = calibrated.calibration
    model = cal.model_spec if cal is not None else "model"
    return HardwareProfile(
        name=name or f"{target.name}-{model}",
        version=calibrated.version,
        gpu=target.name,
        # The coefficients were measured on this release: its engine rules go with them.
        vllm_version=calibrated.vllm_version,
        provenance=ProfileProvenance(
            method="derived",
            sources=(f"{calibrated.label} (calibrated on {source.name})",),
            notes=(
                f"efficiencies x the catalog's {target.name}/{source.name} ratios; host, launch and all-reduce "
                "latency terms kept (slotune.calibrate.derive)"
            ),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            fitted_on=dict(calibrated.provenance.fitted_on),
        ),
        coefficients=c.model_copy(update=update),
    )
