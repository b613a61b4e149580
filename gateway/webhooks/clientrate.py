"""The per-client request rate of the ingress: one GCRA schedule per client address.

In this process only: the limit protects this replica from one noisy client, so with N
replicas behind a balancer a client may get up to N times the rate. The client key is the
peer address uvicorn reports (X-Forwarded-For when the proxy is trusted, see
``GATEWAY_WEBHOOKS__FORWARDED_ALLOW_IPS``). The least recently seen clients are forgotten
past ``max_clients``, which at worst hands a forgotten client a fresh burst.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from gateway.ratelimit import Gcra, GcraState

__all__ = ["ClientRateLimiter"]


class ClientRateLimiter:
    """``rate`` requests per second and ``burst`` at once, per client key."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = Gcra(rate, burst)
        self._clients: OrderedDict[str, GcraState] = OrderedDict()
        self._max_clients = max_clients
        self._clock = clock

    def admit(self, client: str) -> float:
        """0 if the request may go now (its slot is taken), else seconds until it could."""
        now = self._clock()
        state = self._clients.get(client)
        if state is None:
            state = self._clients[client] = GcraState(tat=now)
            while len(self._clients) > self._max_clients:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(client)
        if not state.conforms_now(self._limit, now):
            return state.start_time(self._limit, now) - now
        state.reserve(self._limit, now)
        return 0.0
