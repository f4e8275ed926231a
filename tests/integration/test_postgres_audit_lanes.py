"""The PostgreSQL audit trail in lanes (backends/postgres.py, audit/chain.py): units open at
once and hosts append to different lanes without waiting on one another and the trail
verifies; removing a lane, its registry or a lane's newest entry is reported; a schema v1
trail (one chain) is migrated by ``init`` into lane 0 and goes on verifying; a restore under
a second host makes that host start its lane afresh instead of forking it.

Needs the test PostgreSQL that ``scripts/test.sh`` starts (SECRETVAULT_TEST_POSTGRES_DSN).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pgtest
import psycopg
import pytest

from secretvault import SecretsConfig, SecretType, SecretVault
from secretvault.audit.chain import AuditEvent
from secretvault.errors import BackendUnavailableError, ConfigurationError

pytestmark = pytest.mark.integration

DSN = pgtest.DSN


@pytest.fixture
def cfg(tmp_path: Path) -> SecretsConfig:
    return pgtest.pg_config(tmp_path, "l", postgres_pool_size=4)


def _sql(cfg: SecretsConfig, *statements: str) -> list[tuple[object, ...]]:
    """Run statements as the database's owner (the "attacker with write access"); the last
    one's rows."""
    assert DSN is not None
    rows: list[tuple[object, ...]] = []
    with psycopg.connect(DSN, autocommit=True) as conn:
        for stmt in statements:
            cur = conn.execute(stmt.format(s=cfg.postgres_schema))
            rows = cur.fetchall() if cur.description else []
    return rows


async def _busy_vault(cfg: SecretsConfig) -> SecretVault:
    """A vault whose trail has at least two lanes, each with entries: a second host appends
    while this one's pooled connection still holds its lane (which ones a single pool uses
    for concurrent reads depends on how fast it opens connections)."""
    vault = SecretVault(cfg)
    await vault.initialize()
    await vault.store_secret(SecretType.API_KEY, "lane-a", "value-a")
    other = SecretVault(cfg)
    await other.initialize()
    try:
        for i in range(3):
            await vault.get_secret("lane-a", user=f"a{i}")
            await other.get_secret("lane-a", user=f"b{i}")
    finally:
        await other.shutdown()
    await asyncio.gather(*(vault.get_secret("lane-a", user=f"u{i}") for i in range(6)))
    return vault


async def test_hosts_append_to_different_lanes_and_the_trail_verifies(
    cfg: SecretsConfig,
) -> None:
    vault = await _busy_vault(cfg)
    try:
        entries = (await vault.get_access_log()).entries
        assert len([e for e in entries if e.action == "read"]) == 12
        lanes = {e.lane for e in entries}
        assert len(lanes) >= 2
        assert {e.lane for e in entries if e.user.startswith("a")}.isdisjoint(
            {e.lane for e in entries if e.user.startswith("b")}
        )
        for lane in lanes:  # each lane is a gapless chain of its own
            seqs = sorted(e.seq for e in entries if e.lane == lane)
            assert seqs == list(range(1, len(seqs) + 1))
        registry = _sql(cfg, "SELECT value FROM {s}.meta WHERE key = 'audit_lanes'")
        assert registry and str(registry[0][0]).startswith(f"{max(lanes) + 1}:")
        report = await vault.verify_audit()
        assert report.ok and report.checked == len(entries), report
    finally:
        await vault.shutdown()


async def _units_at_once(vault: SecretVault, batches: list[list[AuditEvent]]) -> list[int]:
    """Open one unit per batch, all at once (so each is on its own connection), append each
    batch in its unit, commit; the lane each unit appended to. The first append of a new
    lane holds the trail's lock until its commit: another unit's first append waits for that
    commit, not for its own."""
    store = vault.stores.shared_store
    assert store is not None
    key = vault.ops.audit.key
    all_open = asyncio.Barrier(len(batches))

    async def append(batch: list[AuditEvent]) -> int:
        async with store.unit() as unit:
            await all_open.wait()
            lanes = {(await unit.control.append_audit(event, key)).lane for event in batch}
        (lane,) = lanes  # one unit, one connection, one lane
        return lane

    return list(await asyncio.gather(*(append(batch) for batch in batches)))


