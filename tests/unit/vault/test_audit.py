"""The hash-chained audit trail (docs/architecture.md, "The audit chain"): every operation is
recorded in the same transaction as its change, tampering is detected, values never appear,
retention keeps the remainder verifiable."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vaulttest_helpers import all_columns_text, distinctive, raw_db

import secretvault.vault as vault_mod
from secretvault import (
    AuthorizationError,
    SecretNotFoundError,
    SecretType,
    SecretVault,
    SecretVaultError,
)
from secretvault.audit import chain
from secretvault.audit.chain import AuditEvent
from secretvault.models import AccessLogEntry


async def _populate(vault: SecretVault) -> None:
    """A handful of operations: create, reads, a failed read, update, delete."""
    await vault.store_secret(SecretType.API_KEY, "a", "value-a-1234567890", created_by="alice")
    await vault.store_secret(SecretType.API_KEY, "b", "value-b-1234567890", created_by="bob")
    await vault.get_secret("a", user="carol", source_ip="10.0.0.1")
    await vault.update_secret("a", "value-a2-1234567890", user="alice")
    with pytest.raises(SecretNotFoundError):
        await vault.get_secret("nope", user="eve", source_ip="10.6.6.6")
    await vault.get_secret("b", user="carol")
    await vault.get_secret("a", user="dave", source_ip="10.0.0.4")


#: An entry's columns (the newest row also carries the head MAC, ``head``).
ENTRY_COLUMNS = (
    "seq, ts, user, action, secret_id, secret_name, source_ip, success, reason, prev_hash, hash"
)


def _rows(vault: SecretVault) -> list[tuple]:
    conn = raw_db(vault)
    try:
        return conn.execute(f"SELECT {ENTRY_COLUMNS} FROM audit ORDER BY seq").fetchall()
    finally:
        conn.close()


def _exec(vault: SecretVault, *statements: tuple[str, tuple]) -> None:
    conn = raw_db(vault)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for sql, args in statements:
            conn.execute(sql, args)
        conn.execute("COMMIT")
    finally:
        conn.close()


async def test_every_operation_is_audited(vault: SecretVault) -> None:
    await vault.store_secret(
        SecretType.API_KEY, "s", "value-1234567890", created_by="alice", source_ip="192.168.1.100"
    )
    await vault.get_secret("s", user="john@company.com", source_ip="192.168.1.101")
    with pytest.raises(SecretNotFoundError):
        await vault.get_secret("missing", user="eve", source_ip="192.168.1.102")
    await vault.update_secret("s", "value-2234567890", user="bob", source_ip="192.168.1.103")
    await vault.delete_secret("s", user="admin@company.com", source_ip="192.168.1.104")
    log = await vault.get_access_log()
    got = [
        (e.user, e.action, e.secret_name, e.success, e.source_ip)
        for e in log.entries
        if e.secret_name in ("s", "missing")
    ]
    assert got == [
        ("alice", "create", "s", True, "192.168.1.100"),
        ("john@company.com", "read", "s", True, "192.168.1.101"),
        ("eve", "read", "missing", False, "192.168.1.102"),
        ("bob", "update", "s", True, "192.168.1.103"),
        ("admin@company.com", "delete", "s", True, "192.168.1.104"),
    ]
    create = next(e for e in log.entries if e.action == "create")
    assert create.secret_id == vault_mod.secret_id_for("s")
    failed = next(e for e in log.entries if not e.success)
    assert failed.secret_id == vault_mod.secret_id_for("missing")
    assert "SecretNotFoundError" in (failed.reason or "")
    for e in log.entries:
        assert e.timestamp.tzinfo is not None
        assert abs((datetime.now(UTC) - e.timestamp).total_seconds()) < 120


async def test_other_operations_audited(vault: SecretVault) -> None:
    await vault.store_secret(SecretType.API_KEY, "x", "value-1234567890")
    await vault.revoke_secret("x", user="sec", reason="leaked")
    await vault.update_metadata("x", status="active", user="sec")
    await vault.soft_delete_secret("x", user="ops")
    await vault.restore_secret("x", user="ops")
    await vault.rotate_secret("x", new_value="value-2234567890", user="rot")
    await vault.history("x", user="aud")
    await vault.list_secrets(user="lister")
    await vault.soft_delete_secret("x", user="ops")
    await vault.purge_secret("x", user="ops")
    actions = [(e.user, e.action) for e in (await vault.get_access_log()).entries]
    for expected in [
        ("sec", "revoke"),
        ("sec", "update_metadata"),
        ("ops", "soft_delete"),
        ("ops", "restore"),
        ("rot", "rotate"),
        ("aud", "history"),
        ("lister", "list"),
        ("ops", "purge"),
    ]:
        assert expected in actions, expected


async def test_denied_operation_audited(open_vault) -> None:
    vault = await open_vault(rbac_enabled=True)
    await vault.grant("root", "admin", "*")
    await vault.store_secret(SecretType.API_KEY, "guarded", "value-1234567890", created_by="root")
    with pytest.raises(AuthorizationError):
        await vault.get_secret("guarded", user="mallory", source_ip="203.0.113.9")
    with pytest.raises(AuthorizationError):
        await vault.update_secret("guarded", "value-2234567890", user="mallory")
    with pytest.raises(AuthorizationError):
        await vault.store_secret(SecretType.API_KEY, "new", "value-1234567890", created_by="mal")
    log = await vault.get_access_log(user="root")
    denied = [(e.user, e.action, e.secret_name, e.source_ip) for e in log.entries if not e.success]
    assert denied == [
        ("mallory", "read", "guarded", "203.0.113.9"),
        ("mallory", "update", "guarded", None),
        ("mal", "create", "new", None),
    ]
    assert all("AuthorizationError" in (e.reason or "") for e in log.entries if not e.success)
    # a denied update changed nothing
    assert (await vault.get_secret("guarded", user="root"))[0] == "value-1234567890"


async def test_access_log_counts(vault: SecretVault) -> None:
    await _populate(vault)
    for _ in range(2):
        with pytest.raises(SecretNotFoundError):
            await vault.get_secret("a", version=42, user="eve")
    log = await vault.get_access_log("a")
    assert log.secret_name == "a"
    assert all(e.secret_name == "a" for e in log.entries)
    assert [e.action for e in log.entries] == ["create", "read", "update", "read", "read", "read"]
    assert log.total_accesses == 6
    assert log.failed_accesses == 2
    missing = await vault.get_access_log("nope")
    assert (missing.total_accesses, missing.failed_accesses) == (1, 1)
    everything = await vault.get_access_log()
    assert everything.total_accesses == len(_rows(vault))


async def test_verify_ok_and_survives_reopen(open_vault) -> None:
    vault = await open_vault()
    await _populate(vault)
    report = await vault.verify_audit()
    assert report.ok and report.first_bad_seq is None
    assert report.checked == len(_rows(vault))
    await vault.shutdown()
    again = await open_vault()
    assert (await again.verify_audit()).ok
    seqs = [r[0] for r in _rows(again)]
    assert seqs == list(range(1, len(seqs) + 1))


def _seq_of(vault: SecretVault, where: str, args: tuple = ()) -> int:
    conn = raw_db(vault)
    try:
        return conn.execute(f"SELECT seq FROM audit WHERE {where} ORDER BY seq", args).fetchone()[0]
    finally:
        conn.close()


async def test_tamper_edit_user(vault: SecretVault) -> None:
    await _populate(vault)
    seq = _seq_of(vault, "user = 'carol'")
    _exec(vault, ("UPDATE audit SET user = 'nobody' WHERE seq = ?", (seq,)))
    report = await vault.verify_audit()
    assert not report.ok and report.first_bad_seq == seq


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("action", "list"),
        ("success", 0),
        ("source_ip", "1.2.3.4"),
        ("secret_name", "b"),
        ("ts", "2020-01-01T00:00:00+00:00"),
        ("reason", "whatever"),
    ],
)
async def test_tamper_edit_any_field(vault: SecretVault, column: str, value: object) -> None:
    await _populate(vault)
    seq = _seq_of(vault, "user = 'dave'")
    _exec(vault, (f"UPDATE audit SET {column} = ? WHERE seq = ?", (value, seq)))
    report = await vault.verify_audit()
    assert not report.ok and report.first_bad_seq == seq


async def test_tamper_delete_middle_row(vault: SecretVault) -> None:
    await _populate(vault)
    total = len(_rows(vault))
    middle = total // 2
    _exec(vault, ("DELETE FROM audit WHERE seq = ?", (middle,)))
    report = await vault.verify_audit()
    assert not report.ok and report.first_bad_seq == middle + 1


async def test_tamper_delete_and_renumber(vault: SecretVault) -> None:
    """Deleting a row and shifting the later seqs down still breaks the chain."""
    await _populate(vault)
    middle = len(_rows(vault)) // 2
    _exec(
        vault,
        ("DELETE FROM audit WHERE seq = ?", (middle,)),
        ("UPDATE audit SET seq = seq - 1 WHERE seq > ?", (middle,)),
    )
    report = await vault.verify_audit()
    assert not report.ok and report.first_bad_seq == middle


async def test_tamper_swap_rows(vault: SecretVault) -> None:
    await _populate(vault)
    k = 3
    _exec(
        vault,
        ("UPDATE audit SET seq = -1 WHERE seq = ?", (k,)),
        ("UPDATE audit SET seq = ? WHERE seq = ?", (k, k + 1)),
        ("UPDATE audit SET seq = ? WHERE seq = -1", (k + 1,)),
    )
    report = await vault.verify_audit()
    assert not report.ok and report.first_bad_seq == k


async def test_tamper_insert_forged_row(vault: SecretVault) -> None:
    await _populate(vault)
    last_seq, last_hash = _rows(vault)[-1][0], _rows(vault)[-1][-1]
    forged = (
        last_seq + 1,
        datetime.now(UTC).isoformat(),
        "alice",
        "read",
        vault_mod.secret_id_for("a"),
        "a",
        None,
        1,
        None,
        last_hash,
        "f" * 64,
    )
    _exec(vault, (f"INSERT INTO audit({ENTRY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", forged))
    report = await vault.verify_audit()
    assert not report.ok and report.first_bad_seq == last_seq + 1


async def test_tamper_insert_copied_row_in_middle(vault: SecretVault) -> None:
    """Re-inserting a genuine row's content (valid hash) at another place is detected."""
    await _populate(vault)
    rows = _rows(vault)
    k = 3
    copy = (k + 1, *rows[0][1:])
    _exec(
        vault,
        ("UPDATE audit SET seq = seq + 1000 WHERE seq > ?", (k,)),
        ("UPDATE audit SET seq = seq - 999 WHERE seq > 1000", ()),
        (f"INSERT INTO audit({ENTRY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", copy),
    )
    report = await vault.verify_audit()
    assert not report.ok and report.first_bad_seq == k + 1


