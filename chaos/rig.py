"""What every commands case shares: its topics, the simulator process, two gateway replicas on
Redis, a read_committed follower, paced RoomCreate load, and the commands audit."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chaos.audit import Audit, duplicates, max_stall, rate_diagnostics
from chaos.kafkaio import Follower, LoadProducer, wait_group_members
from chaos.procs import Replica, Supervisor
from chaos.services import kafka_bootstrap, redis_url
from chaos.simctl import RATE_LIMIT, Sim, executed, sim_process
from chaos.toxi import Toxiproxy, proxied_links
from rigkit.topics import CommandTopics

__all__ = ["CommandsRig", "RigConfig", "paced"]

PARTITIONS = 8

# The gateway's side of the rate limit: the vendor's rate and burst, run 5 % below the rate
# with half the burst kept free. Arrivals are stamped by the simulator's event loop; on this
# two-core machine a Python process starting (a replica restarted after SIGKILL) holds that
# loop back for more than the 50 ms tolerance, and the requests that waited are stamped
# together. Half the burst (5 slots, 50 ms at 100/s) on top of the tolerance absorbs that;
# with the default headroom of one slot such a restart shows up as a handful of violations.
GATEWAY_SAFETY_MARGIN = 0.05
GATEWAY_BURST_HEADROOM = 5


@dataclass
class RigConfig:
    """Settings of a commands case's replicas.

    ``budget_s`` is the retry budget: every command carries ``deadline`` = sent + budget, and
    the retry policy (attempts effectively unbounded, backoff windows up to ``max_wait_s``)
    keeps trying transient failures until then. The audit compares partition stalls to it.
    """

    case: str
    budget_s: float
    replicas: int = 2
    lease_s: float = 3.0
    max_wait_s: float = 2.0
    sim_latency_ms: float = 5.0
    read_timeout_s: float = 10.0
    keys: int = 400
    extra_env: dict[str, str] = field(default_factory=dict)
    # Which of the replicas' links go through the case's fault proxy (chaos/toxi.py):
    # any of "kafka", "redis", "vendor". The load producer, the audit's follower and the
    # simulator's control API always go direct, so a fault hits only the gateway.
    proxied: frozenset[str] = frozenset()


class CommandsRig:
    """Use as ``async with CommandsRig(config, logs) as rig``."""

    def __init__(self, config: RigConfig, logs: Path) -> None:
        self.config = config
        self.logs = logs
        self.bootstrap = kafka_bootstrap()
        self.topics = CommandTopics.fresh(f"chaos-{config.case}")
        self.replicas: list[Replica] = []
        self.supervisor: Supervisor | None = None
        self.follower: Follower | None = None
        self.producer: LoadProducer | None = None
        self.sim: Sim | None = None
        self._stack = contextlib.AsyncExitStack()
        self._sim_cm: Any = None
        self._room_prefix = f"{abs(hash(self.topics.base)) % 90 + 10}"
        self.supervisor_events: list[str] = []
        self.dumped = False
        self.stop_codes: dict[str, Any] = {}
        self.proxy: Toxiproxy | None = None  # the fault proxy, when config.proxied names links
        self._links: dict[str, str] = {}  # link -> the address the replicas use

    # -- set-up and tear-down ------------------------------------------------------------

    def env(self, instance: str) -> dict[str, str]:
        c = self.config
        assert self.sim is not None
        return {
            "GATEWAY_INSTANCE_ID": instance,
            **self.topics.kafka_env(self._links.get("kafka", self.bootstrap)),
            "GATEWAY_VENDOR__BASE_URL": self._links.get("vendor", self.sim.url),
            "GATEWAY_VENDOR__ACCESS_KEY": "demo_access",  # the simulator's demo account
            "GATEWAY_VENDOR__SECRET_KEY": "demo_secret",
            "GATEWAY_VENDOR__READ_TIMEOUT_S": str(c.read_timeout_s),
            "GATEWAY_VENDOR__RATE_LIMIT__ENABLED": "true",
            "GATEWAY_VENDOR__RATE_LIMIT__RATE_PER_S": str(RATE_LIMIT["rate_per_s"]),
            "GATEWAY_VENDOR__RATE_LIMIT__BURST": str(RATE_LIMIT["burst"]),
            "GATEWAY_VENDOR__RATE_LIMIT__SAFETY_MARGIN": str(GATEWAY_SAFETY_MARGIN),
            "GATEWAY_VENDOR__RATE_LIMIT__BURST_HEADROOM": str(GATEWAY_BURST_HEADROOM),
            "GATEWAY_REDIS__URL": self._links.get("redis", redis_url()),
            "GATEWAY_IDEMPOTENCY__BACKEND": "redis",
            "GATEWAY_IDEMPOTENCY__LEASE_S": str(c.lease_s),
            "GATEWAY_RETRY__MAX_ATTEMPTS": "100000",
            "GATEWAY_RETRY__INITIAL_WAIT_S": "0.1",
            "GATEWAY_RETRY__MAX_WAIT_S": str(c.max_wait_s),
            "GATEWAY_COMMANDS__GRACE_PERIOD_S": "10",
            "GATEWAY_OPS__ENABLED": "false",
            "GATEWAY_LOG_LEVEL": os.environ.get("CHAOS_GATEWAY_LOG_LEVEL", "INFO"),
            "GATEWAY_LOG_FORMAT": "json",
            # chaos/taskdump.py: log event-loop lag above 50 ms (it compresses rate-limit slots)
            "CHAOS_LOOP_LAG_MS": os.environ.get("CHAOS_LOOP_LAG_MS", "50"),
            **c.extra_env,
        }

    async def __aenter__(self) -> CommandsRig:
        try:
            await self.topics.create(self.bootstrap, PARTITIONS)
            self._sim_cm = sim_process(self.config.sim_latency_ms, self.logs / "simulator.log")
            url = self._sim_cm.__enter__()
            self.sim = Sim(url)
            if self.config.proxied:
                links = self._stack.enter_context(
                    proxied_links(self.config.proxied, self.logs, self.bootstrap, url)
                )
                self.proxy, self._links = links.proxy, links.addresses
            self.follower = await self._stack.enter_async_context(
                Follower(
                    self.bootstrap,
                    self.topics.results,
                    self.topics.dlq,
                    results=self.topics.results,
                )
            )
            self.producer = await self._stack.enter_async_context(LoadProducer(self.bootstrap))
            for i in range(self.config.replicas):
                name = f"{self.config.case}-{chr(ord('a') + i)}"
                replica = Replica(name, "commands", self.env(name), self.logs / f"{name}.log")
                replica.start()
                self.replicas.append(replica)
            self.supervisor = await self._stack.enter_async_context(Supervisor(self.replicas))
            if not await wait_group_members(
                self.bootstrap, self.topics.group, len(self.replicas), within=90
            ):
                raise RuntimeError("the gateway replicas did not form a stable group in 90 s")
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._close()

    async def _close(self) -> None:
        # Replicas first (SIGTERM, grace), while Kafka and the simulator still answer.
        if self.supervisor is not None:
            await self.supervisor.__aexit__(None, None, None)
            self.supervisor_events = list(self.supervisor.events)
            self.supervisor = None
        codes = await asyncio.gather(
            *(asyncio.to_thread(r.stop) for r in self.replicas), return_exceptions=True
        )
        self.stop_codes = dict(zip((r.name for r in self.replicas), codes, strict=True))
        with contextlib.suppress(Exception):
            await self._stack.aclose()
        if self.sim is not None:
            await self.sim.aclose()
        if self._sim_cm is not None:
            self._sim_cm.__exit__(None, None, None)
            self._sim_cm = None

    # -- load ----------------------------------------------------------------------------

    def room(self, i: int) -> str:
        """The room_id of the i-th command (its id is ``<case>-<i>-<random>``)."""
        return f"{self._room_prefix}{i:09d}"

    def command(self, i: int) -> tuple[bytes, dict[str, Any]]:
        """The i-th command of the case: a RoomCreate with its own room_id (which makes every
        vendor mutation identifiable, and has a reconciliation probe), and a deadline."""
        room = self.room(i)
        deadline = datetime.now(UTC) + timedelta(seconds=self.config.budget_s)
        envelope = {
            "id": f"{self.config.case}-{i}-{uuid.uuid4().hex[:8]}",
            "type": "RoomCreate",
            "payload": {"topic": f"chaos {self.config.case} {i}", "room_id": room},
            "deadline": deadline.isoformat().replace("+00:00", "Z"),
        }
        return str(i % self.config.keys).encode(), envelope

    async def send_commands(self, count: int, rate: float, start: int = 0) -> None:
        """``count`` commands at ``rate`` per second."""
        assert self.producer is not None
        producer = self.producer

        async def one(i: int) -> None:
            key, envelope = self.command(i)
            await producer.send(self.topics.commands, envelope, key=key, ident=envelope["id"])

        await paced(count, rate, one, start)
        await producer.flush()

    async def wait_results(self, within: float, settle: float = 3.0) -> float:
        """Until every acknowledged command has a result (or ``within`` s); then ``settle``
        more seconds to catch a duplicate. Returns the time the wait ended."""
        assert self.follower is not None
        assert self.producer is not None
        follower, producer = self.follower, self.producer
        expected = [s.ident for s in producer.sent if s.ok and s.kind == "valid"]

        def complete() -> bool:
            counts = follower.result_counts
            return all(counts.get(i, 0) > 0 for i in expected)

        if not await follower.wait_until(complete, within, poll=0.5):
            for replica in self.replicas:
                replica.dump_tasks()  # where the missing work waits, into the replica's log
            self.dumped = True
        ended = time.time()
        await asyncio.sleep(settle)
        return ended

    # -- audit ---------------------------------------------------------------------------

    async def audit(self, audit: Audit, ended: float) -> Audit:
        """The commands audit (see chaos/README.md for each column)."""
        assert self.follower is not None
        assert self.producer is not None
        assert self.sim is not None
        sent = [s for s in self.producer.sent if s.kind == "valid"]
        ok = [s for s in sent if s.ok]
        unacked = sum(1 for s in self.producer.sent if not s.ok)
        audit.sent = len(ok)
        audit.budget_s = self.config.budget_s
        first: dict[str, tuple[float, dict[str, Any]]] = {}
        counts: Counter[str] = Counter()
        for seen in self.follower.records[self.topics.results]:
            assert seen.data is not None
            cid = str(seen.data.get("command_id"))
            counts[cid] += 1
            first.setdefault(cid, (seen.t, seen.data))
        ids = {s.ident for s in ok}
        audit.results = sum(1 for i in ids if i in first)
        audit.missing = len(ids) - audit.results
        if audit.missing:
            lost = [s for s in ok if s.ident not in first]
            audit.details["missing_examples"] = [
                {"id": s.ident, "partition": s.partition, "offset": s.offset} for s in lost[:10]
            ]
        all_ids = {s.ident for s in self.producer.sent}
        # Per command id that a record carried (results under ids no record carried are a
        # problem of their own, below).
        audit.duplicates = duplicates(Counter({i: n for i, n in counts.items() if i in all_ids}))
        unknown = [cid for cid in counts if cid not in all_ids]
        if unknown:
            audit.problems.append(
                f"{len(unknown)} results for command ids no record carried "
                f"(e.g. {[c[:40] for c in unknown[:3]]})"
            )
        if unacked:
            audit.notes.append(f"{unacked} sends were not acknowledged (not counted as sent)")
        statuses = Counter(first[i][1].get("status") for i in ids if i in first)
        audit.details["statuses"] = dict(statuses)
        not_ok = [
            first[i][1] for i in ids if i in first and first[i][1].get("status") != "succeeded"
        ]
        if not_ok:
            why = Counter(
                f"{d.get('status')}:{(d.get('error') or {}).get('error_class')}"
                f":{(d.get('vendor') or {}).get('ret')}"
                for d in not_ok
            )
            audit.problems.append(
                f"{len(not_ok)} commands did not succeed ({dict(why.most_common(4))}); "
                f"e.g. {not_ok[0].get('command_id')}"
            )
        audit.details["reconciled"] = sum(
            1 for i in ids if i in first and (first[i][1].get("result") or {}).get("reconciled")
        )
        audit.details["replayed"] = sum(
            1 for i in ids if i in first and first[i][1].get("replayed")
        )
        audit.details["max_attempts"] = max(
            (first[i][1].get("attempts", 0) for i in ids if i in first), default=0
        )
        # Double mutations: vendor calls that reached /room/create, per room_id.
        creates = await self.sim.requests("/room/create")
        per_room = Counter(e["params"].get("room_id") for e in creates if executed(e))
        doubled = {room: n for room, n in per_room.items() if n > 1}
        audit.double_mutations = len(doubled)
        audit.details["vendor_creates"] = len(creates)
        audit.details["vendor_creates_executed"] = sum(per_room.values())
        if doubled:
            audit.details["doubled_rooms"] = dict(list(doubled.items())[:20])
            audit.notes.append(
                f"rooms created more than once at the vendor: {list(doubled.items())[:5]}"
            )
        missing_rooms = len(ok) - len(per_room)
        if missing_rooms > 0 and audit.missing == 0:
            audit.details["commands_without_vendor_call"] = missing_rooms
        violations = await self.sim.violations()
        audit.violations = int(violations["count"])
        audit.details["rate_limit_checked"] = violations["checked"]
        if audit.violations:
            audit.details["rate"] = rate_diagnostics(
                await self.sim.requests(), RATE_LIMIT["rate_per_s"], RATE_LIMIT["burst"]
            )
        # Stalls per partition of the commands topic.
        partition = {s.ident: s.partition for s in ok}
        stall, where = max_stall(
            ((s.t, s.partition) for s in ok),
            ((first[i][0], partition[i]) for i in ids if i in first),
            ended,
        )
        audit.max_stall_s = round(stall, 2)
        audit.details["max_stall_partition"] = where
        audit.details["follower_errors"] = self.follower.errors
        audit.details["topics"] = self.topics.base
        for replica in self.replicas:
            audit.details[f"{replica.name}_starts"] = replica.starts
            audit.details[f"{replica.name}_kills"] = replica.kills
            if replica.unexpected_exits:
                audit.details[f"{replica.name}_unexpected_exits"] = replica.unexpected_exits
        return audit

    def exit_notes(self) -> list[str]:
        """After the rig closed: replicas that exited by themselves, and unclean stops."""
        notes = [f"supervisor: {e}" for e in self.supervisor_events]
        unclean = {name: code for name, code in self.stop_codes.items() if code not in (0, None)}
        if unclean:
            notes.append(f"replicas not stopping cleanly on SIGTERM (exit codes): {unclean}")
        return notes


async def paced(count: int, rate: float, send: Any, start: int = 0) -> None:
    """Call ``send(i)`` for i in [start, start+count) at ``rate`` per second (catching up in
    small bursts when behind; never more than ``count`` calls)."""
    t0 = time.monotonic()
    i = 0
    while i < count:
        due = min(count, int((time.monotonic() - t0) * rate) + 1)
        while i < due:
            await send(start + i)
            i += 1
        await asyncio.sleep(min(0.02, max(0.0, (i / rate) - (time.monotonic() - t0))))
