"""The built wheel works outside the repository: `uv build`, a fresh venv elsewhere, the CLI.

The wheel is built with the project's uv (``.cache/tools/bin/uv``, else uv on PATH), installed
into a virtualenv in a temporary folder (dependencies from PyPI through uv's cache, held to the
versions of uv.lock), and its ``gateway`` script is run from a temporary working directory: no
``schemas/``, no ``gateway/`` source tree, nothing of the repository on ``sys.path``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]

# Building, and installing the dependencies on a cold uv cache, can take minutes; on a warm
# cache the whole module takes well under one.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def _uv() -> str:
    project_uv = ROOT / ".cache" / "tools" / "bin" / "uv"
    if project_uv.is_file():
        return str(project_uv)
    found = shutil.which("uv")
    assert found, "no uv: `make install` puts it in .cache/tools/bin (or put uv on PATH)"
    return found


def _env() -> dict[str, str]:
    """This environment without what would point the children back at the repository or
    change what the gateway renders (GATEWAY_* settings)."""
    dropped = ("GATEWAY_", "PYTHON", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "CONDA_PREFIX")
    return {k: v for k, v in os.environ.items() if not k.startswith(dropped)}


def _run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own tools and script
        args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def _ok(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    proc = _run(args, cwd, timeout)
    assert proc.returncode == 0, f"{args} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
    return proc


@dataclass(frozen=True)
class Installed:
    wheel: Path
    gateway: Path  # the venv's console script
    python: Path
    cwd: Path  # an empty folder outside the repository


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel, built and installed into a fresh venv outside the repository."""
    base = tmp_path_factory.mktemp("wheel")
    assert not base.is_relative_to(ROOT)
    uv = _uv()
    dist = base / "dist"
    _ok([uv, "build", "--wheel", "--out-dir", str(dist)], cwd=ROOT)
    (wheel,) = dist.glob("*.whl")
    # The runtime dependencies at the versions of uv.lock (the dev extras stay out), so the
    # schemas the installed models render are the ones the repository's tests see.
    constraints = base / "constraints.txt"
    export = [uv, "export", "--frozen", "--no-hashes", "--no-emit-project", "--quiet"]
    _ok([*export, "--output-file", str(constraints)], cwd=ROOT)
    venv = base / "venv"
    _ok([uv, "venv", "--quiet", "--python", "python3.11", str(venv)], cwd=base)
    python = venv / "bin" / "python"
    install = [uv, "pip", "install", "--quiet", "--python", str(python)]
    _ok([*install, "--constraint", str(constraints), str(wheel)], cwd=base)
    cwd = base / "elsewhere"
    cwd.mkdir()
    return Installed(wheel, venv / "bin" / "gateway", python, cwd)


def test_wheel_carries_the_spec_and_the_schemas(installed: Installed) -> None:
    """The vendor spec and every published schema are package data; nothing else of the
    repository (tests, scripts, docs) is in the wheel."""
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert "gateway/vendor_api/spec/endpoints.json" in names
    assert "gateway/vendor_api/spec/commands.json" in names
    published = {
        f"gateway/published_schemas/{p.relative_to(ROOT / 'schemas').as_posix()}"
        for p in (ROOT / "schemas").rglob("*.json")
    }
    assert len(published) > 80
    assert published <= names, sorted(published - names)
    assert "gateway/simulator/__init__.py" in names
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"gateway"}, tops


def test_the_installed_package_is_imported(installed: Installed) -> None:
    """The venv runs the installed copy, not the repository's source tree."""
    where = "import gateway; print(gateway.__file__)"
    proc = _ok([str(installed.python), "-c", where], installed.cwd)
    location = Path(proc.stdout.strip())
    assert location.is_relative_to(installed.python.parents[1]), location
    assert not location.is_relative_to(ROOT)


def test_version_is_pyprojects(installed: Installed) -> None:
    """`gateway --version` prints the distribution's version, the one in pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    proc = _ok([str(installed.gateway), "--version"], installed.cwd, timeout=60)
    assert proc.stdout.strip() == f"gateway {project['version']}"


def test_schemas_check_uses_the_packaged_copy(installed: Installed, tmp_path: Path) -> None:
    """No schemas/ here: --check checks the copy in the wheel against the installed models and
    says so; --out still writes the same files."""
    proc = _ok([str(installed.gateway), "schemas", "--check"], installed.cwd, timeout=120)
    assert "the copy packaged with the gateway" in proc.stdout
    assert "published_schemas" in proc.stdout
    assert not (installed.cwd / "schemas").exists()
    out = tmp_path / "written"
    _ok([str(installed.gateway), "schemas", "--out", str(out)], installed.cwd, timeout=120)
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json"))
    schemas = ROOT / "schemas"
    committed = sorted(p.relative_to(schemas).as_posix() for p in schemas.rglob("*.json"))
    assert written == committed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def simulator(installed: Installed) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`gateway simulator` from the wheel, on a free port; stopped (and waited for) after."""
    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603 - the installed script
        [str(installed.gateway), "simulator", "--port", str(port)],
        cwd=installed.cwd,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        if proc.stderr:
            proc.stderr.close()


def test_simulator_answers(simulator: tuple[subprocess.Popen[bytes], str]) -> None:
    """The simulator ships in the wheel and serves HTTP within a few seconds."""
    proc, url = simulator
    deadline = time.monotonic() + 20
    while True:
        try:
            answer = httpx.get(f"{url}/_sim/calls", timeout=1)
            break
        except httpx.TransportError:
            assert proc.poll() is None, f"the simulator exited {proc.returncode}"
            assert time.monotonic() < deadline, "the simulator did not answer within 20 s"
            time.sleep(0.1)
    assert answer.status_code == 200


def test_run_and_demo_start(installed: Installed) -> None:
    """`gateway run` and `gateway demo` load from the wheel (they need Kafka to do more)."""
    run = _ok([str(installed.gateway), "run", "--help"], installed.cwd, timeout=60)
    assert "--role" in run.stdout
    demo = _ok([str(installed.gateway), "demo", "--help"], installed.cwd, timeout=60)
    assert "--bootstrap" in demo.stdout
