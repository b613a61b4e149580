"""Identifier generation: seedable, so a seeded simulator hands out the same ids every run."""

from __future__ import annotations

import random
import uuid

__all__ = ["IdFactory"]


class IdFactory:
    """Makes the vendor's id shapes (32-hex record ids, UUIDs, numeric room ids, counters).

    With a seed the sequence is reproducible, also after :meth:`reset`; without one it is
    drawn from the OS.
    """

    def __init__(self, seed: int | None = None) -> None:
        self._seed = seed
        self._rng = random.Random(seed)
        self._counters: dict[str, int] = {}

    def reset(self) -> None:
        """Restart every sequence (same ids again when seeded)."""
        self._rng = random.Random(self._seed)
        self._counters = {}

    def hex(self, length: int = 32) -> str:
        """A lower-case hex string of ``length`` characters (record ids are 32)."""
        return f"{self._rng.getrandbits(length * 4):0{length}x}"

    def uuid(self) -> str:
        """A version-4-shaped UUID string (call ids, play ids, web record ids)."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def digits(self, length: int) -> str:
        """A decimal string of ``length`` digits without a leading zero (room ids are 11)."""
        return str(self._rng.randrange(10 ** (length - 1), 10**length))

    def next_int(self, sequence: str) -> int:
        """The next value (from 1) of a named counter (sip gate ids, account ids, ...)."""
        value = self._counters.get(sequence, 0) + 1
        self._counters[sequence] = value
        return value
