"""The planner stays a composition of short functions: none over 120 lines in slotune/plan."""

from __future__ import annotations

import ast
from pathlib import Path

import slotune.plan

MAX_LINES = 120


def test_no_function_in_plan_is_over_120_lines() -> None:
    root = Path(slotune.plan.__file__).parent
    long = []
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_LINES:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, long