def _events(user: str, old: datetime) -> list[AuditEvent]:
    """Two entries older than any retention, then a new one."""
    return [
        AuditEvent(user=user, action="old-1", timestamp=old),
        AuditEvent(user=user, action="old-2", timestamp=old),
        AuditEvent(user=user, action="new"),
    ]


async def test_two_units_open_at_once_in_one_process_append_to_two_lanes(
    cfg: SecretsConfig,
) -> None:
    vault = SecretVault(cfg)
    await vault.initialize()
    try:
        batches = [[AuditEvent(user="one", action="x")], [AuditEvent(user="two", action="x")]]
        one, two = await _units_at_once(vault, batches)
        assert one != two
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()


async def test_retention_purges_every_lane_and_keeps_each_one_verifiable(
    cfg: SecretsConfig,
) -> None:
    vault = SecretVault(cfg)
    await vault.initialize()
    try:
        old = datetime.now(UTC) - timedelta(days=30)
        lanes = await _units_at_once(vault, [_events("one", old), _events("two", old)])
        assert lanes[0] != lanes[1]
        purged = await vault.purge_audit(retention_days=7)
        assert purged >= 4  # two old entries in each of the two lanes
        left = (await vault.get_access_log()).entries
        assert not [e for e in left if e.action.startswith("old")]
        assert {(e.user, e.action) for e in left} >= {("one", "new"), ("two", "new")}
        anchors = _sql(cfg, "SELECT lane, anchor_seq FROM {s}.audit_lanes ORDER BY lane")
        assert {lane for lane, seq in anchors if seq} >= set(lanes)
        report = await vault.verify_audit()
        assert report.ok, report
    finally:
        await vault.shutdown()


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (
            [
                "DELETE FROM {s}.audit WHERE lane = (SELECT max(lane) FROM {s}.audit_lanes)",
                "DELETE FROM {s}.audit_lanes WHERE lane = (SELECT max(lane) FROM {s}.audit_lanes)",
            ],
            "is missing",
        ),
        (["DELETE FROM {s}.meta WHERE key = 'audit_lanes'"], "record of the trail's lanes"),
        (
            [
                "UPDATE {s}.meta SET value = '1:' || split_part(value, ':', 2) "
                "WHERE key = 'audit_lanes'"
            ],
            "was altered",
        ),
        (
            [
                "DELETE FROM {s}.audit WHERE (lane, seq) = "
                "(SELECT lane, max(seq) FROM {s}.audit WHERE lane = 1 GROUP BY lane)"
            ],
            "lane 1: entries after",
        ),
        (
            ["UPDATE {s}.audit SET lane = 0, seq = seq + 1000 WHERE lane = 1"],
            "lane 0",
        ),
    ],
    ids=[
        "whole-lane-removed",
        "registry-removed",
        "registry-rewritten",
        "lane-tail-cut",
        "entries-moved-to-another-lane",
    ],
)
async def test_tampering_with_lanes_is_reported(
    cfg: SecretsConfig, tamper: list[str], reason: str
) -> None:
    vault = await _busy_vault(cfg)
    try:
        assert (await vault.verify_audit()).ok
        assert _sql(cfg, "SELECT 1 FROM {s}.audit WHERE lane = 1")  # two lanes at least
        _sql(cfg, *tamper)
        report = await vault.verify_audit()
        assert not report.ok
        assert reason in report.reason, report
    finally:
        await vault.shutdown()


# What schema v1 looked like for the audit trail: one chain, its head and anchor in ``meta``.
_TO_V1 = [
    "INSERT INTO {s}.meta SELECT 'audit_head', seq || ':' || hash || ':' || mac "
    "FROM {s}.audit_lanes WHERE lane = 0",
    "DROP TABLE {s}.audit_lanes",
    "DELETE FROM {s}.meta WHERE key = 'audit_lanes'",
    "ALTER TABLE {s}.audit DROP CONSTRAINT audit_pkey",
    "ALTER TABLE {s}.audit DROP COLUMN lane",
    "ALTER TABLE {s}.audit ADD PRIMARY KEY (seq)",
    "UPDATE {s}.meta SET value = '1' WHERE key = 'schema_version'",
]


