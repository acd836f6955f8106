"""The embedded engine: a discrete-event simulator of vLLM's V1 engine (docs/simulator.md)."""

from slotune.catalog.hardware_profiles import load_profile, write_profile
from slotune.models import HardwareProfile
from slotune.plan.cuda_graphs import default_capture_sizes
from slotune.plan.step_cost import ModelCostFacts
from slotune.simulate.cost_model import CostModel
from slotune.simulate.deployment import Deployment, build_deployment
from slotune.simulate.simulator import Simulator

__all__ = [
    "CostModel",
    "Deployment",
    "HardwareProfile",
    "ModelCostFacts",
    "Simulator",
    "build_deployment",
    "default_capture_sizes",
    "load_profile",
    "write_profile",
]
