"""Real vLLM in the loop: start its OpenAI server for an engine configuration, read what it reports, stop it.

`VllmLauncher` starts and stops servers; `VllmBackend` runs workloads on them through the HTTP backend.
"""

from slotune.launch.launcher import VllmLauncher, VllmServer

__all__ = ["VllmLauncher", "VllmServer"]
