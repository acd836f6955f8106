"""Commands loaded when they run: `slotune --help` must not import what every command needs.

Each command module keeps its `register(app)`; the root group imports a module only when its command is
invoked (or its own --help is asked for). Listing the commands uses their short help from the table in
slotune.cli.main, which a test keeps equal to each command's own.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True, slots=True)
class LazyCommand:
    module: str  # registers the command with `register(app)`
    short_help: str


def load_command(name: str, entry: LazyCommand) -> Any:
    """Import the module and build its command (a group for `workload`/`slo`)."""
    module = importlib.import_module(entry.module)
    holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @holder.callback()
    def _group() -> None:  # a callback keeps the holder a group, so a single command is found by name
        pass

    module.register(holder)
    command = getattr(typer.main.get_command(holder), "commands", {}).get(name)
    if command is None:
        raise RuntimeError(f"{entry.module}.register() defines no command named {name!r}")
    return command


class _Listed(TyperCommand):
    """Stands in for a command in the root help listing, without importing it."""

    def __init__(self, name: str, short_help: str) -> None:
        super().__init__(name, short_help=short_help, help=short_help)


class LazyGroup(TyperGroup):
    """The root group: real commands from `lazy_commands`, loaded on use; placeholders for the listing."""

    lazy_commands: ClassVar[dict[str, LazyCommand]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: dict[str, Any] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *self.lazy_commands]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        entry = self.lazy_commands.get(cmd_name)
        if entry is None:
            return super().get_command(ctx, cmd_name)
        return self._loaded.get(cmd_name) or _Listed(cmd_name, entry.short_help)

    def get_help_option(self, ctx: Any) -> Any:
        """The root's --help, defaulting to False rather than None (not given). Typer (0.29) converts every
        non-bool parameter value through a pydantic TypeAdapter; for a help flag not given, None, it imports
        pydantic (about 100 ms) only to return None. The root's options are converted before the command runs,
        so `slotune plan --help` paid for pydantic that no option of plan needs to show its help."""
        option = super().get_help_option(ctx)
        if option is not None and option.default is None:
            option.default = False
        return option

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else None
        entry = self.lazy_commands.get(name) if name is not None else None
        if name is not None and entry is not None and name not in self._loaded:
            self._loaded[name] = load_command(name, entry)
        return super().resolve_command(ctx, args)
