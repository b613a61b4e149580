"""64 FileUploads of 50 MB at once keep the commands role inside the chart's memory limit.

The commands role runs in this process (Kafka for real), the vendor simulator and the file
server in processes of their own, so this process's resident set is the gateway's (plus
pytest's). It is sampled from /proc while the uploads run, and the kernel's own peak
(VmHWM, reset first through /proc/self/clear_refs) is read at the end.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest
import yaml

from tests.integration.pipeline import (
    envelope,
    gateway_settings,
    make_topics,
    produce,
    read_results,
    running_gateway,
)

ROOT = Path(__file__).resolve().parents[2]
FILES = 64
FILE_BYTES = 50 * 1024 * 1024  # the vendor's and the gateway's cap
_UNITS = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}


def chart_memory_limit() -> int:
    """The commands role's memory limit in deploy/helm/gateway/values.yaml, in bytes."""
    values = yaml.safe_load((ROOT / "deploy/helm/gateway/values.yaml").read_text("utf-8"))
    text = str(values["commands"]["resources"]["limits"]["memory"])
    number, unit = re.fullmatch(r"(\d+)([KMG]i)?", text).groups()  # type: ignore[union-attr]
    return int(number) * _UNITS.get(unit or "", 1)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        return False
    return True


@contextmanager
def file_server() -> Iterator[str]:
    """tests/source_server.py in a process of its own; yields its root URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.source_server"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.timeout(180)
async def test_64_uploads_of_50_mb_stay_under_the_chart_memory_limit(
    kafka_bootstrap: str, external_simulator: str
) -> None:
    """64 commands (the default max_in_flight) each fetch 50 MB and upload it to the vendor
    simulator over HTTP: every one succeeds, and the peak RSS stays under the limit."""
    limit = chart_memory_limit()
    topics = await make_topics(kafka_bootstrap, "upload-rss", partitions=8)
    settings = gateway_settings(
        kafka_bootstrap,
        external_simulator,
        topics,
        upload_source_hosts=["127.0.0.1"],
        upload_source_allow_http=True,
        upload_source_allow_private=True,  # the file server is on loopback
    )
    samples: list[int] = []

    async def sample() -> None:
        while True:
            samples.append(_status_kib("VmRSS") * 1024)
            await asyncio.sleep(0.02)

    with file_server() as source:
        commands = [
            envelope(
                "FileUpload", {"filename": "big.mp4", "source_url": f"{source}/file/{FILE_BYTES}"}
            )
            for _ in range(FILES)
        ]
        baseline = _status_kib("VmRSS") * 1024
        kernel_peak = _reset_peak()
        sampler = asyncio.create_task(sample())
        try:
            async with running_gateway(settings):
                await produce(
                    kafka_bootstrap,
                    topics.commands,
                    [(f"key-{i}".encode(), c) for i, c in enumerate(commands)],
                )
                results = await read_results(kafka_bootstrap, topics.results, FILES, within=150)
        finally:
            sampler.cancel()
            with suppress(asyncio.CancelledError):
                await sampler
        peak = max([*samples, _status_kib("VmHWM") * 1024 if kernel_peak else 0])
    async with httpx.AsyncClient(base_url=external_simulator) as sim:
        calls = (await sim.get("/_sim/calls")).json()["calls"].get("/uploadfile", 0)
    statuses = [r["data"]["status"] for r in results]
    mib = 1024 * 1024
    print(
        f"\nRSS baseline {baseline / mib:.0f} MiB, peak {peak / mib:.0f} MiB"
        f" (+{(peak - baseline) / mib:.0f} MiB), limit {limit / mib:.0f} MiB,"
        f" {len(samples)} samples, vendor uploads {calls}"
    )
    assert statuses == ["succeeded"] * FILES, [r["data"].get("error") for r in results]
    assert calls >= FILES
    assert peak < limit
