"""Readiness checks per role: the broker answers, and the vendor gives a token."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient

from gateway.app.kafka import client_options
from gateway.app.ops_server import ReadinessCheck
from gateway.app.vendor import build_vendor_client
from gateway.settings import GatewaySettings

__all__ = ["readiness_checks"]


def readiness_checks(settings: GatewaySettings, roles: list[str]) -> dict[str, ReadinessCheck]:
    """Checks for the roles of this process (every role needs the broker and the vendor)."""

    async def broker() -> None:
        admin = AIOKafkaAdminClient(**client_options(settings.kafka), request_timeout_ms=4000)
        await admin.start()
        try:
            await admin.list_topics()
        finally:
            await admin.close()

    async def vendor() -> None:
        client = build_vendor_client(settings.vendor)
        try:
            await client.tokens.get()
        finally:
            await client.aclose()

    checks: dict[str, ReadinessCheck] = {}
    if roles:
        checks = {"kafka": broker, "vendor": vendor}
    return checks
