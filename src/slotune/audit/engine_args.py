"""vLLM engine flags as an audit reads them: a command line (`vllm serve M --flags`, the OpenAI server module, a
bare flag list) or a vLLM YAML config, into an EngineConfig plus every flag as given.

Unlike the engine options of `simulate` or `bench`, a flag slotune does not model, or one vLLM removed, is not
an error here: it is kept, with where it came from, for the rules to judge. Only a value that cannot mean
anything (`--max-model-len banana`) is bad input.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from slotune.errors import InputError
from slotune.launch.flags import ParserSpec
from slotune.models import EngineConfig
from slotune.models.engine_config import cli_info, flag_name

# Fields whose flag takes several values (`--cudagraph-capture-sizes 1 2 4`).
_MANY_VALUES = frozenset({"cudagraph_capture_sizes"})
_PROGRAMS = ("vllm.entrypoints.openai.api_server", "vllm.entrypoints.cli.main")


@dataclass(frozen=True, slots=True)
class GivenFlag:
    """One flag as given: its name as vLLM normalizes it (`--max-model-len`), its value (None: a switch)."""

    name: str
    value: str | None
    position: int  # index in the argv


@dataclass(frozen=True, slots=True)
class EngineArgs:
    """The engine configuration and the raw flags it was read from."""

    source: str  # "--engine-args", "--config vllm.yaml", "deploy.yaml: Deployment/vllm container vllm"
    config: EngineConfig
    argv: tuple[str, ...]
    flags: tuple[GivenFlag, ...] = ()
    # Flags that are not EngineConfig fields (server flags, flags slotune does not model, removed ones).
    other: tuple[GivenFlag, ...] = ()
    # The fields the flags set (the rest are vLLM's defaults).
    given_fields: frozenset[str] = field(default_factory=frozenset)

    def flag(self, name: str) -> GivenFlag | None:
        return next((f for f in self.flags if f.name == name), None)


def _field_flags() -> dict[str, str]:
    """Every spelling of an EngineConfig flag -> its field (`--max-model-len`, `-tp`, `--no-enforce-eager`)."""
    out: dict[str, str] = {}
    for name, info in EngineConfig.model_fields.items():
        out[flag_name(name)] = name
        for alias in cli_info(info).aliases:
            out[alias] = name
        if info.annotation is bool:
            out["--no-" + flag_name(name)[2:]] = name
    return out


_FIELD_FLAGS = _field_flags()


def strip_program(argv: Sequence[str]) -> tuple[list[str], str | None]:
    """(the flags, the positional model) of `vllm serve M ...`, `python -m <server module> ...` or bare flags."""
    tokens = list(argv)
    for i, token in enumerate(tokens):
        if token == "serve" and i > 0 and tokens[i - 1].rsplit("/", 1)[-1] in ("vllm", "vllm.exe"):
            rest = tokens[i + 1 :]
            if rest and not rest[0].startswith("-"):
                return rest[1:], rest[0]
            return rest, None
        if token in _PROGRAMS and i > 0 and tokens[i - 1] == "-m":
            return tokens[i + 1 :], None
    return tokens, None


def normalize_flag(token: str) -> tuple[str, str | None]:
    """(flag name as vLLM's parser sees it, inline value): `--max_model_len=8k` -> (`--max-model-len`, `8k`);
    `-O0` -> (`--optimization-level`, `0`); a dotted sub-key keeps its dot (`--compilation-config.mode`)."""
    key, eq, value = token.partition("=")
    inline = value if eq else None
    if key.startswith("--"):
        return "--" + key[2:].replace("_", "-"), inline
    if key.startswith("-O") and key != "-O":
        return "--optimization-level", (key[2:] or inline)
    if key == "-O":
        return "--optimization-level", inline
    return key, inline


def _takes_value(name: str, parser: ParserSpec | None) -> bool | None:
    """True/False where known (an EngineConfig field, or the installed vLLM's parser); None: guess."""
    field_name = _FIELD_FLAGS.get(name)
    if field_name is not None:
        return EngineConfig.model_fields[field_name].annotation is not bool
    base = name.split(".", 1)[0]
    if parser is not None and base in parser.options:
        return parser.options[base].takes_value or "." in name
    return None


def split_flags(argv: Sequence[str], parser: ParserSpec | None = None) -> list[GivenFlag]:
    """The flags of an argv with their values; a bare token after a flag of unknown kind is its value."""
    flags: list[GivenFlag] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        position = i
        i += 1
        if not token.startswith("-") or token == "-":
            continue
        name, value = normalize_flag(token)
        if value is None:
            takes = _takes_value(name, parser)
            if (takes or takes is None) and i < len(argv) and not argv[i].startswith("--"):
                value = argv[i]
                i += 1
                if _FIELD_FLAGS.get(name) in _MANY_VALUES:
                    while i < len(argv) and not argv[i].startswith("-"):
                        value += "," + argv[i]
                        i += 1
        flags.append(GivenFlag(name, value, position))
    return flags


def _field_values(flags: Sequence[GivenFlag]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for flag in flags:
        name = _FIELD_FLAGS[flag.name]
        if EngineConfig.model_fields[name].annotation is bool:
            values[name] = not flag.name.startswith("--no-")
        else:
            values[name] = flag.value
    return values


def engine_args_from_argv(
    argv: Sequence[str], source: str, *, parser: ParserSpec | None = None, model: str | None = None
) -> EngineArgs:
    """Read an argv (with or without its program) into an EngineConfig and the flags as given."""
    tokens, positional = strip_program(argv)
    flags = split_flags(tokens, parser)
    known = [f for f in flags if f.name in _FIELD_FLAGS]
    values = _field_values(known)
    model_name = positional or values.get("model") or model or ""
    values["model"] = model_name
    try:
        config = EngineConfig.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "engine"
        raise InputError(
            f"{source}: {flag_name(name)}",
            error.get("input"),
            f"correct {flag_name(name)} in {source} ({error['msg'].removeprefix('Value error, ')})",
            problem="vLLM would refuse this value",
        ) from exc
    return EngineArgs(
        source=source,
        config=config,
        argv=tuple(tokens),
        flags=tuple(flags),
        other=tuple(f for f in flags if f.name not in _FIELD_FLAGS),
        given_fields=frozenset(_FIELD_FLAGS[f.name] for f in known) | ({"model"} if model_name else set()),
    )


def engine_args_from_text(text: str, source: str = "--engine-args", **kwargs: Any) -> EngineArgs:
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise InputError(
            source, text, "quote the engine arguments as a shell would", problem=str(exc)
        ) from exc
    return engine_args_from_argv(argv, source, **kwargs)


def argv_from_config(data: Mapping[str, Any]) -> list[str]:
    """A vLLM YAML config (`max-model-len: 8192`, `enforce-eager: true`) as the flags it stands for."""
    argv: list[str] = []
    for key, value in data.items():
        flag = "--" + str(key).strip().lstrip("-").replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is False:
            argv.append("--no-" + flag[2:])
        elif value is None:
            continue
        elif isinstance(value, dict):
            argv.append(f"{flag}={json.dumps(value)}")
        elif isinstance(value, list):
            argv.append(f"{flag}={','.join(str(v) for v in value)}")
        else:
            argv.append(f"{flag}={value}")
    return argv


def engine_args_from_config_file(path: Path, **kwargs: Any) -> EngineArgs:
    source = f"--config {path}"
    if not path.is_file():
        raise InputError("--config", str(path), "give the path of a vLLM YAML config file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError("--config", str(path), "give a valid YAML file", problem=str(exc)) from exc
    if not isinstance(data, dict):
        raise InputError(
            "--config", str(path), "the file must map vLLM flag names to values: 'max-model-len: 8192'"
        )
    model = data.pop("model", None)
    return engine_args_from_argv(
        argv_from_config(data), source, model=str(model) if model else None, **kwargs
    )


_OFF_VALUES = ("0", "O0", "NONE")
_DOTTED_MODE = ("--compilation-config.mode", "--compilation-config.level", "-cc.mode", "-cc.level")


def _config_mode_off(text: str) -> bool:
    """A --compilation-config value (JSON, or vLLM's bare level) whose mode (older: level) is 0."""
    if text in ("0",):
        return True
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(parsed, dict) and any(parsed.get(k) in (0, "NONE") for k in ("mode", "level"))


def compilation_off(args: EngineArgs) -> str | None:
    """The flag that turns torch.compile off (and with it CUDA graphs), as given; None when compilation is on.

    vLLM 0.25-0.32: `-O0` / `--optimization-level 0`, or a compilation config whose `mode` (older: `level`) is
    0 (CompilationMode.NONE)."""
    for flag in args.flags:
        value = (flag.value or "").strip()
        if flag.name == "--optimization-level" and value in _OFF_VALUES:
            return f"{flag.name} {value}"
        if flag.name in _DOTTED_MODE and value in _OFF_VALUES:
            return f"{flag.name}={value}"
        if flag.name in ("--compilation-config", "-cc") and _config_mode_off(value):
            return f"{flag.name} {value}"
    return None
