"""Engine options generated from EngineConfig's fields, for every command that takes an engine configuration.

`@engine_options` gives a command one option per EngineConfig field (vLLM's flag name, the field's description
as help, its default shown) plus `--config engine.yaml`, and hands the command one validated EngineConfig as its
`engine` argument: file values first, the flags given on the command line over them. A field the command
declares itself (`model`: the command's own --model) is not generated again; its value goes into the config.
docs/contributing.md shows how a new vLLM flag reaches every such command.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from slotune.cli.engine_flag_table import FlagDecl, derived, engine_declarations, negative_name
from slotune.cli.signature import own_parameters, set_parameters
from slotune.errors import InputError

if TYPE_CHECKING:
    from pydantic import ValidationError
    from pydantic.fields import FieldInfo

    from slotune.models import EngineConfig

ENGINE_PANEL = "Engine flags (vLLM's names)"
CONFIG_PARAM = "engine_config_file"
CONFIG_FLAG = "--config"
CONFIG_HELP = "vLLM-style engine YAML (flag names as keys); flags given here override it."
# Keys of a vLLM config file that configure the API server, not the engine: accepted and ignored.
SERVER_KEYS = frozenset(
    {
        "host",
        "port",
        "served_model_name",
        "api_key",
        "uvicorn_log_level",
        "disable_log_stats",
        "disable_log_requests",
        "enable_log_requests",
        "disable_uvicorn_access_log",
        "trust_remote_code",
        "download_dir",
        "tokenizer",
        "chat_template",
        "allowed_origins",
        "root_path",
        "ssl_keyfile",
        "ssl_certfile",
    }
)

R = TypeVar("R")


def engine_option(decl: FlagDecl) -> list[inspect.Parameter]:
    """The typer option(s) of one field, with None (not given) as the value when absent, so that a --config
    file's value is not overridden by a default; the field's own default is what help shows and what applies.
    vLLM declares every boolean with argparse.BooleanOptionalAction (--x and --no-x): the --no-x form is a
    second option, left out of the option table and named in the help text, so that the table keeps every
    flag name whole at 80 columns."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    if decl.boolean:
        on = typer.Option(False, decl.flag, help=decl.help, show_default=False, rich_help_panel=ENGINE_PANEL)
        off = typer.Option(False, "--no-" + decl.flag[2:], hidden=True)
        return [
            inspect.Parameter(decl.name, keyword, default=on, annotation=bool),
            inspect.Parameter(negative_name(decl.name), keyword, default=off, annotation=bool),
        ]
    # Values reach the config as text: its validators parse them as vLLM's parser does (32k, JSON), and one
    # validation reports every kind of mistake in one style.
    option = typer.Option(
        None,
        decl.flag,
        *decl.aliases,
        metavar=decl.metavar,
        help=decl.help,
        show_default=False,
        rich_help_panel=ENGINE_PANEL,
    )
    return [inspect.Parameter(decl.name, keyword, default=option, annotation=str | None)]


def load_engine_file(
    path: Path, config_type: type[EngineConfig], *, given_as: str = CONFIG_FLAG
) -> dict[str, Any]:
    """A vLLM-style YAML config (`--config engine.yaml`): flag names with dashes or underscores as keys.
    `given_as` names how the command took the file (its --config, or an argument such as deploy's SOURCE)."""
    import logging

    import yaml

    from slotune.catalog._schema import closest_key
    from slotune.models.engine_config import flag_name

    if not path.is_file():
        raise InputError("config", str(path), f"give the path of an engine YAML file as {given_as}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(
            "config", str(path), f"fix the file given as {given_as}: it is not valid YAML ({exc})"
        ) from exc
    if not isinstance(data, dict):
        raise InputError(
            "config", str(path), f"the {given_as} file must map flag names to values: 'max-num-seqs: 256'"
        )
    fields = config_type.model_fields
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).strip().lstrip("-").replace("-", "_")
        if name in SERVER_KEYS:
            logging.getLogger(__name__).info(
                "config %s: %s configures vLLM's API server, not the engine; ignored", path, key
            )
        elif name in fields:
            values[name] = value
        else:
            near = flag_name(closest_key(name, fields))[2:]
            raise InputError(
                f"config {path}: {key}",
                value,
                f"did you mean '{near}'? The {given_as} file takes vLLM engine flag names",
                problem="unknown key",
            )
    return values


