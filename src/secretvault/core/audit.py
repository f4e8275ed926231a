"""``AuditWriter``: every operation's entry into the control store's hash chain.

Entries are appended inside the operation's unit of work, so they commit with it (or, across
two stores, before the result is returned). Reads served from the opt-in cache are the one
exception: they are buffered (``defer``) and written by the next unit that opens, or by
``flush`` within a second, every 256 reads, and at shutdown — a trade the user opts into with
``cache_enabled``. The chain itself (MACs, head, verification) is ``secretvault.audit.chain``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from secretvault.audit.chain import AuditEvent, ChainReport, verify_trail
from secretvault.backends.base import StaleReadError
from secretvault.errors import AuditError, SecretVaultError
from secretvault.models import secret_id_for

if TYPE_CHECKING:
    from secretvault.backends.base import ControlSession, ControlStore
    from secretvault.models import AccessLogEntry

FLUSH_EVERY_READS = 256
FLUSH_EVERY_SECONDS = 1.0


class AuditWriter:
    """Appends, buffers, reads back and verifies audit entries of one vault."""

    __slots__ = ("_last_flush", "control", "enabled", "key", "pending")

    def __init__(self, control: ControlStore, *, enabled: bool = True, key: bytes = b"") -> None:
        """``control``: where entries live. ``key``: the chain's MAC key (``KeyManager``
        unwraps it; set it before the first append). ``enabled``: the guide's
        ``access_log_enabled``."""
        self.control = control
        self.enabled = enabled
        self.key = key
        self.pending: list[AuditEvent] = []
        self._last_flush = time.monotonic()

    async def append(
        self,
        ctl: ControlSession,
        action: str,
        user: str,
        name: str | None,
        success: bool = True,
        reason: str | None = None,
        source_ip: str | None = None,
        secret_id: str | None = None,
    ) -> None:
        """Append one entry in ``ctl``'s unit. A failure is an ``AuditError``: the caller's
        change must not commit without its entry."""
        if not self.enabled:
            return
        entry = AuditEvent(
            user=user,
            action=action,
            secret_id=secret_id or (secret_id_for(name) if name else None),
            secret_name=name,
            source_ip=source_ip,
            success=success,
            reason=reason,
        )
        try:
            await ctl.append_audit(entry, self.key)
        except (SecretVaultError, StaleReadError):  # the latter: the caller runs it again
            raise
        except Exception as exc:
            raise AuditError(f"could not write the audit entry ({type(exc).__name__})") from None

    def defer(self, entry: AuditEvent) -> None:
        """Buffer an entry for a read served from the cache (written by the next unit)."""
        if self.enabled:
            self.pending.append(entry)

    @property
    def flush_due(self) -> bool:
        """True when buffered entries should be written now (count or age)."""
        return bool(self.pending) and (
            len(self.pending) >= FLUSH_EVERY_READS
            or time.monotonic() - self._last_flush >= FLUSH_EVERY_SECONDS
        )

    async def flush_into(self, ctl: ControlSession) -> None:
        """Write buffered entries inside a unit that is open anyway."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        for entry in pending:
            await ctl.append_audit(entry, self.key)
        self._last_flush = time.monotonic()

    async def flush(self, *, force: bool = False) -> None:
        """Write buffered entries in a transaction of their own when due (or ``force``)."""
        if not self.pending or not (force or self.flush_due):
            return
        async with self.control.transaction() as ctl:
            await self.flush_into(ctl)

    async def entries(self, secret_name: str | None = None) -> list[AccessLogEntry]:
        """Every entry (or one secret's), oldest first, buffered ones included."""
        await self.flush(force=True)
        return await self.control.audit_entries(secret_name)

    async def verify(self) -> ChainReport:
        """Check the whole trail: an edited, deleted, inserted, reordered or cut-off entry is
        reported with its seq (and lane), a missing or unregistered lane by its number."""
        await self.flush(force=True)
        # the trail's state before its entries: an append in between is then an entry past a
        # head, which must follow from it (verify_trail), never a head past the entries read
        trail = await self.control.audit_trail()
        entries = await self.control.audit_entries()
        return verify_trail(self.key, entries, trail)
