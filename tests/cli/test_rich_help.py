"""typer's help renderer imported with stand-ins for rich.markdown and rich.traceback (slotune.cli.rich_help).

Each check runs in a fresh interpreter: typer.rich_utils is imported once per process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run(code: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TERMINAL_WIDTH"} | {"COLUMNS": "80", "TERM": "dumb"}
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True
    ).stdout


FORWARDS = """
import sys
from slotune.cli.rich_help import import_help_renderer
import_help_renderer()
import typer.rich_utils as ru
assert "markdown_it" not in sys.modules and "rich.traceback" not in sys.modules
assert "rich.markdown" not in sys.modules  # the stand-in is gone once typer.rich_utils is imported

import rich.markdown, rich.traceback
assert type(rich.markdown.Markdown) is type  # the real module for everyone else
md = ru._make_rich_text(text="**bold**", markup_mode="markdown")  # typer's markdown mode still works
assert isinstance(md, rich.markdown.Markdown) and isinstance(md, ru.Markdown)
try:
    raise ValueError("x")
except ValueError as exc:
    tb = ru.get_traceback(exc, ru.DeveloperExceptionConfig(), [])
assert isinstance(tb, rich.traceback.Traceback)
print("ok")
"""


def test_the_stand_ins_become_the_real_classes_when_used() -> None:
    assert run(FORWARDS).strip() == "ok"


# The same help, rendered through main() (the stand-ins) and through typer alone (the real modules).
@pytest.mark.parametrize("command", [["--help"], ["plan", "--help"]])
def test_help_is_what_typer_renders_with_the_real_modules(command: list[str]) -> None:
    code = (
        "import sys\n"
        "from slotune.cli.main import app, main\n"
        "run = main if sys.argv[1] == 'main' else (lambda a: app(a, prog_name='slotune'))\n"
        "try:\n    run(sys.argv[2:])\nexcept SystemExit:\n    pass\n"
        "print('MARKDOWN', 'markdown_it' in sys.modules)\n"
    )
    through_main = run(code, "main", *command)
    through_typer = run(code, "typer", *command)
    assert through_main.endswith("MARKDOWN False\n") and through_typer.endswith("MARKDOWN True\n")
    assert "Usage: slotune" in through_main
    assert through_main.rsplit("MARKDOWN", 1)[0] == through_typer.rsplit("MARKDOWN", 1)[0]
