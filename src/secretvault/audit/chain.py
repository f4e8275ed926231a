"""The audit hash chain, written down once.

``entry_hash = HMAC-SHA256(audit_key, prev_hash | canonical(entry))`` where ``canonical`` is the
JSON array of (seq, timestamp, user, action, secret_id, secret_name, source_ip, success, reason).
Because ``seq`` and ``prev_hash`` are inside the MAC, editing, deleting, inserting or reordering
an entry breaks every hash after it. The MAC key is random, stored wrapped under the master key,
so someone who can write the database but does not hold the master key cannot re-forge the chain.
Retention keeps an *anchor* (seq and hash of the last purged entry) so the remainder still verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Protocol

from secretvault.models import utcnow

if TYPE_CHECKING:
    from secretvault.models import AccessLogEntry

GENESIS = "0" * 64


class Chained(Protocol):
    """What the chain reads of an entry (AccessLogEntry when read back, AuditEvent when written)."""

    seq: int
    timestamp: datetime
    user: str
    action: str
    secret_id: str | None
    secret_name: str | None
    source_ip: str | None
    success: bool
    reason: str | None
    prev_hash: str
    entry_hash: str


@dataclass(slots=True)
class AuditEvent:
    """An entry on its way in. A plain dataclass: writing one is on every read's hot path, where
    a validating model costs more than the SQL."""

    user: str
    action: str
    secret_id: str | None = None
    secret_name: str | None = None
    source_ip: str | None = None
    success: bool = True
    reason: str | None = None
    timestamp: datetime = field(default_factory=utcnow)
    seq: int = 0
    prev_hash: str = ""
    entry_hash: str = ""


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def canonical(entry: Chained, ts: str | None = None) -> bytes:
    """Stable byte form of the fields the chain protects: the compact JSON array (what
    ``_ENCODE`` makes of the list; a test holds the two equal). ``ts``: the timestamp's ISO
    text when the caller has it already (it stores the same text).

    Written out with the json module's own C string encoder rather than through
    ``JSONEncoder.encode``, which builds a new C encoder per call (~1 µs of every read)."""
    seq, success = entry.seq, entry.success
    if type(seq) is not int or type(success) is not bool:  # only ever a caller's bug
        return _canonical_json(entry, ts)
    s = encode_basestring
    sid, name, ip, reason = entry.secret_id, entry.secret_name, entry.source_ip, entry.reason
    return (
        f"[{seq},{s(ts if ts is not None else entry.timestamp.isoformat())},{s(entry.user)},"
        f"{s(entry.action)},{'null' if sid is None else s(sid)},"
        f"{'null' if name is None else s(name)},{'null' if ip is None else s(ip)},"
        f"{'true' if success else 'false'},{'null' if reason is None else s(reason)}]"
    ).encode()


def _canonical_json(entry: Chained, ts: str | None = None) -> bytes:
    """The definition ``canonical`` implements, through the json module."""
    return _ENCODE(
        [
            entry.seq,
            ts if ts is not None else entry.timestamp.isoformat(),
            entry.user,
            entry.action,
            entry.secret_id,
            entry.secret_name,
            entry.source_ip,
            entry.success,
            entry.reason,
        ]
    ).encode("utf-8")


@lru_cache(maxsize=8)
def _keyed(key: bytes) -> hmac.HMAC:
    """An HMAC already keyed: copying it skips the key schedule on every entry (hot path)."""
    return hmac.new(key, digestmod=hashlib.sha256)


def _mac(key: bytes, message: bytes) -> str:
    mac = _keyed(key).copy()
    mac.update(message)
    return mac.hexdigest()


def seal(key: bytes, prev_hash: str, entry: Chained, ts: str | None = None) -> str:
    """The hash of ``entry`` chained to ``prev_hash`` (``ts``: see ``canonical``)."""
    return _mac(key, prev_hash.encode() + b"|" + canonical(entry, ts))


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Outcome of verifying the chain."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""


def head_mac(key: bytes, seq: int, entry_hash: str) -> str:
    """MAC of the chain's head. Stored beside the chain, it makes truncation detectable: cutting
    the newest entries would need a head MAC for an older entry, which only the key can make."""
    return _mac(key, f"head|{seq}|{entry_hash}".encode())


def verify_chain(
    key: bytes,
    entries: Iterable[AccessLogEntry],
    anchor_seq: int = 0,
    anchor_hash: str = GENESIS,
    head: tuple[int, str, str] | None = None,
) -> ChainReport:
    """Walk entries in seq order; report the first that does not follow from its predecessor,
    then check the last one is the recorded head (seq, hash, MAC)."""
    prev_seq, prev_hash, n = anchor_seq, anchor_hash, 0
    for entry in entries:
        n += 1
        if entry.seq != prev_seq + 1:
            return ChainReport(False, n, entry.seq, f"gap: expected seq {prev_seq + 1}")
        if entry.prev_hash != prev_hash:
            return ChainReport(False, n, entry.seq, "prev_hash does not match predecessor")
        if not hmac.compare_digest(seal(key, prev_hash, entry), entry.entry_hash):
            return ChainReport(False, n, entry.seq, "entry was altered")
        prev_seq, prev_hash = entry.seq, entry.entry_hash
    if head is not None:
        seq, h, mac = head
        if not mac:
            return ChainReport(
                False, n, seq + 1, f"entries after {seq} are missing (it carries no head MAC)"
            )
        if not hmac.compare_digest(head_mac(key, seq, h), mac):
            return ChainReport(False, n, seq, "the recorded head was altered")
        if (prev_seq, prev_hash) != (seq, h):
            return ChainReport(False, n, prev_seq + 1, f"entries after {prev_seq} are missing")
    return ChainReport(True, n)
