"""`slotune validate`: the simulator's measured error against a real engine (docs/fidelity.md)."""
