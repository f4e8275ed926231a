"""``ReadCache``: the opt-in in-process cache of decrypted reads (``cache_enabled``).

An entry is fresh while its TTL runs and the secret store's generation is the one seen *before*
the read that filled it — so a change by any process (which bumps the generation) can only make
an entry look stale, never fresh. Writes in this process clear the cache outright. Values live
only in this process's memory; nothing is written anywhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from secretvault.models import SecretRecord

if TYPE_CHECKING:
    from secretvault.backends.base import SecretStore


@dataclass(slots=True)
class CacheEntry:
    """One cached read."""

    value: str
    record: SecretRecord
    expires: float
    generation: int

    def __repr__(self) -> str:  # never show the value
        return f"CacheEntry({self.record.name!r}, generation={self.generation})"


class ReadCache:
    """(name, version) → decrypted value and record, for one vault."""

    __slots__ = ("enabled", "entries", "store", "ttl")

    def __init__(self, store: SecretStore, *, enabled: bool, ttl_seconds: float) -> None:
        self.store = store
        self.enabled = enabled
        self.ttl = ttl_seconds
        self.entries: dict[tuple[str, int | None], CacheEntry] = {}

    async def generation(self) -> int:
        """The store's generation to stamp a read with (-1 when caching is off)."""
        return await self.store.generation() if self.enabled else -1

    async def get(self, name: str, version: int | None) -> CacheEntry | None:
        """A fresh entry, or None (a stale one is dropped)."""
        if not self.enabled:
            return None
        entry = self.entries.get((name, version))
        if entry is None:
            return None
        if time.monotonic() >= entry.expires or await self.store.generation() != entry.generation:
            self.entries.pop((name, version), None)
            return None
        return entry

    def put(
        self, name: str, version: int | None, value: str, record: SecretRecord, generation: int
    ) -> None:
        """Remember a read; ``generation`` must have been taken before the read."""
        if self.enabled and generation >= 0:
            self.entries[(name, version)] = CacheEntry(
                value, record, time.monotonic() + self.ttl, generation
            )

    def clear(self) -> None:
        """Drop every entry (after a write by this process, a restore, a rekey)."""
        self.entries.clear()
