"""Writing files whole: a reader never sees half a file, and a failed write leaves no file behind.

Every writer of a user-visible output goes through here: the content goes to a temporary file beside the target
(same folder, so the rename stays on one file system), which then replaces the target in one rename.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """A text file (UTF-8) that appears at `path` only once the block ends without an exception; missing
    parent folders are created. A device or pipe (`/dev/null`, `/dev/stdout`) is written as it is: it cannot
    be half-written, and replacing it would replace the device."""
    target = Path(path)
    if target.exists() and not target.is_file() and not target.is_dir():
        with target.open("w", encoding="utf-8") as f:
            yield f
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            yield f
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def cache_dir() -> Path:
    """Where slotune keeps what it can rebuild or forget: $SLOTUNE_CACHE_DIR, else $XDG_CACHE_HOME/slotune, else
    ~/.cache/slotune."""
    if explicit := os.environ.get("SLOTUNE_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "slotune"


def write_atomically(path: str | os.PathLike[str], text: str) -> Path:
    """Write `text` to `path` whole (see atomic_open); returns the path."""
    with atomic_open(path) as f:
        f.write(text)
    return Path(path)
