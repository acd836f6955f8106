"""One error hierarchy. Expected outcomes ("does not fit") are data, not exceptions.

Every user-facing error names the field, the value and the fix; the CLI prints it and exits 2.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class SlotuneError(Exception):
    """Base of every error slotune raises on purpose."""

    exit_code = 1


class InputError(SlotuneError):
    """Bad input from the user: a file, a flag, a model or GPU name. Exit code 2."""

    exit_code = 2

    def __init__(self, field: str, value: object, fix: str, *, problem: str | None = None) -> None:
        self.field = field
        self.value = value
        self.fix = fix
        self.problem = problem
        shown = repr(value)
        if len(shown) > 200:
            shown = shown[:197] + "..."
        head = f"{field}={shown}"
        if problem:
            head += f": {problem}"
        super().__init__(f"{head}. Fix: {fix}")

    def with_flags(self, renames: dict[str, str]) -> InputError:
        """The same error in the words of a command whose flags are named otherwise (`--format` is
        `--workload-format` on `plan`)."""

        def rename(text: str) -> str:
            for old, new in renames.items():
                text = re.sub(rf"(?<![\w-]){re.escape(old)}(?![\w-])", new, text)
            return text

        return InputError(rename(self.field), self.value, rename(self.fix), problem=self.problem)

    @classmethod
    def from_validation(cls, exc: ValidationError, *, field: str, fix: str, joiner: str = ".") -> InputError:
        """The first problem pydantic found, named as `field` + joiner + its location in the input."""
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        return cls(f"{field}{joiner}{loc}" if loc else field, first.get("input"), fix, problem=first["msg"])


class BackendError(SlotuneError):
    """A backend (simulator, HTTP server, launched engine) could not run at all."""

    exit_code = 1
