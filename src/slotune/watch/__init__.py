"""`slotune watch`: a live vLLM server against the SLO, from its /metrics (docs/watch.md)."""

from slotune.watch.rules import BUILTIN_RULES, LiveRule
from slotune.watch.run import EXIT_CODES, EXIT_UNREACHABLE, Unreachable, WatchOptions, http_scrape, watch

__all__ = [
    "BUILTIN_RULES",
    "EXIT_CODES",
    "EXIT_UNREACHABLE",
    "LiveRule",
    "Unreachable",
    "WatchOptions",
    "http_scrape",
    "watch",
]
