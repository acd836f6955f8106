"""The engine flags' declarations (flag, metavar, aliases, help text), saved so that --help needs no pydantic.

Deriving them from EngineConfig's fields imports pydantic and builds the model: about 0.2 s of CPU on the 2-core
development VM, most of what `slotune plan --help` cost (benchmarks/cli_startup.py). `declare` derives one flag's
declaration from its field; engine_flags.json holds every field's, with a checksum of the two sources they come
from (models/engine_config.py and this module). The saved table is used only while the checksum matches: after
an edit to either source the declarations are derived again (correct, only slower), and
tests/cli/test_engine_flags.py fails until the table is written again with

    python -m slotune.cli.engine_flag_table
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

    from slotune.models import EngineConfig

TABLE = Path(__file__).with_name("engine_flags.json")
SOURCES = (Path(__file__).parents[1] / "models" / "engine_config.py", Path(__file__))
WRITE_COMMAND = "python -m slotune.cli.engine_flag_table"


@dataclass(frozen=True, slots=True)
class FlagDecl:
    """One EngineConfig field as a command-line option."""

    name: str  # the field
    flag: str  # vLLM's flag: --max-num-seqs
    boolean: bool  # also --no-x, as vLLM's BooleanOptionalAction
    metavar: str
    aliases: tuple[str, ...]
    help: str  # rich markup, the default included


def negative_name(name: str) -> str:
    """The parameter behind a boolean's --no-x form."""
    return f"no_{name}"


def default_text(field: FieldInfo) -> str:
    """The default --help shows for a field: its own default, or the Cli's words where vLLM decides later."""
    from slotune.models.engine_config import cli_info

    given = cli_info(field).default_text
    if given is not None:
        return given
    default = field.default
    if isinstance(default, bool):
        return "on" if default else "off"
    return "none" if default is None else str(default)


def declare(name: str, field: FieldInfo) -> FlagDecl:
    """The option of one field: vLLM's flag name, the Cli's metavar and aliases, the description as help."""
    from slotune.models.engine_config import cli_info, flag_name

    text = escape(field.description or "")
    boolean = field.annotation is bool
    if boolean:
        text += f" Off: {flag_name(negative_name(name))}."
    info = cli_info(field)
    # Written here rather than through show_default, which would print the text in parentheses.
    help_text = f"{text} [dim]\\[default: {escape(default_text(field))}][/dim]"
    return FlagDecl(name, flag_name(name), boolean, info.metavar, info.aliases, help_text)


def derived(config_type: type[EngineConfig]) -> tuple[FlagDecl, ...]:
    """Every field's declaration, from the model."""
    return tuple(declare(name, field) for name, field in config_type.model_fields.items())


def sources_checksum() -> int | None:
    """CRC-32 of the sources the declarations come from; None where they are not files (a zipped install)."""
    try:
        return zlib.crc32(b"".join(path.read_bytes() for path in SOURCES))
    except OSError:
        return None


def saved(table: Path = TABLE) -> tuple[FlagDecl, ...] | None:
    """The saved declarations, or None when the table is missing or was written from other sources."""
    checksum = sources_checksum()
    try:
        data = json.loads(table.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if checksum is None or not isinstance(data, dict) or data.get("sources_crc32") != checksum:
        return None
    return tuple(FlagDecl(**{**item, "aliases": tuple(item["aliases"])}) for item in data["flags"])


def engine_declarations() -> tuple[FlagDecl, ...]:
    """EngineConfig's declarations: the saved ones while current, else derived from the model."""
    table = saved()
    if table is not None:
        return table
    from slotune.models import EngineConfig

    return derived(EngineConfig)


def write(table: Path = TABLE) -> Path:
    """Save EngineConfig's declarations with the checksum of their sources."""
    from slotune.models import EngineConfig

    data: dict[str, Any] = {
        "written_by": WRITE_COMMAND,
        "sources_crc32": sources_checksum(),
        "flags": [asdict(decl) for decl in derived(EngineConfig)],
    }
    table.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return table


if __name__ == "__main__":
    print(f"wrote {write()}")
