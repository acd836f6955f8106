"""Signature rewriting shared by the option decorators (`engine_options`, `price_options`, the load, client and
launch option groups): a decorator takes one parameter away from the command (the value it builds) and gives
typer its own options instead."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, get_type_hints

R = TypeVar("R")


def own_parameters(command: Callable[..., Any], injected: str) -> list[inspect.Parameter]:
    """The command's parameters, annotations resolved (typer reads them), less the one the decorator supplies."""
    hints = get_type_hints(command)
    return [
        p.replace(annotation=hints.get(p.name, p.annotation))
        for p in inspect.signature(command).parameters.values()
        if p.name != injected
    ]


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
