"""Check vLLM flags against the argument parser of the vLLM that will run them, before it starts.

A server start takes a minute or more; a flag this vLLM removed (`--swap-space`) or a misspelt one would
only fail after its imports. The parser's options come from running `vllm_parser_dump.py` with the
installation's own Python once, cached per installation (path, version) under the user's cache folder.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slotune.errors import InputError
from slotune.files import cache_dir

log = logging.getLogger(__name__)

DUMP_SCRIPT = Path(__file__).with_name("vllm_parser_dump.py")
DUMP_TIMEOUT_S = 300.0
LOCATE_TIMEOUT_S = 60.0

# Flags older guides still use, with what replaced them (VLLM_FACTS.md).
REMOVED_FLAGS = {
    "--swap-space": "removed with vLLM's V0 engine: V1 recomputes preempted requests instead of swapping",
    "--num-scheduler-steps": "removed with vLLM's V0 engine (multi-step scheduling)",
    "--disable-log-requests": "replaced by --enable-log-requests / --no-enable-log-requests",
    "--task": "replaced by --runner and --convert",
    "--use-v2-block-manager": "removed with vLLM's V0 engine",
}


@dataclass(frozen=True, slots=True)
class OptionSpec:
    dest: str
    takes_value: bool
    choices: tuple[str, ...] | None = None
    deprecated: bool = False


@dataclass(frozen=True, slots=True)
class ParserSpec:
    """The option strings of one vLLM installation's OpenAI server parser."""

    vllm_version: str
    options: dict[str, OptionSpec]

    @classmethod
    def from_dump(cls, dump: dict[str, Any]) -> ParserSpec:
        options = {
            name: OptionSpec(
                dest=str(entry["dest"]),
                takes_value=bool(entry["takes_value"]),
                choices=None if entry.get("choices") is None else tuple(entry["choices"]),
                deprecated=bool(entry.get("deprecated", False)),
            )
            for name, entry in dump["options"].items()
        }
        return cls(vllm_version=str(dump["vllm_version"]), options=options)


def default_cache_dir() -> Path:
    return cache_dir()


_LOCATE = (
    "import importlib.util as u, sys; s = u.find_spec('vllm'); "
    "sys.stdout.write(s.origin if s and s.origin else '')"
)


def _child_env(env: Mapping[str, str] | None) -> dict[str, str]:
    return {**os.environ, "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", **(env or {})}


