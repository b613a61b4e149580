"""One version: pyproject's (what `gateway --version` and the wheel say) is the package's
``__version__`` (what the AsyncAPI document and the vendor User-Agent say)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import gateway

ROOT = Path(__file__).resolve().parents[2]


def test_package_version_is_the_project_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert gateway.__version__ == project["version"]
