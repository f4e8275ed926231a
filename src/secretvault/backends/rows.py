"""Row codecs shared by the SQL stores (SQLite and PostgreSQL): one home for how a record,
a version timestamp and an audit entry are written to and read from a row.

Timestamps are stored as ISO 8601 text in UTC (``+00:00``), which sorts correctly as text, so
both databases compare them the same way (audit retention uses ``ts < cutoff``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from secretvault import models
from secretvault.crypto.envelope import Envelope
from secretvault.errors import BackendUnavailableError
from secretvault.models import BackendType, SecretStatus, SecretType

if TYPE_CHECKING:
    from secretvault.models import AccessLogEntry, SecretMetadata, SecretRecord

# The pydantic models are reached as ``models.X`` at call time, not imported here: the stores
# import this module, and the CLI's fast ``get`` (cli/fast_get.py) opens a store without
# paying for pydantic.

#: The columns of the ``secrets`` table, in the order ``record_from_row`` reads them.
SECRET_COLUMNS = (
    "id",
    "name",
    "secret_type",
    "status",
    "current_version",
    "metadata",
    "deleted_at",
    "purge_after",
)


def iso(value: datetime | None) -> str | None:
    """A timestamp column's text (None stays NULL)."""
    return value.isoformat() if value is not None else None


def maybe_time(value: str | None) -> datetime | None:
    """A nullable timestamp column."""
    return datetime.fromisoformat(value) if value else None


def time_from(value: str) -> datetime:
    """A NOT NULL timestamp column."""
    return datetime.fromisoformat(value)


#: Validated metadata field values by the exact JSON text they came from. A read then costs a
#: dict lookup and a trusted build instead of a validation (~4 µs, the largest Python cost of
#: an audited read); equal text means equal values, so an entry never goes stale. Values are
#: immutable but ``tags``, which is copied for each record. Bounded: cleared when full.
_META_CACHE: dict[str, dict[str, Any]] = {}
_META_CACHE_MAX = 4096


def metadata_from_json(text: str) -> SecretMetadata:
    """The ``metadata`` column as a ``SecretMetadata`` of the caller's own."""
    fields = _META_CACHE.get(text)
    if fields is None:
        try:
            meta = models.SecretMetadata.model_validate_json(text)
        except ValueError:  # pydantic's ValidationError: the row was altered at rest
            raise damaged_row("metadata") from None
        if len(_META_CACHE) >= _META_CACHE_MAX:
            _META_CACHE.clear()
        _META_CACHE[text] = dict(meta.__dict__)
        return meta
    fields = dict(fields)
    fields["tags"] = list(fields["tags"])
    return models.SecretMetadata.trusted(fields)


def damaged_row(what: str) -> BackendUnavailableError:
    """The error for a stored row whose ``what`` does not parse: changed outside secretvault
    (by hand, or by tampering) or corrupted. Never quotes the row."""
    return BackendUnavailableError(
        f"a stored secret's {what} is damaged (not what secretvault wrote)",
        hint="`secretvault doctor` checks the database; `secretvault restore --from-backup FILE` "
        "brings back a good copy",
    )


_TYPES = {t.value: t for t in SecretType}
_STATUSES = {s.value: s for s in SecretStatus}


def record_from_row(
    row: Sequence[Any], env: Envelope | None = None, backend: BackendType = BackendType.LOCAL
) -> SecretRecord:
    """A ``SecretRecord`` from a ``secrets`` row (``SECRET_COLUMNS`` order) and, when read
    with one, the envelope of a version."""
    sid, name, stype, status, _current, meta, deleted_at, purge_after = row
    # Rows were validated on the way in: every field is named, so the record is built
    # without re-validation (Model.trusted).
    return models.SecretRecord.trusted(
        {
            "id": sid,
            "name": name,
            "secret_type": _TYPES[stype],
            "status": _STATUSES[status],
            "encrypted_value": env.ciphertext if env else b"",
            "nonce": env.nonce if env else b"",
            "salt": env.salt if env else b"",
            "metadata": metadata_from_json(meta),
            "backend": backend,
            "key_id": env.key_id if env else "",
            "deleted_at": maybe_time(deleted_at),
            "purge_after": maybe_time(purge_after),
        }
    )


def audit_entry_from_row(row: Sequence[Any]) -> AccessLogEntry:
    """An ``AccessLogEntry`` from an ``audit`` row (a 12th column, when present, is its lane)."""
    seq, ts, user, action, sid, sname, ip, ok, reason, prev, h, *lane = row
    return models.AccessLogEntry(
        seq=seq,
        timestamp=datetime.fromisoformat(ts),
        user=user,
        action=action,
        secret_id=sid,
        secret_name=sname,
        source_ip=ip,
        success=bool(ok),
        reason=reason,
        prev_hash=prev,
        entry_hash=h,
        lane=lane[0] if lane else 0,
    )
