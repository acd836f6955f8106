"""The commands of the `slotune` app as click sees them, for tests that go over every command and every flag
(new commands are picked up as soon as they are registered on the app).

Typer carries its own copy of click, so commands and parameters are told apart by what they have (a group has
`commands`; an option has `param_type_name == "option"`), not by click's classes."""

from __future__ import annotations

from typing import Any

import typer

from slotune.cli.lazy import load_command
from slotune.cli.main import app

Command = Any  # typer's click Command


def is_option(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "option"


def _subcommands(group: Command) -> dict[str, Command]:
    """A group's commands by name; the root's lazy ones loaded (slotune.cli.lazy lists them without importing)."""
    lazy = getattr(group, "lazy_commands", {})
    found = {name: load_command(name, entry) for name, entry in lazy.items()}
    return {**getattr(group, "commands", {}), **found}


def all_commands() -> list[tuple[tuple[str, ...], Command]]:
    """(command path, command) of every leaf command, e.g. (("workload", "synth"), <Command synth>)."""
    found: list[tuple[tuple[str, ...], Command]] = []

    def walk(command: Command, path: tuple[str, ...]) -> None:
        subcommands = _subcommands(command)
        if subcommands or hasattr(command, "commands"):
            for name, sub in sorted(subcommands.items()):
                walk(sub, (*path, name))
        else:
            found.append((path, command))

    walk(typer.main.get_command(app), ())
    return found


def option_names(command: Command) -> set[str]:
    """Every flag the command takes (both forms of a boolean, aliases, --help)."""
    names: set[str] = set()
    for param in command.params:
        if is_option(param):
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names | {"--help"}
