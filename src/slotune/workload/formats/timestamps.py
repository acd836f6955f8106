"""Fast parsing of timestamp columns into seconds relative to the first row.

Azure traces hold datetime strings with 7 fractional digits (100 ns); numpy parses those exactly and in bulk.
Only when the bulk parse fails do we walk the rows one by one, to name the bad line.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np

from slotune.errors import InputError

_TZ_SUFFIX = re.compile(r"(Z|[+-]\d\d:?\d\d)$")


def _as_numbers(values: Sequence[str]) -> np.ndarray | None:
    try:
        return np.array([float(v) for v in values], dtype=np.float64)
    except ValueError:
        return None


def _bad_row(values: Sequence[str], line_numbers: Sequence[int], path: Path, field: str) -> InputError:
    for value, line_no in zip(values, line_numbers, strict=True):
        try:
            datetime.fromisoformat(value.strip())
        except ValueError:
            return InputError(
                f"{path.name} line {line_no}, {field}",
                value,
                f"make {field} an ISO date-time such as 2023-11-16 18:17:03.9799600, or seconds as a number",
                problem="not a date-time",
            )
    return InputError(
        f"{path.name}, {field}",
        values[0] if values else "",
        f"make every {field} value an ISO date-time in one time zone, or seconds as a number",
        problem="mixed or unreadable date-times",
    )


def seconds_since_first(
    values: Sequence[str], line_numbers: Sequence[int], *, path: Path, field: str
) -> np.ndarray:
    """Seconds of each row after the earliest row (float64; exact to 100 ns for datetime strings)."""
    stripped = [v.strip() for v in values]
    numbers = _as_numbers(stripped)
    if numbers is not None:
        return numbers - numbers.min()
    suffixes = {m.group(0) if (m := _TZ_SUFFIX.search(v[10:])) else "" for v in stripped}
    if len(suffixes) == 1:
        suffix = suffixes.pop()
        naive = [v[: len(v) - len(suffix)].replace(" ", "T", 1) for v in stripped]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                stamps = np.array(naive, dtype="datetime64[ns]")
        except ValueError:
            raise _bad_row(stripped, line_numbers, path, field) from None
        if np.isnat(stamps).any():
            raise _bad_row(stripped, line_numbers, path, field)
        ns = (stamps - stamps.min()).astype(np.int64)
        return ns.astype(np.float64) / 1e9
    # Several time zones: normalize through datetime (microsecond precision).
    try:
        parsed = [datetime.fromisoformat(v) for v in stripped]
        epoch = np.array([p.timestamp() for p in parsed], dtype=np.float64)
    except (ValueError, TypeError):
        raise _bad_row(stripped, line_numbers, path, field) from None
    return epoch - epoch.min()