def locate_vllm_package(python: Path, env: Mapping[str, str] | None = None) -> Path:
    """The vLLM package folder that `python` imports (found without importing vLLM, which takes seconds)."""
    try:
        proc = subprocess.run(
            [str(python), "-c", _LOCATE],
            capture_output=True,
            text=True,
            timeout=LOCATE_TIMEOUT_S,
            env=_child_env(env),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(
            "vllm-python", str(python), "give the Python of a vLLM installation", problem=str(exc)
        ) from exc
    origin = proc.stdout.strip()
    if proc.returncode != 0 or not origin:
        raise InputError(
            "vllm-python",
            str(python),
            "give the Python of an environment where `import vllm` works (e.g. .venv-vllm/bin/python)",
            problem="vLLM is not installed there",
        )
    return Path(origin).parent


_VERSION_LINE = re.compile(r"^__version__\s*=.*?['\"]([^'\"]+)['\"]", re.MULTILINE)


def installed_version(package_dir: Path) -> str:
    """vLLM's version from its generated `_version.py` ("unknown" where a source checkout has none)."""
    try:
        text = (package_dir / "_version.py").read_text(encoding="utf-8")
    except OSError:
        return "unknown"
    match = _VERSION_LINE.search(text)
    return match.group(1) if match else "unknown"


def _cache_path(cache_dir: Path, package_dir: Path, version: str) -> Path:
    stamp = package_dir / "_version.py"
    mtime = stamp.stat().st_mtime_ns if stamp.exists() else 0
    key = hashlib.sha256(f"{package_dir.resolve()}|{version}|{mtime}".encode()).hexdigest()[:16]
    return cache_dir / f"vllm-parser-{version}-{key}.json"


def dump_parser(python: Path, out_path: Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Run the dump script with the installation's Python; its JSON goes to `out_path`."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(f".{os.getpid()}.tmp")
    try:
        proc = subprocess.run(
            [str(python), str(DUMP_SCRIPT), str(tmp)],
            capture_output=True,
            text=True,
            timeout=DUMP_TIMEOUT_S,
            env=_child_env(env),
        )
        if proc.returncode != 0 or not tmp.exists():
            tail = (proc.stderr or proc.stdout)[-2000:]
            raise InputError(
                "vllm-python",
                str(python),
                "give the Python of a working vLLM installation",
                problem=f"reading vLLM's argument parser failed: {tail.strip()}",
            )
        dump: dict[str, Any] = json.loads(tmp.read_text(encoding="utf-8"))
        tmp.replace(out_path)  # atomic: parallel launches never read half a file
        return dump
    finally:
        tmp.unlink(missing_ok=True)


def load_parser_spec(
    python: Path, *, cache_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> ParserSpec:
    """The parser of the vLLM that `python` runs (with `env` on top of ours), from the cache or dumped once
    (10-20 s) and cached."""
    package_dir = locate_vllm_package(python, env)
    version = installed_version(package_dir)
    path = _cache_path(cache_dir or default_cache_dir(), package_dir, version)
    if path.exists():
        try:
            return ParserSpec.from_dump(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError):
            log.warning("ignoring an unreadable vLLM parser cache %s", path)
    log.info("reading the argument parser of vLLM %s (%s) once", version, package_dir)
    return ParserSpec.from_dump(dump_parser(python, path, env))


def _normalize(token: str) -> tuple[str, str | None, bool]:
    """(option name as vLLM's FlexibleArgumentParser sees it, inline value, dotted sub-key given)."""
    key, eq, value = token.partition("=")
    inline = value if eq else None
    if key.startswith("--"):
        name, dot, _ = key[2:].partition(".")
        return "--" + name.replace("_", "-"), inline, bool(dot)
    if key.startswith("-O"):  # -O3, -O=3, -O 3: vLLM's shorthand for --optimization-level
        return "--optimization-level", (key[2:] or inline), False
    return key, inline, False


def _unknown_flag(name: str, spec: ParserSpec) -> InputError:
    problem = f"vLLM {spec.vllm_version} has no flag {name}"
    if name in REMOVED_FLAGS:
        problem += f" ({REMOVED_FLAGS[name]})"
    close = difflib.get_close_matches(name, list(spec.options), n=1, cutoff=0.6)
    fix = f"use {close[0]}, the closest flag it accepts" if close else "remove it"
    if close and name in REMOVED_FLAGS:
        fix = f"remove it (the closest flag it accepts is {close[0]})"
    return InputError("vllm flag", name, fix, problem=problem)


def _bad_choice(name: str, value: str, option: OptionSpec, spec: ParserSpec) -> InputError:
    choices = option.choices or ()
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.5)
    fix = f"use one of {', '.join(choices)}" + (f" (closest: {close[0]})" if close else "")
    return InputError(name, value, fix, problem=f"vLLM {spec.vllm_version} does not accept this value")


def check_flags(argv: Sequence[str], spec: ParserSpec) -> list[str]:
    """Raise InputError for the first flag or choice this vLLM would refuse; return deprecation warnings.

    `argv` is the server's arguments (no program); bare tokens are values or the positional model.
    """
    warnings: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if not token.startswith("-") or token == "-":
            continue
        name, value, dotted = _normalize(token)
        option = spec.options.get(name)
        if option is None:
            raise _unknown_flag(name, spec)
        if option.deprecated:
            warnings.append(f"vLLM {spec.vllm_version} deprecates {name}")
        if not option.takes_value:
            if value is not None:
                raise InputError(name, value, f"write {name} alone: it takes no value")
            continue
        if value is None and not dotted:
            if i >= len(argv) or argv[i].startswith("--"):
                raise InputError(name, None, f"give {name} a value")
            value = argv[i]
            i += 1
        if option.choices is not None and value is not None and not dotted and value not in option.choices:
            raise _bad_choice(name, value, option, spec)
    return warnings
