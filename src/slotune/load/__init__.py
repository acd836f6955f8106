"""Load generation: arrival processes and the schedule of a run, shared by the simulator and `bench`.

Public API: `build_schedule(workload, load, seed)`, `Job`, `OpenLoopSchedule`, `ClosedLoopSchedule`,
`arrival_times_s`, `interarrival_gaps_s`. The load itself is `slotune.models.LoadSpec` (docs/load.md).
"""

from slotune.load.arrivals import DRAWN_ARRIVALS, arrival_times_s, interarrival_gaps_s
from slotune.load.schedule import (
    ClosedLoopDraw,
    ClosedLoopSchedule,
    Job,
    OpenLoopSchedule,
    Schedule,
    build_schedule,
)

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
