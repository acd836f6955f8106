"""Typer's help renderer, imported without the two rich modules slotune's help never uses.

typer.rich_utils (the panels of every --help) imports rich.markdown (markdown_it, pygments) and rich.traceback
at module level: about 50 ms of a 0.25 s `--help` on the 2-core development VM (benchmarks/cli_startup.py).
It uses them only for `rich_markup_mode="markdown"` (slotune's help is rich markup) and for pretty tracebacks
(slotune turns them off). `import_help_renderer` imports it with stand-ins for the two names it takes from those
modules; a stand-in imports the real class the first time it is used, so both still work. The stand-in modules
are in sys.modules only while typer.rich_utils is imported: any other `import rich.markdown` gets the real one.
tests/cli/test_rich_help.py checks all of this, and that the help text is what typer renders itself.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

# module -> the names typer.rich_utils imports from it
DEFERRED = {"rich.markdown": ("Markdown",), "rich.traceback": ("Traceback",)}


class _Deferred(type):
    """A class standing in for `home.name`: calls, attributes and isinstance go to the real class."""

    home: str

    def real(cls) -> Any:
        return getattr(importlib.import_module(cls.home), cls.__name__)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.real()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        # Introspection (typing, copy) probing for optional dunders must not import the real module.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(cls.real(), name)

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, cls.real())


def _stand_in(home: str, names: tuple[str, ...]) -> types.ModuleType:
    module = types.ModuleType(home)
    for name in names:
        setattr(module, name, _Deferred(name, (), {"home": home}))
    return module


def import_help_renderer() -> None:
    """Import typer.rich_utils with the stand-ins, unless it or the real modules are loaded already."""
    if "typer.rich_utils" in sys.modules:
        return
    stand_ins = {home: _stand_in(home, names) for home, names in DEFERRED.items() if home not in sys.modules}
    sys.modules.update(stand_ins)
    try:
        importlib.import_module("typer.rich_utils")
    except ImportError:
        pass  # a typer that takes more from these modules: it imports them itself when it renders help
    finally:
        for home, module in stand_ins.items():
            if sys.modules.get(home) is module:
                del sys.modules[home]
