"""The speed of light for this stack with the gateway's vendor HTTP client: aiokafka consumer ->
aiohttp -> aiokafka producer.

The same loop as ``baseline_loop.py`` (same in-flight bound, same token fetch, same
GATEWAY_* variables, so the harness starts it exactly like the gateway), with aiohttp, which
the gateway's vendor transport uses (``gateway/vendor_api/transport.py``), in place of httpx:
one ``aiohttp.ClientSession`` whose ``TCPConnector`` holds at most the in-flight bound of
connections. Nothing else: no idempotency, no retries, no ordering per key, no transactions.
"""

from __future__ import annotations

import json
import os
from typing import Any

import aiohttp
from baseline_loop import in_flight, serve


async def main() -> None:
    env = os.environ
    vendor = env["GATEWAY_VENDOR__BASE_URL"].rstrip("/")
    # As many pooled connections as the in-flight bound (the gateway's max_connections, which
    # the harness sets to it too). No cookie jar, like the gateway's session: the vendor sets
    # no cookie, and aiohttp's default jar would look at every answer for one.
    http = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=int(env.get("GATEWAY_VENDOR__MAX_CONNECTIONS", in_flight()))
        ),
        cookie_jar=aiohttp.DummyCookieJar(),
    )

    async def post(path: str, form: dict[str, Any]) -> dict[str, Any]:
        async with http.post(f"{vendor}/sdkapi/v2{path}", data=form) as response:
            return json.loads(await response.read())  # type: ignore[no-any-return]

    try:
        await serve(post)
    finally:
        await http.close()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())  # the same event loop as `gateway run`
