"""`gateway schemas`: JSON Schemas of the wire contracts and an AsyncAPI document.

Writes ``schemas/``: ``envelope.schema.json``, ``commands/<Type>.schema.json`` (each command's
payload), ``events/result.schema.json``, ``events/<name>.schema.json`` (each poller
change event), ``asyncapi.json`` (:mod:`gateway.app.asyncapi`) and ``openapi.json`` (the
webhook ingress's HTTP API). ``--check`` fails on drift.

A built wheel carries a copy of the repository's ``schemas/`` as package data,
``gateway/published_schemas/`` (pyproject.toml, ``[tool.hatch.build.targets.wheel]``): an
installed ``gateway schemas --check`` run where there is no ``schemas/`` checks that copy
against the installed models (:func:`schemas_to_check`).
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, NamedTuple

from gateway.app.asyncapi import asyncapi_document, request_model
from gateway.app.contract_doc import CONTRACT_DOC, render_contract_doc
from gateway.messages.envelope import CommandEnvelope
from gateway.messages.events import CHANGE_EVENTS, ResultEvent
from gateway.vendor_api import BY_COMMAND
from gateway.webhooks.openapi import openapi_document

__all__ = [
    "CONTRACT_DOC",
    "DEFAULT_DIR",
    "PACKAGED_SCHEMAS",
    "SchemaCopy",
    "check_docs",
    "check_schemas",
    "in_repository",
    "packaged_schemas",
    "render_docs",
    "render_schemas",
    "schemas_to_check",
    "write_docs",
    "write_schemas",
]

# Where a built wheel keeps its copy of schemas/, inside the ``gateway`` package.
PACKAGED_SCHEMAS = "published_schemas"
# Where `gateway schemas` writes, and what --check checks when it exists.
DEFAULT_DIR = "schemas"


def _dump(schema: Any) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@functools.cache
def _asyncapi() -> dict[str, Any]:
    """The AsyncAPI document, built once per process (a couple of seconds: every model's
    schema, every example validated) for the schemas and the docs; read, never changed. The
    docs render from it in the code's order (fields as declared), not the file's sorted one."""
    return asyncapi_document()


def render_schemas() -> dict[str, str]:
    """Every file of ``schemas/`` by relative path."""
    files = {
        "envelope.schema.json": _dump(CommandEnvelope.model_json_schema()),
        "events/result.schema.json": _dump(ResultEvent.model_json_schema()),
        **{
            f"events/{name}.schema.json": _dump(model.model_json_schema())
            for name, model in CHANGE_EVENTS.items()
        },
        "asyncapi.json": _dump(_asyncapi()),
        "openapi.json": _dump(openapi_document()),
    }
    for command_type, endpoint in sorted(BY_COMMAND.items()):
        schema = request_model(command_type, endpoint).model_json_schema()
        schema["title"] = command_type
        schema["description"] = (
            f"Payload of {command_type} ({endpoint.kind}, vendor {endpoint.path})."
        )
        files[f"commands/{command_type}.schema.json"] = _dump(schema)
    return files


def render_docs() -> dict[str, str]:
    """The documents rendered from the schemas, by path relative to the repository."""
    return {CONTRACT_DOC: render_contract_doc(_asyncapi())}


def in_repository(cwd: Path | None = None) -> bool:
    """Whether ``cwd`` (default: the current directory) is the repository's root: there the
    docs are written and checked with the schemas; an installed gateway has no docs/."""
    root = cwd or Path()
    return (
        (root / DEFAULT_DIR).is_dir()
        and (root / "docs").is_dir()
        and (root / "pyproject.toml").is_file()
    )


def check_docs(root: Path) -> list[str]:
    """The rendered documents under ``root`` (the repository) that are missing or stale."""
    return [
        rel
        for rel, text in render_docs().items()
        if not (root / rel).is_file() or (root / rel).read_text(encoding="utf-8") != text
    ]


def write_docs(root: Path) -> list[str]:
    """Write the rendered documents under ``root`` that changed; returns their paths."""
    return _write_changed(root, render_docs())


def write_schemas(root: Path) -> list[str]:
    """Write the files that changed; returns their paths."""
    return _write_changed(root, render_schemas())


def _write_changed(root: Path, files: dict[str, str]) -> list[str]:
    changed = []
    for rel, text in files.items():
        path = root / rel
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(rel)
    return changed


def _at(root: Traversable, rel: str) -> Traversable:
    return functools.reduce(operator.truediv, rel.split("/"), root)


def _json_files(root: Traversable, prefix: str = "") -> Iterator[str]:
    """Relative paths (``/``-separated) of the JSON files under ``root``."""
    for child in root.iterdir():
        if child.is_dir():
            yield from _json_files(child, f"{prefix}{child.name}/")
        elif child.name.endswith(".json"):
            yield prefix + child.name


def check_schemas(root: Traversable) -> list[str]:
    """Paths whose committed content differs from the code (missing or stale), plus strays.

    ``root`` is a directory (a :class:`~pathlib.Path`) or the packaged copy (a resource)."""
    expected = render_schemas()
    drift = [
        rel
        for rel, text in expected.items()
        if not _at(root, rel).is_file() or _at(root, rel).read_text(encoding="utf-8") != text
    ]
    if not root.is_dir():
        return drift
    return drift + sorted(rel for rel in _json_files(root) if rel not in expected)


def packaged_schemas() -> Traversable | None:
    """The copy of ``schemas/`` an installed wheel carries; None in a source tree or an
    editable install (the repository's ``schemas/`` is the one there)."""
    copy = resources.files("gateway").joinpath(PACKAGED_SCHEMAS)
    return copy if copy.is_dir() else None


class SchemaCopy(NamedTuple):
    """A copy of the schemas that ``--check`` holds against the code."""

    root: Traversable
    shown: str  # how the messages name it: the path given or found
    packaged: bool  # the copy a wheel carries (gateway/published_schemas/)


def schemas_to_check(out: str | None) -> SchemaCopy:
    """What ``gateway schemas --check`` checks: ``--out`` if given; else ``./schemas`` if it
    exists (in the repository); else the copy packaged with the installed gateway; else
    ``./schemas`` all the same (everything reported missing)."""
    if out is not None:
        return SchemaCopy(Path(out), out, packaged=False)
    if Path(DEFAULT_DIR).is_dir():
        return SchemaCopy(Path(DEFAULT_DIR), DEFAULT_DIR, packaged=False)
    copy = packaged_schemas()
    if copy is not None:
        return SchemaCopy(copy, str(copy), packaged=True)
    return SchemaCopy(Path(DEFAULT_DIR), DEFAULT_DIR, packaged=False)
