"""The layering of STYLE.md holds: imports point down, and the simulator stands alone."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import gateway

PACKAGE = Path(gateway.__file__).parent

# Lowest first; a module may import its own layer or any lower one.
LAYERS = [
    {"errors", "messages", "settings", "redaction"},
    {"telemetry", "ratelimit", "idempotency"},
    {"vendor"},
    {"commands", "poller", "webhooks"},
    {"app"},
]


def _layer(top: str) -> int | None:
    return next((i for i, names in enumerate(LAYERS) if top in names), None)


def _gateway_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("gateway")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gateway"):
            found.add(node.module)
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    """No module imports a higher layer; the simulator imports only itself."""
    parts = path.relative_to(PACKAGE).parts
    top = parts[0].removesuffix(".py") if len(parts) > 1 or parts[0] != "__init__.py" else ""
    for module in _gateway_imports(path):
        target = module.split(".")[1] if "." in module else ""
        if top == "simulator":
            assert target == "simulator", f"the simulator must not import {module}"
            continue
        assert target != "simulator" or top == "app", f"{path.name} imports the simulator"
        mine, theirs = _layer(top), _layer(target)
        if mine is not None and theirs is not None:
            assert theirs <= mine, f"{top} (layer {mine}) imports {module} (layer {theirs})"


@pytest.mark.parametrize(
    "name",
    sorted(
        m.name
        for m in pkgutil.walk_packages(gateway.__path__, "gateway.")
        if not m.name.endswith("__main__")
    ),
)
def test_public_surface_is_declared(name: str) -> None:
    """Every module declares `__all__`, and each name in it exists."""
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ names missing {item}"
