"""Key-ordered concurrency and offset bookkeeping (pure, no Kafka)."""

from __future__ import annotations

import asyncio

from gateway.commands.keyed import KeyedScheduler
from gateway.commands.offsets import PartitionTracker


async def test_slow_key_does_not_block_other_keys_and_keeps_its_order() -> None:
    """A retrying key delays only its own later records; other keys finish meanwhile."""
    done: list[tuple[str, int]] = []
    release = asyncio.Event()

    async def work(item: tuple[str, int]) -> None:
        key, n = item
        if key == "slow" and n == 0:
            await release.wait()
        done.append(item)

    scheduler: KeyedScheduler[tuple[str, int]] = KeyedScheduler(work, max_in_flight=4)
    for n in range(3):
        scheduler.submit("slow", ("slow", n))
        scheduler.submit("fast", ("fast", n))
    await asyncio.sleep(0.05)
    assert done == [("fast", 0), ("fast", 1), ("fast", 2)]
    release.set()
    await scheduler.idle()
    assert [d for d in done if d[0] == "slow"] == [("slow", 0), ("slow", 1), ("slow", 2)]


async def test_in_flight_is_bounded_across_keys() -> None:
    """Never more than max_in_flight records run at once."""
    running, peak = 0, 0

    async def work(_: int) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    scheduler: KeyedScheduler[int] = KeyedScheduler(work, max_in_flight=3)
    for i in range(20):
        scheduler.submit(i, i)
    await scheduler.idle()
    assert peak == 3


async def test_cancel_abandons_matching_keys_only() -> None:
    """Cancelling a partition's keys leaves the others running to completion."""
    finished: list[str] = []

    async def work(key: str) -> None:
        await asyncio.sleep(0.05)
        finished.append(key)

    scheduler: KeyedScheduler[str] = KeyedScheduler(work, max_in_flight=8)
    for key in ("p0-a", "p0-b", "p1-a"):
        scheduler.submit(key, key)
    await scheduler.cancel(lambda k: str(k).startswith("p0"))
    await scheduler.idle()
    assert finished == ["p1-a"]


def test_tracker_releases_only_the_finished_prefix() -> None:
    """Out-of-order completion: commit stops at the lowest unfinished offset."""
    tracker: PartitionTracker[str] = PartitionTracker()
    for offset in (10, 11, 12, 13):
        tracker.add(offset)
    tracker.finish(12, ["r12"])
    tracker.finish(11, ["r11"])
    assert (tracker.drain().outbound, tracker.pending()) == ([], 2)
    tracker.finish(10, ["r10"])
    drained = tracker.drain()
    assert drained.outbound == ["r10", "r11", "r12"]
    assert drained.commit == 13
    tracker.finish(13, [])
    assert tracker.drain().commit == 14
    assert len(tracker) == 0
