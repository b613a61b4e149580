"""The layering holds: imports point down, the simulator stands alone, and no
module imports itself through others (no import cycle)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import gateway

PACKAGE = Path(gateway.__file__).parent

# Lowest first; a module may import its own layer or any lower one.
LAYERS = [
    {"errors", "messages", "settings", "redaction"},
    {"telemetry", "ratelimit", "idempotency", "retry"},
    {"vendor_api"},
    {"commands", "poller", "webhooks"},
    # The typed producer (client) uses the app's Kafka helpers, and `gateway send` uses it.
    {"app", "client"},
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


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements run on import: the module's, and those of its top-level ``if`` and
    ``try`` blocks, except the body of ``if TYPE_CHECKING``."""
    for node in body:
        if isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _top_level(node.body)
            yield from _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _top_level(block)
        else:
            yield node


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """module -> the modules of ``package`` (under ``root``) it imports when it is imported.

    ``from X import Y`` is an edge to ``X.Y`` when that is a module (X itself is then only
    being initialised, which Python allows), else to ``X``; relative imports are resolved."""
    paths = {_module_name(root, p): p for p in (root / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in _top_level(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = here.split(".")
                    base = parts[: len(parts) - (node.level - 1)]
                    source = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    source = node.module or ""
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    found.add(sub if sub in paths else source)
        graph[name] = {t for t in found if t in paths and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (``[a, b, ..., a]``), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_no_import_cycle() -> None:
    """No gateway module imports itself through others (``if TYPE_CHECKING`` imports aside):
    a circle works in one import order only and breaks when the other end is imported first."""
    cycle = find_cycle(import_graph(PACKAGE.parent, "gateway"))
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_check_finds_a_cycle(tmp_path: Path) -> None:
    """The check above is not vacuous: a circle through a relative import and a
    ``from package import name`` is found; a TYPE_CHECKING import, and a submodule imported
    from a package being initialised, are no circle."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from pkg.a import A\n")
    (pkg / "a.py").write_text("from pkg import b\nA = 1\n")
    (pkg / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import A\n"
    )
    assert find_cycle(import_graph(tmp_path, "pkg")) is None
    (pkg / "b.py").write_text("from .c import C\n")
    (pkg / "c.py").write_text("from pkg import A\nC = A\n")
    assert find_cycle(import_graph(tmp_path, "pkg")) == ["pkg", "pkg.a", "pkg.b", "pkg.c", "pkg"]
