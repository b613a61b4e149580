"""One cycle's vendor reads: the room list, participants, statistics, media-server counts.

Every request goes through the account's vendor client with the budget
``RequestBudget(Lane.POLLER, cycle deadline)``: the client waits for a slot on the poller's
lane of the rate limiter before each HTTP request (token fetches included). Each read goes
through the retry policy the app injects (``gateway.retry.vendor_calls``: transient errors
only, full jitter, bounded by attempts and by the cycle's deadline). A read that still fails
is left out of the observation, so the diff keeps that room's (or kind's) last state; the
failure is logged and counted, never raised.

Membership needs no per-room read: ``/room/list`` carries every open room's users. A cycle
comes in two parts, so that what the room list tells goes out at once. The first part reads
the room list, the final statistics of rooms that closed, the participants of rooms whose
users changed (so a join is reported with its details) and the media-server counts, within
``urgent_window_s``, and hands that to the caller to publish. The second part reads the
participants of rooms known from the list only, then round-robin, and the statistics, within
``reads_window_s`` of the cycle's start, for the caller to publish after it. Reads that would
not get a rate-limit slot within their window are deferred to later cycles (counted, not
failures), so a large estate never delays the next room list, nor its joins and leaves.

A room that left the list (closed) has its statistics read once more, first of all per-room
reads: its final statistics. Until that read succeeds the room stays *closing*; after
``final_statistics_grace_s`` it is given up (``abandoned``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from gateway.errors import GatewayError
from gateway.poller.diff import Observation
from gateway.poller.model import (
    Counters,
    Participant,
    PollerState,
    Room,
    counters_from_vendor,
    participants_from_vendor,
    rooms_from_vendor,
    servers_from_vendor,
)
from gateway.poller.schedule import Kind, RoundRobin
from gateway.ratelimit import Lane, RateLimitDeadlineError, RequestBudget
from gateway.telemetry.metrics import POLLER_READS_PENDING
from gateway.vendor_api import VendorClient
from gateway.vendor_api.errors import VendorAPIError
from gateway.vendor_api.generated.endpoints.media_server import (
    MEDIA_SERVER_USER_COUNT_GET,
    MediaServerUserCountGetRequest,
)
from gateway.vendor_api.generated.endpoints.participants import (
    PARTICIPANT_LIST,
    ParticipantListRequest,
)
from gateway.vendor_api.generated.endpoints.room import (
    ROOM_LIST,
    ROOM_STATISTIC_GET,
    RoomListRequest,
    RoomStatisticGetRequest,
)

__all__ = ["CycleStats", "Observer", "ObserverConfig", "Publish", "RetryRunner"]

log = logging.getLogger("gateway.poller")

T = TypeVar("T")

# Publishes the first part of a cycle; answers the state after it.
Publish = Callable[[Observation], Awaitable[PollerState]]

# /media_server/user_count answers 11003 when no media server is online: that is an answer.
NO_SERVER_ONLINE = 11003


class RetryRunner(Protocol):
    """Runs an attempt until it succeeds or the policy gives up (``gateway.retry.RetryPolicy``
    fits)."""

    async def run(self, attempt: Callable[[], Awaitable[T]], deadline: float | None = ...) -> T:
        """The attempt's result, or its last error."""
        ...


@dataclass(frozen=True, slots=True)
class ObserverConfig:
    """Which rooms, how many per cycle, how many reads at once, and the statistics window."""

    watch: frozenset[str] | None = None  # None: every open room
    max_rooms: int = 500
    concurrency: int = 8
    cycle_timeout_s: float = 120.0
    statistics_window_s: float = 86400.0
    # Per-room reads that cannot start within this long after the cycle started are deferred:
    # the first part's (urgent), and all of them.
    urgent_window_s: float | None = None
    reads_window_s: float | None = None
    final_statistics_grace_s: float = 600.0


@dataclass(slots=True)
class CycleStats:
    """What a cycle cost and what failed."""

    calls: int = 0  # vendor attempts, retries included
    failed: dict[str, int] = field(default_factory=dict)  # read kind -> reads that failed
    rooms_open: int = 0
    participants_read: int = 0
    statistics_read: int = 0
    final_statistics_read: int = 0
    deferred: int = 0  # per-room reads left to later cycles for want of a rate-limit slot


