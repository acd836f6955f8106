"""Profiles for GPUs not calibrated: efficiencies through the catalog's ratios, the rest kept."""

from __future__ import annotations

import pytest

from slotune.calibrate.derive import derive_profile
from slotune.catalog import get_gpu, load_profile


def test_derived_profiles_scale_efficiencies_by_the_catalog_and_keep_the_rest() -> None:
    base = load_profile()
    calibrated = base.model_copy(
        update={
            "gpu": "h200",
            "coefficients": base.coefficients.model_copy(
                update={"mfu_decode": 0.2, "mfu_prefill": 0.5, "mem_bw_efficiency": 0.7, "frontend_s": 0.003}
            ),
        }
    )
    h200, h100, a100 = get_gpu("h200"), get_gpu("h100"), get_gpu("a100-80gb")
    same_arch = derive_profile(calibrated, h200, h100)
    assert same_arch.gpu == "h100-sxm" and same_arch.provenance.method == "derived"
    for name in ("mfu_decode", "mfu_prefill", "mem_bw_efficiency", "frontend_s", "graph_launch_s"):
        assert getattr(same_arch.coefficients, name) == getattr(calibrated.coefficients, name), name
    older = derive_profile(calibrated, h200, a100)
    assert older.coefficients.mfu_decode == pytest.approx(0.2 * a100.mfu_decode / h200.mfu_decode)
    assert older.coefficients.mfu_prefill == pytest.approx(0.5 * a100.mfu_prefill / h200.mfu_prefill)
    assert (
        older.coefficients.frontend_s == 0.003
        and older.coefficients.step_cpu_s == calibrated.coefficients.step_cpu_s
    )
    assert calibrated.label in older.provenance.sources[0]
