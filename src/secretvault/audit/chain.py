"""The audit hash chain, written down once.

``entry_hash = HMAC-SHA256(audit_key, prev_hash | canonical(entry))`` where ``canonical`` is the
JSON array of (seq, timestamp, user, action, secret_id, secret_name, source_ip, success, reason).
Because ``seq`` and ``prev_hash`` are inside the MAC, editing, deleting, inserting or reordering
an entry breaks every hash after it. The MAC key is random, stored wrapped under the master key,
so someone who can write the database but does not hold the master key cannot re-forge the chain.
Retention keeps an *anchor* (seq and hash of the last purged entry) so the remainder still verifies.

A trail with many concurrent writers (the PostgreSQL store) is several such chains, *lanes*,
each appended to by one connection at a time, so writers never wait on one another's head:

- lane ``n`` starts from ``lane_genesis(key, n)`` (lane 0 from ``GENESIS``, so a one-chain
  trail is lane 0 unchanged); an entry moved into another lane breaks that lane's chain.
- each lane has its own anchor and head MAC (truncating any lane shows).
- the set of lanes is recorded as ``count:MAC(key, "lanes|count")`` (``registry_value``), so
  removing a whole lane shows too.

``verify_trail`` checks all of it; ``verify_chain`` is one lane.
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
    lane: int


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
    lane: int = 0  # which chain of the trail the store put it in


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
    lane: int = 0  # the lane of ``first_bad_seq`` (always 0 on a one-chain trail)

    @property
    def problem(self) -> str:
        """Where and why it fails, to follow "does not verify" in a message: " at entry 7:
        entry was altered" (the entry as ``lane.seq`` outside lane 0), or ": lane 2 is
        missing" when no one entry is to blame."""
        if self.first_bad_seq is None:
            return f": {self.reason}"
        return f" at entry {entry_label(self.lane, self.first_bad_seq)}: {self.reason}"


def entry_label(lane: int, seq: int) -> str:
    """How an entry is named to people: its seq, as ``lane.seq`` outside lane 0."""
    return str(seq) if lane == 0 else f"{lane}.{seq}"


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


def lane_genesis(key: bytes, lane: int) -> str:
    """The ``prev_hash`` of a lane's first entry: ``GENESIS`` for lane 0, a MAC naming the
    lane for the others (binds every entry to its lane)."""
    return GENESIS if lane == 0 else _mac(key, f"lane|{lane}".encode())


def registry_value(key: bytes, count: int) -> str:
    """The recorded number of lanes, MACed: ``count:MAC``."""
    return f"{count}:{_mac(key, f'lanes|{count}'.encode())}"


@dataclass(frozen=True, slots=True)
class LaneState:
    """What a store records beside one lane's entries: its anchor (``anchor_seq`` 0: nothing
    purged) and its head (``None`` before the first entry)."""

    lane: int
    anchor_seq: int = 0
    anchor_hash: str = ""
    head: tuple[int, str, str] | None = None


@dataclass(frozen=True, slots=True)
class TrailState:
    """Every lane of a trail and its registry (``None``: a one-chain trail that records none,
    like the local store's)."""

    lanes: tuple[LaneState, ...]
    registry: str | None = None


def verify_trail(key: bytes, entries: Iterable[AccessLogEntry], trail: TrailState) -> ChainReport:
    """Verify every lane of ``trail`` (``entries``: all of them, any order) and that the lanes
    present are the lanes registered. The report counts entries over all lanes."""
    by_lane: dict[int, list[AccessLogEntry]] = {}
    for entry in entries:
        by_lane.setdefault(entry.lane, []).append(entry)
    known = {state.lane for state in trail.lanes}
    stray = sorted(set(by_lane) - known)
    if stray:
        lane = stray[0]
        return ChainReport(
            False, 0, by_lane[lane][0].seq, f"entries in lane {lane}, which has no head", lane
        )
    if trail.registry is None:
        if known - {0}:
            return ChainReport(False, 0, None, "the record of the trail's lanes is missing")
    else:
        count_text, _, _mac_text = trail.registry.partition(":")
        if not count_text.isdigit() or not hmac.compare_digest(
            registry_value(key, int(count_text)), trail.registry
        ):
            return ChainReport(False, 0, None, "the record of the trail's lanes was altered")
        missing = sorted(set(range(int(count_text))) - known)
        if missing:
            return ChainReport(False, 0, None, f"lane {missing[0]} is missing", missing[0])
        extra = sorted(known - set(range(int(count_text))))
        if extra:
            return ChainReport(False, 0, None, f"lane {extra[0]} is not registered", extra[0])
    checked = 0
    for state in sorted(trail.lanes, key=lambda s: s.lane):
        lane_entries = sorted(by_lane.get(state.lane, ()), key=lambda e: e.seq)
        if state.head is None and trail.registry is not None:
            # a lane is created with its first entry, in one transaction: it always has a head
            return ChainReport(False, checked, None, f"lane {state.lane} has no head", state.lane)
        anchor_hash = state.anchor_hash if state.anchor_seq else lane_genesis(key, state.lane)
        # Entries appended after the trail's state was read (a live fleet) continue the chain
        # past the recorded head: the head must be on the walk, the rest must follow from it.
        upto = state.head[0] if state.head is not None else 0
        before = [e for e in lane_entries if e.seq <= upto] if state.head else lane_entries
        report = verify_chain(key, before, state.anchor_seq, anchor_hash, state.head)
        if report.ok and state.head is not None and len(before) < len(lane_entries):
            after = lane_entries[len(before) :]
            more = verify_chain(key, after, state.head[0], state.head[1])
            report = ChainReport(
                more.ok, report.checked + more.checked, more.first_bad_seq, more.reason
            )
        checked += report.checked
        if not report.ok:
            where = f"lane {state.lane}: " if trail.registry is not None else ""
            return ChainReport(
                False, checked, report.first_bad_seq, where + report.reason, state.lane
            )
    return ChainReport(True, checked)
