"""`slotune calibrate`: fit the simulator's cost model to short probes of a real vLLM (docs/calibration.md)."""
