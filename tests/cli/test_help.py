"""`--help` of every command reads at 80 columns: every flag name whole, nothing cut with an ellipsis."""

from __future__ import annotations

import io
import re
from contextlib import redirect_stdout

import pytest
from cli_tree import all_commands, option_names

from slotune.cli.main import COMMANDS as ROOT_TABLE
from slotune.cli.main import main

COMMANDS = all_commands()


def _help(path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TERM", "dumb")
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        main([*path, "--help"])
    assert exit_info.value.code in (0, None)
    return out.getvalue()


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) for p, _ in COMMANDS])
def test_help_at_80_columns_shows_every_flag_whole(
    path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    command = dict(COMMANDS)[path]
    text = _help(path, monkeypatch)
    assert "…" not in text, text
    assert max(len(line) for line in text.splitlines()) <= 80
    hidden = {o for p in command.params if getattr(p, "hidden", False) for o in getattr(p, "opts", ())}
    visible = {name for name in option_names(command) if name not in hidden and not name.startswith("--no-")}
    cut = {name for name in visible if not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text)}
    assert not cut, cut


def test_every_command_is_found() -> None:
    """The enumeration the fuzz and help tests rely on sees every command of the root table (lazy ones too)."""
    paths = {p for p, _ in COMMANDS}
    assert {("simulate",), ("bench",), ("plan",), ("workload", "synth"), ("slo", "check")} <= paths
    assert {p[0] for p in paths} == set(ROOT_TABLE)
