"""Short functions where they tend to grow: none over 120 lines in slotune/plan, slotune/cli and the bench summary.

A command's function counts its option declarations too: option groups shared by commands (engine flags, load
flags, prices) are declared once in their own modules and injected by decorators.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "slotune"
MAX_LINES = 120
WATCHED = [
    *sorted((SRC / "plan").glob("*.py")),
    *sorted((SRC / "cli").glob("*.py")),
    SRC / "bench" / "summary.py",
]


def long_functions(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > MAX_LINES:
                found.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({lines} lines)")
    return found


@pytest.mark.parametrize("path", WATCHED, ids=lambda p: str(p.relative_to(SRC)))
def test_no_function_is_over_120_lines(path: Path) -> None:
    assert not long_functions(path)