def _now_rfc3339(now: float) -> str:
    return (
        datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _read_done(_: object) -> None:
    POLLER_READS_PENDING.dec()


class Observer:
    """Reads what is due and returns it as an :class:`Observation`."""

    def __init__(
        self,
        client: VendorClient,
        retry: RetryRunner,
        config: ObserverConfig,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._retry = retry
        self._config = config
        self._clock = clock
        self._participants_rr = RoundRobin(config.max_rooms)
        self._statistics_rr = RoundRobin(config.max_rooms)

    async def observe(
        self, due: set[Kind], state: PollerState, publish: Publish | None = None
    ) -> tuple[Observation, CycleStats]:
        """Read the kinds in ``due``; what fails stays out of the observation.

        With ``publish``, the first part's observation goes to ``publish`` (which answers the
        state after it) as soon as it is read, and the second part's is returned. Without,
        one observation of both is returned (the tests', the benchmark's).
        """
        now = self._clock()
        stats = CycleStats()
        deadline = now + self._config.cycle_timeout_s
        budget = RequestBudget(Lane.POLLER, deadline)
        config = self._config
        reads = RequestBudget(Lane.POLLER, self._within(now, config.reads_window_s))
        # No window of its own: the first part may use the whole reads window.
        urgent_s = (
            config.reads_window_s if config.urgent_window_s is None else config.urgent_window_s
        )
        urgent = RequestBudget(Lane.POLLER, self._within(now, urgent_s))
        end = math.ceil(now)  # the vendor's end_time is inclusive, in seconds
        window = (end - int(self._config.statistics_window_s), end)
        listed: dict[str, tuple[Room, dict[str, str]]] | None = None
        settled: set[str] = set()  # rooms whose participants the first part read or failed
        first = Observation(observed_at=_now_rfc3339(now), observed_ts=now)
        if due & {Kind.PARTICIPANTS, Kind.STATISTICS}:
            listed = await self._room_list(stats, budget)
            if listed is not None:
                rooms = {room_id: room for room_id, (room, _) in listed.items()}
                stats.rooms_open = len(rooms)
                closing = sorted(
                    {r for r in state.open_rooms() if r not in rooms} | state.closing_rooms().keys()
                )
                final = await self._read_statistics(closing, window, stats, urgent)
                stats.final_statistics_read = len(final)
                changed: dict[str, Mapping[str, Participant]] = {}
                if Kind.PARTICIPANTS in due:
                    changed, settled = await self._participants(
                        listed, state, stats, urgent, urgent=True
                    )
                first = replace(
                    first,
                    rooms=rooms,
                    members={room_id: users for room_id, (_, users) in listed.items()},
                    participants=changed,
                    statistics_window=window,
                    final_statistics=final,
                    abandoned=self._abandoned(state, final, now),
                )
        if Kind.MEDIA_SERVERS in due:
            first = replace(first, servers=await self._servers(stats, budget))
        if publish is not None:
            state = await publish(first)
        rest: dict[str, Mapping[str, Participant]] = {}
        statistics: dict[str, Counters] = {}
        if listed is not None:
            if Kind.PARTICIPANTS in due:
                rest, _ = await self._participants(
                    listed, state, stats, reads, urgent=False, skip=settled
                )
            if Kind.STATISTICS in due:
                statistics = await self._statistics(sorted(listed), state, window, stats, reads)
        stats.participants_read = len(first.participants) + len(rest)
        if publish is None:
            both = {**first.participants, **rest}
            return replace(first, participants=both, statistics=statistics), stats
        later = self._clock()
        second = Observation(
            observed_at=_now_rfc3339(later),
            observed_ts=later,
            participants=rest,
            statistics=statistics,
            statistics_window=window,
        )
        return second, stats

    @staticmethod
    def _within(now: float, window_s: float | None) -> float | None:
        return None if window_s is None else now + window_s

    def _abandoned(
        self, state: PollerState, final: Mapping[str, Counters], now: float
    ) -> frozenset[str]:
        grace = self._config.final_statistics_grace_s
        given_up = frozenset(
            room_id
            for room_id, room in state.closing_rooms().items()
            if room_id not in final and room.closed_at is not None and now - room.closed_at > grace
        )
        if given_up:
            log.warning(
                "poller: no final statistics for %d closed rooms after %.0fs; their records"
                " are deleted without them",
                len(given_up),
                grace,
            )
        return given_up

    async def _call(
        self,
        what: str,
        attempt: Callable[[], Awaitable[T]],
        stats: CycleStats,
        budget: RequestBudget,
        on_defer: Callable[[], None] | None = None,
    ) -> T | None:
        async def counted() -> T:
            stats.calls += 1
            return await attempt()

        try:
            return await self._retry.run(counted, budget.deadline)
        except RateLimitDeadlineError:
            stats.deferred += 1  # no slot in this cycle's window: a later cycle reads it
            if on_defer is not None:
                on_defer()
            return None
        except GatewayError as exc:
            stats.failed[what] = stats.failed.get(what, 0) + 1
            log.warning("poller: %s failed: %s", what, exc)
            return None

    async def _room_list(
        self, stats: CycleStats, budget: RequestBudget
    ) -> dict[str, tuple[Room, dict[str, str]]] | None:
        answer = await self._call(
            "room list",
            lambda: self._client.call(ROOM_LIST, RoomListRequest(), budget),
            stats,
            budget,
        )
        if answer is None:
            return None
        listed = rooms_from_vendor(answer.rooms)
        if self._config.watch is not None:
            listed = {r: v for r, v in listed.items() if r in self._config.watch}
        return listed

    async def _gather(
        self, rooms: list[str], read: Callable[[str], Awaitable[T | None]]
    ) -> dict[str, T]:
        limit = asyncio.Semaphore(self._config.concurrency)

        async def one(room_id: str) -> T | None:
            async with limit:
                return await read(room_id)

        # A task per room, counted until it is done (a done callback runs even for a task
        # cancelled before it started).
        tasks = [asyncio.ensure_future(one(r)) for r in rooms]
        POLLER_READS_PENDING.inc(len(tasks))
        for task in tasks:
            task.add_done_callback(_read_done)
        answers = await asyncio.gather(*tasks)
        return {r: a for r, a in zip(rooms, answers, strict=True) if a is not None}

    async def _participants(
        self,
        listed: Mapping[str, tuple[Room, dict[str, str]]],
        state: PollerState,
        stats: CycleStats,
        budget: RequestBudget,
        *,
        urgent: bool,
        skip: Iterable[str] = (),
    ) -> tuple[dict[str, Mapping[str, Participant]], set[str]]:
        """``urgent``: the rooms whose users changed (a join or leave to describe in full).
        Otherwise: those whose participants are known from the list only, then the others
        round-robin (``skip``: settled already). Returns the participants read, and the rooms
        settled: read or failed (not deferred for want of a rate-limit slot)."""
        changed, partial = [], []
        for room_id, (_, users) in listed.items():
            known = state.rooms.get(room_id)
            if (
                known is None
                or known.participants is None
                or users.keys() != known.participants.keys()
            ):
                changed.append(room_id)
            elif known.details_pending:
                partial.append(room_id)
        if urgent:
            chosen = sorted(changed)[: self._config.max_rooms]
        else:
            done = set(skip)
            rest = [r for r in sorted(listed) if r not in done]
            room_left = max(0, self._config.max_rooms - len(done))
            chosen = self._participants_rr.pick(rest, partial, changed, limit=room_left)

        deferred: set[str] = set()

        async def read(room_id: str) -> dict[str, Participant] | None:
            answer = await self._call(
                "participant list",
                lambda: self._client.call(
                    PARTICIPANT_LIST, ParticipantListRequest(room_id=room_id), budget
                ),
                stats,
                budget,
                on_defer=lambda: deferred.add(room_id),
            )
            if answer is None:
                return None
            participants = participants_from_vendor(answer.participates)
            if not participants and listed[room_id][1]:
                # The room list had users, the participant list has none: the room closed
                # (or emptied) between the two reads. Look again next cycle rather than
                # report everyone as having left one by one.
                stats.failed["participant list (changed meanwhile)"] = (
                    stats.failed.get("participant list (changed meanwhile)", 0) + 1
                )
                return None
            return participants

        return dict(await self._gather(chosen, read)), set(chosen) - deferred

    async def _statistics(
        self,
        rooms: list[str],
        state: PollerState,
        window: tuple[int, int],
        stats: CycleStats,
        budget: RequestBudget,
    ) -> dict[str, Counters]:
        urgent = [r for r in rooms if r not in state.rooms or state.rooms[r].statistics is None]
        chosen = self._statistics_rr.pick(rooms, urgent)
        result = await self._read_statistics(chosen, window, stats, budget)
        stats.statistics_read = len(result)
        return result

    async def _read_statistics(
        self,
        rooms: list[str],
        window: tuple[int, int],
        stats: CycleStats,
        budget: RequestBudget,
    ) -> dict[str, Counters]:
        start, end = window

        async def read(room_id: str) -> dict[str, int] | None:
            request = RoomStatisticGetRequest(start_time=start, end_time=end, room_id=room_id)
            answer = await self._call(
                "statistics",
                lambda: self._client.call(ROOM_STATISTIC_GET, request, budget),
                stats,
                budget,
            )
            return None if answer is None else counters_from_vendor(answer.model_dump())

        return dict(await self._gather(rooms, read))

    async def _servers(self, stats: CycleStats, budget: RequestBudget) -> dict[str, int] | None:
        async def read() -> dict[str, int]:
            try:
                answer = await self._client.call(
                    MEDIA_SERVER_USER_COUNT_GET, MediaServerUserCountGetRequest(), budget
                )
            except VendorAPIError as exc:
                if exc.code == NO_SERVER_ONLINE:
                    return {}
                raise
            return servers_from_vendor(answer.server_user_count)

        return await self._call("media-server user count", read, stats, budget)
