"""Service-level objectives: parsing, presets and the per-request definition (docs/slo.md)."""

from slotune.slo.evaluate import request_meets_slo, request_value
from slotune.slo.parse import format_slo, parse_slo
from slotune.slo.presets import PRESETS, get_preset, resolve_slo

__all__ = [
    "PRESETS",
    "format_slo",
    "get_preset",
    "parse_slo",
    "request_meets_slo",
    "request_value",
    "resolve_slo",
]
