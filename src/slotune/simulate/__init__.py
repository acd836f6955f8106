"""The embedded engine: a discrete-event simulator of vLLM's V1 engine (docs/simulator.md)."""

from slotune.simulate.cost_model import CostModel, ModelCostFacts, default_capture_sizes
from slotune.simulate.deployment import Deployment, build_deployment
from slotune.simulate.profile import HardwareProfile, load_profile, write_profile
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
