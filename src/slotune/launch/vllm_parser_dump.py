"""Write the option strings of the installed vLLM's OpenAI server parser as JSON (run by vLLM's own Python).

This file is executed as a script by the Python of the vLLM installation, never imported by slotune: it
may import only vLLM and the standard library. vLLM moved `make_arg_parser` between releases
(`vllm.entrypoints.openai.cli_args` up to 0.25, `vllm.entrypoints.launchers.cli_args` in 0.32), so
every known home is tried.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

PARSER_MODULES = ("vllm.entrypoints.launchers.cli_args", "vllm.entrypoints.openai.cli_args")


def _make_parser() -> tuple[str, argparse.ArgumentParser]:
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    errors = []
    for name in PARSER_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            errors.append(f"{name}: {exc}")
            continue
        return name, module.make_arg_parser(FlexibleArgumentParser())
    raise SystemExit("no make_arg_parser in " + "; ".join(errors))


def _describe(parser: argparse.ArgumentParser) -> dict[str, dict[str, object]]:
    deprecated: set[argparse.Action] = getattr(parser, "_deprecated", set())
    options: dict[str, dict[str, object]] = {}
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        entry = {
            "dest": action.dest,
            "takes_value": action.nargs != 0,
            "choices": None if action.choices is None else [str(c) for c in action.choices],
            "deprecated": action in deprecated or bool(getattr(action, "deprecated", False)),
        }
        for option in action.option_strings:
            options[option] = entry
    return options


def main(out_path: str) -> None:
    import vllm

    module, parser = _make_parser()
    dump = {"vllm_version": vllm.__version__, "parser_module": module, "options": _describe(parser)}
    # To a file, not stdout: vLLM's own loggers write INFO lines to stdout on import.
    with open(out_path, "w", encoding="utf-8") as out:
        json.dump(dump, out)


if __name__ == "__main__":
    main(sys.argv[1])
