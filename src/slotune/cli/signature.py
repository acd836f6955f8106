"""Signature rewriting shared by the option decorators (`engine_options`, `price_options`, the load, client and
launch option groups): a decorator takes one parameter away from the command (the value it builds) and gives
typer its own options instead."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any, TypeVar, get_type_hints

R = TypeVar("R")


def own_parameters(command: Callable[..., Any], injected: str) -> list[inspect.Parameter]:
    """The command's parameters, annotations resolved (typer reads them), less the one the decorator supplies.

    A keyword-only parameter without a default is a value that a decorator supplies (`engine`, `prices`), never
    an option: its annotation is left as written, so that the command may name its type under TYPE_CHECKING only
    and --help need not import the model (start-up time: benchmarks/cli_startup.py)."""
    params = [p for p in inspect.signature(command).parameters.values() if p.name != injected]
    read = {p.name: p.annotation for p in params if not _supplied(p)}
    home = getattr(inspect.unwrap(command), "__globals__", {})
    hints = get_type_hints(SimpleNamespace(__annotations__=read), globalns=home)
    return [p.replace(annotation=hints[p.name]) if p.name in hints else p for p in params]


def _supplied(param: inspect.Parameter) -> bool:
    return param.kind is inspect.Parameter.KEYWORD_ONLY and param.default is inspect.Parameter.empty


def set_parameters(wrapper: Callable[..., Any], params: Sequence[inspect.Parameter]) -> None:
    """Make typer see `params` as the wrapper's parameters."""
    wrapper.__signature__ = inspect.Signature(list(params))  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}


# name -> (annotation, typer.Option(...)): the options of one group, declared once.
OptionTable = dict[str, tuple[Any, Any]]


def option_group(
    injected: str, options: OptionTable, build: Callable[..., Any]
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """A decorator giving a command the `options` (declared once, shared by commands) in place of its parameter
    `injected`, which receives `build(**values of those options)`."""

    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        own = own_parameters(command, injected)
        added = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=hint)
            for name, (hint, option) in options.items()
        ]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> R:
            values = {name: kwargs.pop(name) for name in options}
            return command(**kwargs, **{injected: build(**values)})

        set_parameters(wrapper, [*own, *added])
        return wrapper

    return decorate
