"""slotune.models and slotune.catalog import each name from its module on first use: the lists stay complete."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "slotune"


def _type_checking_imports(package: str) -> dict[str, str]:
    """Name -> module, from the package __init__'s `if TYPE_CHECKING:` block (what type checkers see)."""
    tree = ast.parse((SRC / package / "__init__.py").read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.module is not None
                for alias in stmt.names:
                    found[alias.name] = stmt.module.rsplit(".", 1)[-1]
    return found


@pytest.mark.parametrize("package", ["models", "catalog"])
def test_every_exported_name_resolves_from_its_declared_module(package: str) -> None:
    module = importlib.import_module(f"slotune.{package}")
    homes = module._HOMES
    assert homes == _type_checking_imports(package)
    assert sorted(module.__all__) == sorted(homes)
    for name, home in homes.items():
        assert getattr(module, name) is getattr(importlib.import_module(f"slotune.{package}.{home}"), name)
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = module.no_such_name


def test_one_model_does_not_import_the_others() -> None:
    code = (
        "import sys; from slotune.models import EngineConfig; "
        "print([m for m in sys.modules if m.startswith('slotune.models.') or m == 'numpy'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(ast.literal_eval(out))
    assert "slotune.models.engine_config" in loaded
    assert not loaded & {"slotune.models.reports", "slotune.models.records", "slotune.models.capacity_plan"}
    assert "numpy" not in loaded
