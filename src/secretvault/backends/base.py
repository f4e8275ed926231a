"""The storage Protocol every backend implements, and the plain data it moves.

A backend stores records, immutable encrypted versions, and opaque audit rows; it never decides
access, never sees plaintext, never builds audit entries. Audit rows ride in the same transaction
as the change they record (``Transaction.append_audit``) because DESIGN requires "a read is not
returned unless its entry is written" — the only way to guarantee that is one commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from secretvault.audit.chain import AuditEvent
from secretvault.crypto.envelope import Envelope
from secretvault.models import (
    AccessLogEntry,
    BackendType,
    SecretRecord,
    SecretStatus,
    SecretType,
    SecretVersionInfo,
)


@dataclass(frozen=True, slots=True)
class BackendFeatures:
    """What a store does natively; ``SecretVault`` fills in the rest the same way everywhere."""

    versions: bool = True
    soft_delete: bool = True
    tags: bool = True
    transactional_audit: bool = True


@dataclass(slots=True)
class StoredVersion:
    """One immutable encrypted version."""

    version: int
    envelope: Envelope
    created_at: datetime
    created_by: str
    stage: str = "current"


@dataclass(slots=True)
class SecretFilter:
    """``list_secrets`` filters; None means "any"."""

    status: SecretStatus | None = None
    secret_type: SecretType | None = None
    tags: Sequence[str] = field(default_factory=tuple)
    service: str | None = None
    environment: str | None = None


class Transaction(Protocol):
    """One atomic unit of work. Everything done through it commits together or not at all."""

    async def get(self, name: str) -> SecretRecord | None: ...

    async def read(
        self, name: str, version: int | None = None
    ) -> tuple[SecretRecord, StoredVersion | None] | None: ...

    async def get_version(self, secret_id: str, version: int) -> StoredVersion | None: ...

    async def create(self, record: SecretRecord, version: StoredVersion) -> None: ...

    async def add_version(
        self, record: SecretRecord, version: StoredVersion, max_versions: int
    ) -> None: ...

    async def update(self, record: SecretRecord) -> None: ...

    async def purge(self, secret_id: str) -> None: ...

    async def list(self, flt: SecretFilter) -> list[SecretRecord]: ...

    async def versions(self, secret_id: str) -> list[SecretVersionInfo]: ...

    async def append_audit(self, entry: AuditEvent, key: bytes) -> AuditEvent: ...


class SecretBackend(Protocol):
    """A secret store. Async so remote stores (Vault, AWS, Azure) fit the same shape."""

    backend_type: BackendType
    features: BackendFeatures

    async def open(self, *, create: bool) -> None: ...

    async def close(self) -> None: ...

    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...

    async def generation(self) -> int: ...

    async def audit_entries(
        self, secret_name: str | None = None, after_seq: int = 0
    ) -> list[AccessLogEntry]: ...
