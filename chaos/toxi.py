"""The fault proxy between the gateway and its dependencies: a Toxiproxy server of our own
(``scripts/toxiproxy.sh`` builds it) and a small client for its HTTP API.

Written here rather than taken from PyPI: the Python clients there (``toxiproxy-python``) are
unmaintained and synchronous; what the suite needs is five calls of a documented JSON API
(https://github.com/Shopify/toxiproxy#http-api), made with the httpx the project already has.

Kafka goes through the proxy end to end: ``scripts/kafka.sh`` gives the broker a second
listener (``PROXIED``, on ``KAFKA_PROXIED_PORT``) that advertises the proxy's listen address
(``KAFKA_PROXY_PORT``). A client bootstrapping at the proxy is told the broker is at the
proxy, so every later connection (metadata, the group and transaction coordinators,
reconnects after a reset) goes through it as well. Redis and the vendor are single
addresses: the proxy listens on a free port and forwards.

Usage::

    with toxiproxy(logs / "toxiproxy.log") as proxy:
        kafka = proxy.create("kafka", listen=KAFKA_PROXY_ADDRESS, upstream=KAFKA_PROXIED_ADDRESS)
        proxy.add_toxic("kafka", "latency", "downstream", latency=200, jitter=100)
        proxy.remove_toxic("kafka", "latency_downstream")
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from chaos.procs import free_port, stop_process
from chaos.services import LOCAL_KAFKA, ROOT, redis_url

__all__ = [
    "KAFKA_PROXIED_ADDRESS",
    "KAFKA_PROXY_ADDRESS",
    "Links",
    "Toxiproxy",
    "proxied_links",
    "toxiproxy",
    "toxiproxy_server",
]

_KAFKA_PORT = int(os.environ.get("KAFKA_PORT", "9092"))
KAFKA_PROXIED_ADDRESS = (
    f"127.0.0.1:{int(os.environ.get('KAFKA_PROXIED_PORT', str(_KAFKA_PORT + 100)))}"
)
"""The broker's PROXIED listener (scripts/kafka.sh): the Kafka proxy's upstream."""
KAFKA_PROXY_ADDRESS = (
    f"127.0.0.1:{int(os.environ.get('KAFKA_PROXY_PORT', str(_KAFKA_PORT + 10000)))}"
)
"""Where the Kafka proxy listens: the address the PROXIED listener advertises."""


def toxiproxy_server() -> str:
    """The Toxiproxy server binary (built from the Go module proxy on first use)."""
    done = subprocess.run(  # noqa: S603 - our own script
        [str(ROOT / "scripts" / "toxiproxy.sh")],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/toxiproxy.sh failed: {done.stderr[-2000:]}")
    return done.stdout.strip()


class Toxiproxy:
    """A client of one Toxiproxy server's HTTP API."""

    def __init__(self, api: str) -> None:
        self.api = api
        self._http = httpx.Client(base_url=api, timeout=10.0)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=body)
        if response.status_code >= 400:
            raise RuntimeError(f"toxiproxy {method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def create(self, name: str, upstream: str, listen: str | None = None) -> str:
        """A proxy to ``upstream``; its listen address (``listen``, else a free port)."""
        address = listen or f"127.0.0.1:{free_port()}"
        self._call(
            "POST",
            "/proxies",
            {"name": name, "listen": address, "upstream": upstream, "enabled": True},
        )
        return address

    def add_toxic(
        self,
        proxy: str,
        kind: str,
        stream: str = "downstream",
        toxicity: float = 1.0,
        **attributes: Any,
    ) -> str:
        """Add a toxic (``latency``, ``bandwidth``, ``timeout``, ``reset_peer``, ``limit_data``,
        ``slow_close``, ``slicer``); its name, ``<kind>_<stream>``."""
        name = f"{kind}_{stream}"
        self._call(
            "POST",
            f"/proxies/{proxy}/toxics",
            {
                "name": name,
                "type": kind,
                "stream": stream,
                "toxicity": toxicity,
                "attributes": attributes,
            },
        )
        return name

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    def clear(self, proxy: str) -> None:
        """Remove every toxic of ``proxy``."""
        for toxic in self._call("GET", f"/proxies/{proxy}/toxics") or []:
            self.remove_toxic(proxy, toxic["name"])

    def set_enabled(self, proxy: str, enabled: bool) -> None:
        """Disabled: the proxy closes its connections and refuses new ones (a hard cut)."""
        self._call("POST", f"/proxies/{proxy}", {"enabled": enabled})


@contextmanager
def toxiproxy(log: Path | None = None) -> Iterator[Toxiproxy]:
    """A Toxiproxy server of its own (API on a free port) for the duration of a case."""
    port = free_port()
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen(  # noqa: S603 - the binary our script built
        [toxiproxy_server(), "-host", "127.0.0.1", "-port", str(port)],
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    client = Toxiproxy(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                client._call("GET", "/version")
                break
            except (httpx.HTTPError, RuntimeError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"toxiproxy did not start on port {port}") from None
                time.sleep(0.1)
        yield client
    finally:
        client.close()
        stop_process(proc)
        if log is not None and hasattr(out, "close"):
            out.close()


@dataclass
class Links:
    """The proxy of a case and the address each proxied link is reached at."""

    proxy: Toxiproxy
    addresses: dict[str, str]  # "kafka": bootstrap, "redis": URL, "vendor": base URL


@contextmanager
def proxied_links(
    links: Iterable[str], logs: Path, kafka_bootstrap: str, vendor_url: str
) -> Iterator[Links]:
    """A Toxiproxy with one proxy per named link ("kafka", "redis", "vendor"), each named as
    its link. The Kafka proxy listens on the one address the broker's PROXIED listener
    advertises, so cases that proxy Kafka take a file lock and run one at a time."""
    names = set(links)
    if "kafka" in names and kafka_bootstrap != LOCAL_KAFKA:
        raise RuntimeError(
            f"the Kafka link can be proxied only for the project's broker ({LOCAL_KAFKA}, whose "
            f"PROXIED listener advertises {KAFKA_PROXY_ADDRESS}), not {kafka_bootstrap}"
        )
    lock = None
    if "kafka" in names:
        # Per address, not per checkout: every checkout on this machine shares the port.
        port = KAFKA_PROXY_ADDRESS.rsplit(":", 1)[1]
        lock = Path(f"/tmp/chaos-kafka-proxy-{port}.lock").open("w")  # noqa: S108, SIM115
        fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        with toxiproxy(logs / "toxiproxy.log") as proxy:
            addresses: dict[str, str] = {}
            if "kafka" in names:
                addresses["kafka"] = proxy.create(
                    "kafka", upstream=KAFKA_PROXIED_ADDRESS, listen=KAFKA_PROXY_ADDRESS
                )
            if "redis" in names:
                url = httpx.URL(redis_url())
                listen = proxy.create("redis", upstream=f"{url.host}:{url.port or 6379}")
                addresses["redis"] = f"redis://{listen}{url.path or '/0'}"
            if "vendor" in names:
                url = httpx.URL(vendor_url)
                listen = proxy.create("vendor", upstream=f"{url.host}:{url.port}")
                addresses["vendor"] = f"{url.scheme}://{listen}{url.path}".rstrip("/")
            yield Links(proxy, addresses)
    finally:
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()
