"""Phase 3: find the cheapest configuration that meets the SLO, simulator first, real engine to confirm."""

from slotune.tune.api import TuneOptions, tune
from slotune.tune.capacity import CapacitySearch, SearchLimits

__all__ = ["CapacitySearch", "SearchLimits", "TuneOptions", "tune"]
