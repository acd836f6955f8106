"""Signature rewriting shared by the option decorators (`engine_options`, `price_options`): a decorator takes one
parameter away from the command (the value it builds) and gives typer its own options instead."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, get_type_hints


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
