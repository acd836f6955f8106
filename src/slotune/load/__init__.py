"""Load generation: arrival processes and the schedule of a run, shared by the simulator and `bench`.

Public API: `build_schedule(workload, load, seed)`, `Job`, `OpenLoopSchedule`, `ClosedLoopSchedule`,
`arrival_times_s`, `interarrival_gaps_s`. The load itself is `slotune.models.LoadSpec` (docs/load.md).

Names are imported from their modules on first use (slotune._lazy): a command's --help that reads a constant of
`slotune.load.size` does not load numpy and the schedules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slotune._lazy import lazy_getattr

if TYPE_CHECKING:
    from slotune.load.arrivals import DRAWN_ARRIVALS, arrival_times_s, interarrival_gaps_s
    from slotune.load.schedule import (
        ClosedLoopDraw,
        ClosedLoopSchedule,
        Job,
        OpenLoopSchedule,
        Schedule,
        build_schedule,
    )

_HOMES: dict[str, str] = {
    "DRAWN_ARRIVALS": "arrivals",
    "ClosedLoopDraw": "schedule",
    "ClosedLoopSchedule": "schedule",
    "Job": "schedule",
    "OpenLoopSchedule": "schedule",
    "Schedule": "schedule",
    "arrival_times_s": "arrivals",
    "build_schedule": "schedule",
    "interarrival_gaps_s": "arrivals",
}

__all__ = [
    "DRAWN_ARRIVALS",
    "ClosedLoopDraw",
    "ClosedLoopSchedule",
    "Job",
    "OpenLoopSchedule",
    "Schedule",
    "arrival_times_s",
    "build_schedule",
    "interarrival_gaps_s",
]

__getattr__ = lazy_getattr(__name__, _HOMES, globals())
