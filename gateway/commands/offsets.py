"""Per-partition offset bookkeeping for out-of-order completion (Parallel Consumer style).

Records of one partition finish in any order (different keys run concurrently), but Kafka
commits one position per partition. The tracker keeps each partition's records in offset
order with their outbound messages; ``drain`` releases the finished prefix: the messages to
publish, in offset order, and the position to commit (the lowest unfinished offset). A result
is published in the same transaction that commits its offset, never before, so a crash can
neither lose it nor publish it twice.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Drained", "PartitionTracker"]

T = TypeVar("T")


@dataclass(slots=True)
class Drained(Generic[T]):
    """What a partition can release now."""

    outbound: list[T] = field(default_factory=list)
    commit: int | None = None  # the next offset to consume, or None if nothing finished


class PartitionTracker(Generic[T]):
    """The records of one partition between fetch and commit."""

    def __init__(self) -> None:
        # offset -> outbound messages once finished, None while pending
        self._entries: OrderedDict[int, list[T] | None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, offset: int) -> None:
        """A fetched record (offsets arrive in increasing order)."""
        self._entries[offset] = None

    def finish(self, offset: int, outbound: list[T]) -> None:
        """A record is done; ``outbound`` is what must be published for it."""
        if offset in self._entries:
            self._entries[offset] = outbound

    def drain(self) -> Drained[T]:
        """Pop the finished prefix."""
        out: Drained[T] = Drained()
        while self._entries:
            offset, value = next(iter(self._entries.items()))
            if value is None:
                break
            self._entries.popitem(last=False)
            out.outbound.extend(value)
            out.commit = offset + 1
        return out

    def pending(self) -> int:
        """Records not finished yet."""
        return sum(1 for v in self._entries.values() if v is None)