def _expectation(error: Any) -> str:
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind == "greater_than":
        return f"a number above {ctx['gt']}"
    if kind == "greater_than_equal":
        return f"a number of at least {ctx['ge']}"
    if kind in ("less_than_equal", "less_than"):
        return f"a number of at most {ctx.get('le', ctx.get('lt'))}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "a whole number"
    if kind in ("float_parsing", "float_type"):
        return "a number"
    if kind == "literal_error":
        return f"one of {ctx['expected']}"
    return "a valid value"


def _as_typed(value: object) -> object:
    """A number given as text is shown as the number (gpu_memory_utilization=1.2, not '1.2')."""
    if isinstance(value, str):
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                pass
    return value


def _input_error(
    exc: ValidationError, fields: dict[str, FieldInfo], given: set[str], path: Path | None, given_as: str
) -> InputError:
    from slotune.models.engine_config import Cli, cli_info, flag_name

    error = exc.errors()[0]
    loc = [str(p) for p in error["loc"]]
    name = loc[0] if loc else "engine_config"
    flag = flag_name(name)
    info = cli_info(fields[name]) if name in fields else Cli()
    expected = _expectation(error) + (f", e.g. {info.example}" if info.example else "")
    if given_as != CONFIG_FLAG and path is not None:
        # The file is the command's only engine input: it has no engine flags to name.
        fix = f"in {path}, {info.fix}" if info.fix else f"set {flag[2:]} in {path} to {expected}"
    else:
        fix = info.fix or f"give {flag} {expected}"
        if path is not None and name not in given:
            fix += f" (the value comes from --config {path})"
    message = error["msg"].removeprefix("Value error, ")
    return InputError(".".join(loc) or name, _as_typed(error.get("input")), fix, problem=message)


def build_engine_config(
    path: Path | None,
    flags: dict[str, Any],
    config_type: type[EngineConfig] | None = None,
    *,
    given_as: str = CONFIG_FLAG,
) -> EngineConfig:
    """File values, overridden by the flags given on the command line (None = not given), validated once.
    `config_type` is EngineConfig unless given (a subclass in a test)."""
    from pydantic import ValidationError

    if config_type is None:
        from slotune.models import EngineConfig

        config_type = EngineConfig
    values = load_engine_file(path, config_type, given_as=given_as) if path is not None else {}
    given = {name: value for name, value in flags.items() if value is not None}
    values.update(given)
    try:
        return config_type.model_validate(values)
    except ValidationError as exc:
        raise _input_error(exc, config_type.model_fields, set(given), path, given_as) from exc


def _flag_values(kwargs: dict[str, Any], decls: list[FlagDecl]) -> dict[str, Any]:
    """Pop the generated options' values out of a command's arguments: one per field, None when absent."""
    values: dict[str, Any] = {}
    for decl in decls:
        value = kwargs.pop(decl.name)
        if decl.boolean:
            off = kwargs.pop(negative_name(decl.name))
            if value and off:
                raise InputError(decl.name, "both", f"give {decl.flag} or --no-{decl.flag[2:]}, not both")
            value = True if value else (False if off else None)
        values[decl.name] = value
    return values


def _engine_options(
    declarations: tuple[FlagDecl, ...], config_type: type[EngineConfig] | None
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        own = own_parameters(command, "engine")
        own_names = {p.name for p in own}
        decls = [decl for decl in declarations if decl.name not in own_names]
        generated = [param for decl in decls for param in engine_option(decl)]
        config = inspect.Parameter(
            CONFIG_PARAM,
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(None, CONFIG_FLAG, help=CONFIG_HELP, rich_help_panel=ENGINE_PANEL),
            annotation=Path | None,
        )
        shared = [decl.name for decl in declarations if decl.name in own_names]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> R:
            flags = _flag_values(kwargs, decls)
            flags.update({name: kwargs[name] for name in shared})
            engine = build_engine_config(kwargs.pop(CONFIG_PARAM), flags, config_type)
            return command(**kwargs, engine=engine)

        set_parameters(wrapper, [*own, *generated, config])
        return wrapper

    return decorate


def engine_options_for(config_type: type[EngineConfig]) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """`engine_options` for a configuration type (a subclass of EngineConfig in a test)."""
    return _engine_options(derived(config_type), config_type)


# EngineConfig's options, from the saved declarations while they are current (slotune.cli.engine_flag_table):
# --help then imports neither pydantic nor the model.
engine_options = _engine_options(engine_declarations(), None)
