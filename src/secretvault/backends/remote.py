"""What the server-backed secret stores (``vault``, ``aws``) share: the write buffer that makes
a session a unit of work, record fields as string pairs, the client-side-encryption wire form,
and listing filters.

**Sessions.** A server has no transaction that spans several calls, so a session reads from the
server at once but *queues* its writes and sends them, in order, when the unit commits (the
secret side commits first, the audit side second — ``backends/stores.py``). A unit that fails
before its commit therefore sends nothing ("a failed unit writes nothing"). A write that fails
at commit raises a ``SecretVaultError`` and the unit's audit side rolls back; the facade then
audits the failure on its own. Reads in a session do not see the session's own queued writes;
no operation of the facade reads back what it wrote in the same unit.

**Record fields.** Our record (type, status, metadata, deletion times, our version number and
stage labels) travels as ``sv:``-prefixed string pairs: Vault KV v2 ``custom_metadata``, AWS
tags. A secret another tool created has none of them and reads as an ACTIVE generic secret.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from secretvault.backends.base import NativeValue
from secretvault.crypto.envelope import Envelope
from secretvault.errors import ConfigurationError, VersionConflictError
from secretvault.models import (
    BackendType,
    SecretMetadata,
    SecretRecord,
    SecretStatus,
    SecretType,
    secret_id_for,
    utcnow,
)

PREFIX = "sv:"
#: A value stored by ``client_side_encryption: true``: this marker + base64 of the envelope.
ENVELOPE_MARKER = "secretvault-envelope:v1:"
#: The type given to a secret another tool created (it carries no ``sv:type``).
FOREIGN_TYPE = SecretType.API_KEY

_TYPES = {t.value: t for t in SecretType}
_STATUSES = {s.value: s for s in SecretStatus}


def encode_payload(payload: Envelope | NativeValue) -> str:
    """The text a store keeps for one version: the value itself, or our marked envelope."""
    if isinstance(payload, NativeValue):
        return payload.value
    return ENVELOPE_MARKER + base64.b64encode(payload.to_json().encode()).decode()


def decode_payload(text: str) -> Envelope | NativeValue:
    """Inverse of ``encode_payload`` (text without the marker is a native value)."""
    if text.startswith(ENVELOPE_MARKER):
        raw = base64.b64decode(text[len(ENVELOPE_MARKER) :]).decode()
        return Envelope.from_json(raw)
    return NativeValue(text)


def _ts(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _dt(value: str | None) -> datetime | None:
    """A stored time; None when absent or not a time (another tool's tag)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def record_fields(record: SecretRecord, *, with_description: bool = True) -> dict[str, str]:
    """The record as ``sv:`` string pairs (empty values are left out)."""
    md = record.metadata
    fields = {
        "type": record.secret_type.value,
        "status": record.status.value,
        "version": str(md.version),
        "created_at": _ts(md.created_at),
        "updated_at": _ts(md.updated_at),
        "created_by": md.created_by,
        "rotation_days": str(md.rotation_days),
        "expires_at": _ts(md.expires_at),
        "last_rotated": _ts(md.last_rotated),
        "service": md.service or "",
        "environment": md.environment,
        "deleted_at": _ts(record.deleted_at),
        "purge_after": _ts(record.purge_after),
    }
    if with_description:
        fields["description"] = md.description
        fields["tags"] = json.dumps(md.tags) if md.tags else ""
    return {PREFIX + k: v for k, v in fields.items() if v}


def ints(text: str | None) -> list[int]:
    """A comma-separated list of version numbers (a stage label or tag value)."""
    return [int(x) for x in (text or "").split(",") if x]


def record_from_fields(
    name: str,
    fields: dict[str, str],
    *,
    backend: BackendType,
    version: int,
    created: datetime | None = None,
    description: str | None = None,
    tags: list[str] | None = None,
) -> SecretRecord:
    """Rebuild a record from ``record_fields`` pairs. ``version`` is our current version as
    the store derived it; a foreign secret gets defaults (ACTIVE, created ``created``)."""

    def get(key: str) -> str | None:
        return fields.get(PREFIX + key) or None

    now = created or utcnow()
    raw_tags = get("tags")
    tag_list = tags if tags is not None else (json.loads(raw_tags) if raw_tags else [])
    if not isinstance(tag_list, list) or not all(isinstance(t, str) for t in tag_list):
        tag_list = []  # not ours after all: another tool's "sv:tags"
    # Every field is parsed to its type here, so the models are built without re-validation
    # (this runs on every read: validation costs more than the parsing).
    metadata = SecretMetadata.model_construct(
        created_at=_dt(get("created_at")) or now,
        updated_at=_dt(get("updated_at")) or now,
        expires_at=_dt(get("expires_at")),
        rotation_days=_int(get("rotation_days"), 90),
        last_rotated=_dt(get("last_rotated")),
        version=max(version, 1),
        created_by=get("created_by") or "external",
        description=description if description is not None else (get("description") or ""),
        tags=tag_list,
        service=get("service"),
        environment=get("environment") or "development",
    )
    return SecretRecord.model_construct(
        id=secret_id_for(name),
        name=name,
        secret_type=_TYPES.get(get("type") or "", FOREIGN_TYPE),
        status=_STATUSES.get(get("status") or "", SecretStatus.ACTIVE),
        encrypted_value=b"",
        nonce=b"",
        salt=b"",
        metadata=metadata,
        backend=backend,
        key_id="",
        deleted_at=_dt(get("deleted_at")),
        purge_after=_dt(get("purge_after")),
    )


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


def value_from_mapping(data: dict[str, Any]) -> str:
    """The value of a key/value secret: key ``value``; else a sole key's value; else the whole
    mapping as JSON text (a secret written by another tool is read as it is)."""
    if "value" in data and len(data) == 1:
        raw = data["value"]
    elif len(data) == 1:
        raw = next(iter(data.values()))
    else:
        return json.dumps(data, sort_keys=True)
    return raw if isinstance(raw, str) else json.dumps(raw)


Write = Callable[[], Awaitable[None]]


def conflict(name: str, found: int | None, cas: int) -> VersionConflictError:
    """The error for a compare-and-set write that lost (``found``: the store's version)."""
    return VersionConflictError(
        f"secret {name!r} is at version {found if found is not None else 'none'}, not {cas}: "
        "another writer changed it",
        hint="read it again and retry",
    )


class BufferedSession:
    """Queues writes; ``commit`` sends them in order (see the module docstring).

    ``label`` names the backend in errors; ``client_side``: values are our envelopes."""

    def __init__(self, label: str, client_side: bool) -> None:
        self._writes: list[Write] = []
        self.changed = False
        self.label = label
        self.client_side = client_side

    async def envelopes(self) -> list[tuple[str, int, Envelope]]:
        """Empty: the server encrypts the values. With client-side encryption the server's
        versions (holding our envelopes) are immutable, so ``rekey`` is refused."""
        if self.client_side:
            raise ConfigurationError(
                f"rekey is not supported on {self.label} with client_side_encryption "
                "(stored versions cannot be rewritten in place)",
                hint="rotate the secrets instead; the old key stays needed for old versions",
            )
        return []

    async def rewrap(self, secret_id: str, version: int, env: Envelope) -> None:
        """Never called (``envelopes`` lists nothing or refuses)."""
        raise ConfigurationError(f"{self.label} keeps no envelopes to rewrap")

    def queue(self, write: Write) -> None:
        """Send ``write`` when the unit commits."""
        self._writes.append(write)
        self.changed = True

    async def commit(self) -> None:
        """Send the queued writes, in order; the first failure stops the rest."""
        writes, self._writes = self._writes, []
        for write in writes:
            await write()


class SessionContext:
    """``async with store.session() as s``: commit on success, drop the queue on error."""

    __slots__ = ("session",)

    def __init__(self, session: BufferedSession) -> None:
        self.session = session

    async def __aenter__(self) -> Any:
        return self.session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.session.commit()