async def test_tamper_prev_hash(vault: SecretVault) -> None:
    await _populate(vault)
    k = 4
    _exec(vault, ("UPDATE audit SET prev_hash = ? WHERE seq = ?", ("0" * 64, k)))
    report = await vault.verify_audit()
    assert not report.ok and report.first_bad_seq == k


async def test_tamper_recomputed_plain_sha256_hash(vault: SecretVault) -> None:
    """Without the MAC key a forger cannot recompute the chain."""
    import hashlib

    await _populate(vault)
    k = 2
    row = _rows(vault)[k - 1]
    fake = hashlib.sha256(repr(row).encode()).hexdigest()
    _exec(
        vault,
        ("UPDATE audit SET user = 'x', hash = ? WHERE seq = ?", (fake, k)),
        ("UPDATE audit SET prev_hash = ? WHERE seq = ?", (fake, k + 1)),
    )
    report = await vault.verify_audit()
    assert not report.ok and report.first_bad_seq == k


async def test_tamper_truncate_tail(vault: SecretVault) -> None:
    await _populate(vault)
    last = len(_rows(vault))
    _exec(vault, ("DELETE FROM audit WHERE seq >= ?", (last - 1,)))
    report = await vault.verify_audit()
    assert not report.ok


async def test_purge_audit_keeps_chain_verifiable(
    open_vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = await open_vault()
    await _populate(vault)
    old_count = len(_rows(vault))
    time.sleep(0.01)
    mid = datetime.now(UTC)
    time.sleep(0.01)
    await vault.get_secret("a", user="late", source_ip="10.9.9.9")
    await vault.get_secret("b", user="late")
    # pretend it is one day after `mid` and keep one day: the cutoff falls between the phases
    monkeypatch.setattr(vault_mod, "utcnow", lambda: mid + timedelta(days=1))
    purged = await vault.purge_audit(retention_days=1)
    monkeypatch.undo()
    assert purged == old_count
    rows = _rows(vault)
    assert [r[2] for r in rows] == ["late", "late", "system"]
    assert rows[0][0] == old_count + 1
    assert rows[-1][3] == "audit_purge"
    report = await vault.verify_audit()
    assert report.ok and report.checked == 3
    await vault.get_secret("a", user="later")
    assert (await vault.verify_audit()).ok
    await vault.shutdown()
    again = await open_vault()
    assert (await again.verify_audit()).ok
    # the retained remainder is still protected: editing its first row is detected
    _exec(again, ("UPDATE audit SET user = 'x' WHERE seq = ?", (old_count + 1,)))
    report = await again.verify_audit()
    assert not report.ok and report.first_bad_seq == old_count + 1


async def test_purge_audit_uses_configured_retention(
    open_vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = await open_vault(access_log_retention_days=3)
    await _populate(vault)
    n = len(_rows(vault))
    time.sleep(0.01)
    mid = datetime.now(UTC)
    time.sleep(0.01)
    await vault.get_secret("a", user="late")
    monkeypatch.setattr(vault_mod, "utcnow", lambda: mid + timedelta(days=3))
    assert await vault.purge_audit() == n
    monkeypatch.setattr(vault_mod, "utcnow", lambda: mid + timedelta(days=2, hours=23))
    assert await vault.purge_audit() == 0
    monkeypatch.undo()
    assert [r[2] for r in _rows(vault)] == ["late", "system", "system"]
    assert (await vault.verify_audit()).ok


async def test_purge_audit_anchor_tamper_detected(
    vault: SecretVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _populate(vault)
    n = len(_rows(vault))
    time.sleep(0.01)
    mid = datetime.now(UTC)
    time.sleep(0.01)
    await vault.get_secret("a", user="late")
    monkeypatch.setattr(vault_mod, "utcnow", lambda: mid + timedelta(days=1))
    assert await vault.purge_audit(retention_days=1) == n
    monkeypatch.undo()
    assert (await vault.verify_audit()).ok
    # deleting the first retained row *and* moving the anchor forward is still detected
    _exec(
        vault,
        ("DELETE FROM audit WHERE seq = ?", (n + 1,)),
        ("UPDATE meta SET value = ? WHERE key = 'audit_anchor_seq'", (str(n + 1),)),
    )
    report = await vault.verify_audit()
    assert not report.ok and report.first_bad_seq == n + 2


async def test_purge_audit_nothing_old(vault: SecretVault) -> None:
    await _populate(vault)
    n = len(_rows(vault))
    assert await vault.purge_audit() == 0
    assert len(_rows(vault)) == n + 1
    assert (await vault.verify_audit()).ok


async def test_no_secret_value_in_any_entry(open_vault) -> None:
    vault = await open_vault(cache_enabled=True)
    values = [distinctive(f"v{i}") for i in range(6)]
    await vault.store_secret(SecretType.API_KEY, "one", values[0], description="desc")
    await vault.store_secret(SecretType.DATABASE_PASSWORD, "two", values[1])
    await vault.update_secret("one", values[2])
    await vault.get_secret("one", user="u", source_ip="1.1.1.1")
    await vault.get_secret("one", user="u")  # cache hit
    await vault.get_secret("one", version=1)

    def bad_verifier(value: str, record: object) -> bool:
        raise RuntimeError(f"rejected {value}")

    vault.register_verifier("two", bad_verifier)
    await vault.rotate_secret("two", new_value=values[3])
    await vault.rotate_secret("one", new_value=values[4])
    with pytest.raises(SecretVaultError):
        await vault.store_secret(SecretType.API_KEY, "one", values[5])
    await vault.revoke_secret("one")
    with pytest.raises(SecretVaultError):
        await vault.get_secret("one")
    await vault.shutdown()
    vault = await open_vault()
    dump = "\n".join(e.model_dump_json() for e in (await vault.get_access_log()).entries)
    dump += all_columns_text(vault.config.storage_path, "audit")
    assert "rotate" in dump and "cache" in dump
    for value in values:
        assert value not in dump
        assert value.split("-", 1)[1] not in dump


NO_AUDIT_TRIGGER = (
    "CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'x'); END;",
    (),
)


async def test_failed_audit_write_blocks_the_read(vault: SecretVault) -> None:
    value = distinctive()
    await vault.store_secret(SecretType.API_KEY, "guard", value)
    before = len(_rows(vault))
    _exec(vault, NO_AUDIT_TRIGGER)
    with pytest.raises(SecretVaultError) as info:
        await vault.get_secret("guard", user="reader")
    assert value not in str(info.value)
    assert len(_rows(vault)) == before
    # a store whose audit row cannot be written is not stored
    with pytest.raises(SecretVaultError):
        await vault.store_secret(SecretType.API_KEY, "unlogged", distinctive())
    _exec(vault, ("DROP TRIGGER no_audit", ()))
    with pytest.raises(SecretNotFoundError):
        await vault.get_secret("unlogged")
    assert (await vault.get_secret("guard"))[0] == value
    assert (await vault.verify_audit()).ok


@pytest.mark.parametrize("op", ["update", "revoke", "soft_delete", "delete"])
async def test_failed_audit_write_rolls_back_a_change(vault: SecretVault, op: str) -> None:
    value = distinctive()
    await vault.store_secret(SecretType.API_KEY, "guard", value)
    _exec(vault, NO_AUDIT_TRIGGER)
    call = {
        "update": lambda: vault.update_secret("guard", distinctive()),
        "revoke": lambda: vault.revoke_secret("guard"),
        "soft_delete": lambda: vault.soft_delete_secret("guard"),
        "delete": lambda: vault.delete_secret("guard"),
    }[op]
    with pytest.raises(SecretVaultError):
        await call()
    _exec(vault, ("DROP TRIGGER no_audit", ()))
    got, rec = await vault.get_secret("guard")
    assert (got, rec.metadata.version, rec.status.value) == (value, 1, "active")


async def test_audit_disabled_writes_nothing(open_vault) -> None:
    vault = await open_vault(access_log_enabled=False)
    await vault.store_secret(SecretType.API_KEY, "quiet", "value-1234567890")
    await vault.get_secret("quiet")
    assert _rows(vault) == []


async def test_tamper_forged_row_with_the_head_moved_onto_it(vault: SecretVault) -> None:
    """Appending a row and moving the real head MAC onto it does not pass: the MAC binds the
    head to its own seq and hash."""
    await _populate(vault)
    rows = _rows(vault)
    last_seq, last_hash = rows[-1][0], rows[-1][-1]
    forged = (last_seq + 1, *rows[-1][1:9], last_hash, "e" * 64)
    _exec(
        vault,
        (f"INSERT INTO audit({ENTRY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", forged),
        (
            "UPDATE audit SET head = (SELECT head FROM audit WHERE seq = ?) WHERE seq = ?",
            (last_seq, last_seq + 1),
        ),
        ("UPDATE audit SET head = NULL WHERE seq = ?", (last_seq,)),
    )
    report = await vault.verify_audit()
    assert not report.ok and report.first_bad_seq == last_seq + 1


async def test_only_the_newest_row_carries_the_head(vault: SecretVault) -> None:
    await _populate(vault)
    conn = raw_db(vault)
    try:
        heads = conn.execute("SELECT seq FROM audit WHERE head IS NOT NULL").fetchall()
        last = conn.execute("SELECT max(seq) FROM audit").fetchone()[0]
    finally:
        conn.close()
    assert heads == [(last,)]


@pytest.mark.parametrize("cut_tail", [False, True])
async def test_schema_v2_head_row_migrates_onto_the_newest_entry(
    open_vault, cut_tail: bool
) -> None:
    """A v2 vault kept the head as a meta row; opening it moves the MAC onto the audit row it
    names. A tail cut while the vault was v2 stays detected after the migration."""
    vault = await open_vault()
    await _populate(vault)
    await vault.shutdown()
    conn = raw_db(vault)
    try:  # turn the file back into schema v2's shape
        seq, h, mac = conn.execute(
            "SELECT seq, hash, head FROM audit WHERE head IS NOT NULL"
        ).fetchone()
        conn.execute("ALTER TABLE audit DROP COLUMN head")
        conn.execute("INSERT INTO meta VALUES ('audit_head', ?)", (f"{seq}:{h}:{mac}",))
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
        if cut_tail:
            conn.execute("DELETE FROM audit WHERE seq = ?", (seq,))
        conn.commit()
    finally:
        conn.close()
    again = await open_vault()
    report = await again.verify_audit()
    assert report.ok is not cut_tail
    if cut_tail:
        assert "missing" in report.reason
    conn = raw_db(again)
    try:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        assert int(version[0]) == 3
        assert conn.execute("SELECT 1 FROM meta WHERE key = 'audit_head'").fetchone() is None
    finally:
        conn.close()
    if not cut_tail:
        await again.get_secret("a", user="after-migration")
        assert (await again.verify_audit()).ok


_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    seq=st.integers(min_value=0, max_value=2**62),
    user=_text,
    action=_text,
    secret_id=st.none() | _text,
    name=st.none() | _text,
    ip=st.none() | _text,
    success=st.booleans(),
    reason=st.none() | _text,
    ts=st.none() | _text,
)
def test_canonical_form_is_the_json_array_byte_for_byte(
    seq: int,
    user: str,
    action: str,
    secret_id: str | None,
    name: str | None,
    ip: str | None,
    success: bool,
    reason: str | None,
    ts: str | None,
) -> None:
    """The chain's hashes are defined over the compact JSON array; the hand-written encoder on
    the hot path must produce exactly those bytes (quotes, control characters, non-ASCII,
    surrogates-free unicode), or every existing chain would stop verifying."""
    entry = AuditEvent(user, action, secret_id, name, ip, success, reason, seq=seq)
    assert chain.canonical(entry, ts) == chain._canonical_json(entry, ts)


def test_canonical_form_of_an_unusual_entry_falls_back_to_json() -> None:
    entry = AuditEvent("u", "read", seq=True)  # type: ignore[arg-type]  # a caller's bug
    assert chain.canonical(entry) == chain._canonical_json(entry)


# -- a trail in lanes (the PostgreSQL store's; audit.chain.verify_trail) --------------------

KEY = b"lane-test-key".ljust(32, b"\0")


def _lane(lane: int, n: int, start: int = 0, prev: str | None = None) -> list[AccessLogEntry]:
    """``n`` entries of ``lane`` chained from its genesis (or from ``prev`` after ``start``)."""
    prev = chain.lane_genesis(KEY, lane) if prev is None else prev
    out = []
    for seq in range(start + 1, start + n + 1):
        event = AuditEvent(user=f"u{lane}", action="read", secret_name="s", seq=seq, lane=lane)
        event.prev_hash, event.entry_hash = prev, chain.seal(KEY, prev, event)
        prev = event.entry_hash
        out.append(AccessLogEntry(**{f: getattr(event, f) for f in event.__slots__}))
    return out


def _state(lane: int, entries: list[AccessLogEntry]) -> chain.LaneState:
    last = entries[-1]
    return chain.LaneState(
        lane, head=(last.seq, last.entry_hash, chain.head_mac(KEY, last.seq, last.entry_hash))
    )


def _trail(*lanes: list[AccessLogEntry]) -> tuple[list[AccessLogEntry], chain.TrailState]:
    states = tuple(_state(i, entries) for i, entries in enumerate(lanes))
    flat = [e for entries in lanes for e in entries]
    return flat, chain.TrailState(states, chain.registry_value(KEY, len(lanes)))


def test_a_trail_of_three_lanes_verifies_in_any_order() -> None:
    entries, trail = _trail(_lane(0, 3), _lane(1, 5), _lane(2, 1))
    report = chain.verify_trail(KEY, reversed(entries), trail)
    assert report.ok and report.checked == 9


def test_one_chain_without_a_registry_is_lane_0() -> None:
    entries = _lane(0, 4)
    assert chain.verify_trail(KEY, entries, chain.TrailState((_state(0, entries),))).ok
    two = chain.TrailState((_state(0, entries), _state(1, _lane(1, 1))))
    report = chain.verify_trail(KEY, entries + _lane(1, 1), two)
    assert not report.ok and "record of the trail's lanes is missing" in report.reason


def test_an_entry_moved_into_another_lane_breaks_that_lane() -> None:
    zero, one = _lane(0, 2), _lane(1, 2)
    moved = [e.model_copy(update={"lane": 0, "seq": 3}) for e in one[:1]]
    # lane 0 "continues" with lane 1's first entry: its prev_hash is lane 1's genesis
    entries, trail = _trail(zero + moved, one[1:])
    report = chain.verify_trail(KEY, entries, trail)
    assert not report.ok and report.lane == 0


def test_a_lane_missing_or_unregistered_or_a_forged_registry_is_reported() -> None:
    entries, trail = _trail(_lane(0, 2), _lane(1, 2), _lane(2, 2))
    gone = chain.TrailState(trail.lanes[:1] + trail.lanes[2:], trail.registry)
    report = chain.verify_trail(KEY, [e for e in entries if e.lane != 1], gone)
    assert not report.ok and report.reason == "lane 1 is missing"
    fewer = chain.TrailState(trail.lanes, chain.registry_value(KEY, 2))
    assert chain.verify_trail(KEY, entries, fewer).reason == "lane 2 is not registered"
    forged = chain.TrailState(trail.lanes, "3:" + "0" * 64)
    assert "was altered" in chain.verify_trail(KEY, entries, forged).reason
    stray = chain.verify_trail(KEY, entries + _lane(7, 1), trail)
    assert not stray.ok and stray.lane == 7


def test_a_lane_cut_short_or_without_a_head_is_reported() -> None:
    entries, trail = _trail(_lane(0, 2), _lane(1, 4))
    cut = chain.verify_trail(KEY, entries[:-1], trail)
    assert not cut.ok and cut.lane == 1 and "entries after 3 are missing" in cut.reason
    headless = chain.TrailState((trail.lanes[0], chain.LaneState(1)), trail.registry)
    assert chain.verify_trail(KEY, entries, headless).reason == "lane 1 has no head"


def test_entries_appended_after_the_heads_were_read_still_verify() -> None:
    """A live fleet: the heads are read first, more entries land before the entries are read;
    they must follow from the recorded head (a forged one does not)."""
    early = _lane(0, 3)
    _, trail = _trail(early)
    later = _lane(0, 2, start=3, prev=early[-1].entry_hash)
    assert chain.verify_trail(KEY, early + later, trail).ok
    forged = later[-1].model_copy(update={"user": "mallory"})
    assert not chain.verify_trail(KEY, [*early, later[0], forged], trail).ok


def test_a_report_says_which_entry_of_which_lane_or_what_else() -> None:
    assert chain.ChainReport(False, 3, 7, "entry was altered").problem == (
        " at entry 7: entry was altered"
    )
    assert chain.ChainReport(False, 3, 7, "lane 2: gap", lane=2).problem == (
        " at entry 2.7: lane 2: gap"
    )
    assert chain.ChainReport(False, 0, None, "lane 2 is missing", 2).problem == (
        ": lane 2 is missing"
    )