async def test_a_schema_v1_trail_is_migrated_by_init_into_lane_0(cfg: SecretsConfig) -> None:
    one = cfg.model_copy(update={"postgres_pool_size": 1})  # one connection: one lane, 0
    vault = SecretVault(one)
    await vault.initialize()
    await vault.store_secret(SecretType.API_KEY, "old", "old-value")
    await vault.get_secret("old")
    before = (await vault.get_access_log()).entries
    await vault.shutdown()
    assert {e.lane for e in before} == {0}
    _sql(cfg, *_TO_V1)

    with pytest.raises(ConfigurationError, match="secretvault init"):
        await SecretVault(cfg).initialize(create=False)

    vault = SecretVault(cfg)
    await vault.initialize()  # what `secretvault init` does: migrates
    try:
        after = (await vault.get_access_log()).entries
        assert [(e.seq, e.entry_hash) for e in after] == [(e.seq, e.entry_hash) for e in before]
        assert (await vault.verify_audit()).ok
        await asyncio.gather(*(vault.get_secret("old") for _ in range(8)))
        assert (await vault.verify_audit()).ok
        assert _sql(cfg, "SELECT value FROM {s}.meta WHERE key = 'audit_lanes'")
        assert _sql(cfg, "SELECT value FROM {s}.meta WHERE key = 'schema_version'") == [("2",)]
        # a host still on v1 appends without a lane: refused, not written into lane 0
        with pytest.raises(psycopg.errors.NotNullViolation):
            _sql(
                cfg,
                "INSERT INTO {s}.audit VALUES "
                "(999, 'ts', 'old-host', 'read', NULL, NULL, NULL, true, NULL, 'p', 'h')",
            )
    finally:
        await vault.shutdown()


async def test_a_restore_makes_other_hosts_start_their_lanes_afresh(
    cfg: SecretsConfig, tmp_path: Path
) -> None:
    host_a = await _busy_vault(cfg)
    host_b = SecretVault(cfg)
    await host_b.initialize()
    try:
        await host_b.get_secret("lane-a")  # host B holds a lane and caches its head
        backup = await host_a.backup(tmp_path / "vault.pgdump")
        for _ in range(3):  # both lanes move past the backup
            await host_a.get_secret("lane-a")
            await host_b.get_secret("lane-a")
        await host_a.restore(backup, user="ops")
        assert (await host_a.verify_audit()).ok
        # host B's connections were ended by the restore: it reconnects, claims a lane from
        # the restored heads and appends after them, never after the heads it remembered
        for _ in range(3):
            assert (await host_b.get_secret("lane-a"))[0] == "value-a"
        report = await host_a.verify_audit()
        assert report.ok, report
    finally:
        await host_b.shutdown()
        await host_a.shutdown()


async def test_a_head_moved_under_its_owner_aborts_the_unit_and_the_lane_goes_on_from_it(
    cfg: SecretsConfig,
) -> None:
    """The tripwire in the lane head's UPDATE: the database's head is not where the owning
    connection left it (here: rewound one entry, as a restore would), so its next append
    fails instead of forking the lane; the connection is dropped, the next one claims the
    lane from the recorded head, and the trail verifies."""
    vault = SecretVault(cfg.model_copy(update={"postgres_pool_size": 1}))
    await vault.initialize()
    try:
        await vault.store_secret(SecretType.API_KEY, "lane-a", "value-a")
        await vault.get_secret("lane-a")
        _sql(
            cfg,
            "DELETE FROM {s}.audit WHERE lane = 0 AND seq = (SELECT seq FROM {s}.audit_lanes "
            "WHERE lane = 0)",
            "UPDATE {s}.audit_lanes l SET seq = a.seq, hash = a.hash FROM {s}.audit a "
            "WHERE l.lane = 0 AND a.lane = 0 AND a.seq = l.seq - 1",
        )
        with pytest.raises(BackendUnavailableError, match="refused an operation"):
            await vault.get_secret("lane-a")
        assert (await vault.get_secret("lane-a"))[0] == "value-a"
        seqs = [e.seq for e in (await vault.get_access_log()).entries if e.lane == 0]
        assert seqs == list(range(1, len(seqs) + 1))  # no gap, no fork
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()
