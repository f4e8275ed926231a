"""The PostgreSQL store's wire layer (backends/postgres.py): pooled connections are handed out
without a ping, a connection the server dropped while idle is replaced (or its first round trip
replayed once on a fresh one, never a COMMIT), a cancelled operation leaves the pool usable,
and values of every kind the store sends come back as they went.

Needs the test PostgreSQL that ``scripts/test.sh`` starts (SECRETVAULT_TEST_POSTGRES_DSN).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pgtest
import psycopg
import pytest

from secretvault import SecretsConfig, SecretType, SecretVault
from secretvault.backends import postgres
from secretvault.errors import BackendUnavailableError

pytestmark = pytest.mark.integration

DSN = pgtest.DSN


def _dsn(app: str) -> str:
    return pgtest.with_application_name(pgtest.require_postgres(), app)


@pytest.fixture
def app(tmp_path: Path) -> str:
    """The test's schema, also its sessions' application_name."""
    pgtest.require_postgres()
    return pgtest.schema_for(tmp_path, "w")


def _config(tmp_path: Path, app: str) -> SecretsConfig:
    return pgtest.pg_config(tmp_path, "w", postgres_dsn=_dsn(app), postgres_schema=app)


def _terminate(app: str) -> int:
    """Make the server drop every connection of this test's pool (as a restart would)."""
    assert DSN is not None
    with psycopg.connect(DSN, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (app,),
        ).fetchall()
    return len(rows)


async def _idle_pool_of_two(vault: SecretVault) -> None:
    """Two concurrent reads, so the pool holds two connections when they are killed."""
    await asyncio.gather(vault.get_secret("wire-a"), vault.get_secret("wire-a"))


async def test_connections_dropped_while_idle_are_replaced_without_an_error(
    tmp_path: Path, app: str
) -> None:
    vault = SecretVault(_config(tmp_path, app))
    await vault.initialize()
    try:
        await vault.store_secret(SecretType.API_KEY, "wire-a", "value-a")
        await _idle_pool_of_two(vault)
        assert _terminate(app) >= 1
        await asyncio.sleep(0.2)  # the server's goodbye reaches the idle sockets
        for _ in range(4):
            assert (await vault.get_secret("wire-a"))[0] == "value-a"
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()


async def test_a_dead_connection_the_pool_did_not_notice_is_replayed_once(
    tmp_path: Path, app: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the checkout probe off, a read on a connection the server dropped fails on its
    first round trip; that round trip (the record, no COMMIT) is replayed on a fresh
    connection (the pool's other idle ones are pinged first: they died too) and the caller
    sees the value, audited once. (A read by version: the current version of a secret read
    before is one round trip that commits, never replayed — test_postgres_row_cache.py.)"""

    async def no_probe(conn: object) -> None:
        return None

    monkeypatch.setattr(postgres, "_probe", no_probe)
    vault = SecretVault(_config(tmp_path, app))
    await vault.initialize()
    try:
        await vault.store_secret(SecretType.API_KEY, "wire-a", "value-a")
        await _idle_pool_of_two(vault)
        before = len((await vault.get_access_log()).entries)
        assert _terminate(app) >= 1
        await asyncio.sleep(0.2)
        for _ in range(3):
            assert (await vault.get_secret("wire-a", version=1))[0] == "value-a"
        entries = (await vault.get_access_log()).entries
        assert len(entries) == before + 3  # one entry per read, none for the replay
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()


async def test_a_commit_is_never_replayed(
    tmp_path: Path, app: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit whose first round trip is its COMMIT (only queued writes) fails clearly when
    its connection is dead; it is not sent again, and the next unit works."""

    async def no_probe(conn: object) -> None:
        return None

    monkeypatch.setattr(postgres, "_probe", no_probe)
    store = postgres.PostgresBackend(_dsn(app), schema=app, pool_size=1)
    await store.open(create=True)
    try:
        async with store.unit() as tx:
            await tx.meta_set("wire-probe", "0")
        assert _terminate(app) == 1
        await asyncio.sleep(0.2)
        with pytest.raises(BackendUnavailableError, match="not reachable"):
            async with store.unit() as tx:
                await tx.meta_set("wire-probe", "1")
        async with store.unit() as tx:
            assert await tx.meta_get("wire-probe") == "0"
    finally:
        await store.close()


async def test_a_read_cancelled_while_its_commit_waits_leaves_the_pool_usable(
    tmp_path: Path, app: str
) -> None:
    """A read whose audit append waits (another session holds every lane's row, and the lock
    a new lane is created under) and is cancelled while it waits must not hand a half-read
    connection back to the pool; the lanes it held are free again once its connection is
    gone."""
    assert DSN is not None
    vault = SecretVault(_config(tmp_path, app))
    await vault.initialize()
    lock = postgres.PostgresBackend(DSN, schema=app).head_lock
    try:
        await vault.store_secret(SecretType.API_KEY, "wire-a", "value-a")
        async with await psycopg.AsyncConnection.connect(DSN) as holder:
            await holder.execute(f"SELECT 1 FROM {app}.audit_lanes FOR UPDATE")
            await holder.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
            for _ in range(3):  # more than the pool's two connections
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(vault.get_secret("wire-a"), 0.3)
            await holder.rollback()
        for _ in range(5):
            assert (await vault.get_secret("wire-a"))[0] == "value-a"
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()


async def test_values_of_every_kind_round_trip(tmp_path: Path, app: str) -> None:
    """Text (not only ASCII), numbers, flags, NULLs and bytes go out and come back unchanged
    (parameters are sent as text or binary bytea; results come back binary)."""
    vault = SecretVault(_config(tmp_path, app))
    await vault.initialize()
    try:
        name = "wire-unicode"
        value = "välue\twith 'quotes' and \\ and ✓"
        await vault.store_secret(
            SecretType.DATABASE_PASSWORD, name, value, description="naïve — 説明", tags=["ü", "x"]
        )
        got, record = await vault.get_secret(name, user="usér")
        assert got == value
        assert record.metadata.description == "naïve — 説明"
        assert record.metadata.tags == ["ü", "x"]
        await vault.update_secret(name, "second", user="usér")
        assert (await vault.get_secret(name, version=1))[0] == value
        log = await vault.get_access_log(name)
        assert {e.user for e in log.entries} >= {"usér"}
        assert all(isinstance(e.success, bool) for e in log.entries)
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()
