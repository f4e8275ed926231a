"""The PostgreSQL store's row cache (backends/postgres.py, ``read``): a read of a secret this
process read before is one round trip — a guard checking both rows' ``xmin``, the audit row and
the lane head, committed together — and any change made elsewhere in between (an update, a
delete, a rekey's re-encryption) aborts that round trip, so the read is run again against the
database: the caller sees the new state, audited once.

Needs the test PostgreSQL that ``scripts/test.sh`` starts (SECRETVAULT_TEST_POSTGRES_DSN).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pgtest
import pytest

from secretvault import SecretsConfig, SecretType, SecretVault
from secretvault.backends import postgres
from secretvault.errors import BackendUnavailableError, SecretVaultError

pytestmark = pytest.mark.integration

DSN = pgtest.DSN


@pytest.fixture
def cfg(tmp_path: Path) -> SecretsConfig:
    """The test's schema, also its sessions' application_name."""
    schema = pgtest.schema_for(tmp_path, "c")
    dsn = pgtest.with_application_name(pgtest.require_postgres(), schema)
    return pgtest.pg_config(tmp_path, "c", postgres_dsn=dsn)


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many round trips the store makes (one list item per trip)."""
    trips: list[int] = []
    real = postgres.PostgresTransaction._roundtrip

    async def counted(self: postgres.PostgresTransaction) -> list[object]:
        trips.append(1)
        return await real(self)  # type: ignore[return-value]

    monkeypatch.setattr(postgres.PostgresTransaction, "_roundtrip", counted)
    yield trips


def _one_connection(cfg: SecretsConfig) -> SecretsConfig:
    """A pool of one: every unit on the same connection, so round trips are countable (a
    connection's first append also claims its audit lane, one more trip)."""
    return cfg.model_copy(update={"postgres_pool_size": 1})


async def _hosts(cfg: SecretsConfig) -> tuple[SecretVault, SecretVault]:
    """Two "hosts": two vaults, two pools, one schema, one master key (A counts)."""
    a = SecretVault(_one_connection(cfg))
    await a.initialize()
    b = SecretVault(cfg)
    await b.initialize()
    return a, b


def _reads(log: object, user: str) -> list[object]:
    return [e for e in log.entries if e.user == user and e.action == "read"]  # type: ignore[attr-defined]


async def test_a_known_secret_is_read_in_one_round_trip(
    cfg: SecretsConfig, round_trips: list[int]
) -> None:
    vault = SecretVault(_one_connection(cfg))
    await vault.initialize()
    try:
        await vault.store_secret(SecretType.API_KEY, "known", "value-1")
        round_trips.clear()
        assert (await vault.get_secret("known", user="r"))[0] == "value-1"
        assert len(round_trips) == 2  # the record; then audit row, lane head, commit
        round_trips.clear()
        for _ in range(3):
            assert (await vault.get_secret("known", user="r"))[0] == "value-1"
        assert len(round_trips) == 3  # guard, audit row, lane head: one trip each
        round_trips.clear()
        await vault.get_secret("known", user="r", version=1)  # older versions: not cached
        assert len(round_trips) == 2
        assert len(_reads(await vault.get_access_log(), "r")) == 5
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()


async def test_postgres_row_cache_0_reads_from_the_database_every_time(
    cfg: SecretsConfig, round_trips: list[int]
) -> None:
    vault = SecretVault(_one_connection(cfg).model_copy(update={"postgres_row_cache": 0}))
    await vault.initialize()
    try:
        await vault.store_secret(SecretType.API_KEY, "uncached", "value-1")
        await vault.get_secret("uncached")
        round_trips.clear()
        for _ in range(3):
            assert (await vault.get_secret("uncached"))[0] == "value-1"
        assert len(round_trips) == 6  # the record, then the audit row: every time
        assert not vault.stores.secrets.rows  # type: ignore[attr-defined]
    finally:
        await vault.shutdown()


async def test_a_change_on_another_host_is_seen_by_the_next_read_audited_once(
    cfg: SecretsConfig, round_trips: list[int]
) -> None:
    a, b = await _hosts(cfg)
    try:
        await a.store_secret(SecretType.API_KEY, "shared", "before")
        assert (await a.get_secret("shared", user="a"))[0] == "before"  # A caches the rows
        await b.update_secret("shared", "after")
        round_trips.clear()
        value, record = await a.get_secret("shared", user="a")
        assert (value, record.metadata.version) == ("after", 2)
        assert len(round_trips) == 3  # the guard's trip aborted; then read and commit
        assert len(_reads(await a.get_access_log(), "a")) == 2  # one per read, none for the retry

        await b.delete_secret("shared")
        with pytest.raises(SecretVaultError) as fresh:  # B never read it: nothing cached
            await b.get_secret("shared", user="b")
        with pytest.raises(type(fresh.value), match=str(fresh.value.args[0])):
            await a.get_secret("shared", user="a")
        failed = [e for e in _reads(await a.get_access_log(), "a") if not e.success]  # type: ignore[attr-defined]
        assert len(failed) == 1
        assert (await a.verify_audit()).ok
    finally:
        await b.shutdown()
        await a.shutdown()


async def test_a_rekey_on_another_host_does_not_serve_the_old_envelope(cfg: SecretsConfig) -> None:
    a, b = await _hosts(cfg)
    try:
        await a.store_secret(SecretType.API_KEY, "rekeyed", "the-value")
        assert (await a.get_secret("rekeyed"))[0] == "the-value"
        cached = a.stores.secrets.rows["rekeyed"]  # type: ignore[attr-defined]
        await b.rekey()
        assert (await a.get_secret("rekeyed"))[0] == "the-value"
        fresh = a.stores.secrets.rows["rekeyed"]  # type: ignore[attr-defined]
        assert fresh[12] != cached[12]  # the version's key id: re-read after the rewrap
        assert (await a.verify_audit()).ok
    finally:
        await b.shutdown()
        await a.shutdown()


async def test_the_row_cache_holds_ciphertext_never_a_value(cfg: SecretsConfig) -> None:
    vault = SecretVault(cfg)
    await vault.initialize()
    try:
        value = "plain-value-" + hashlib.sha256(b"distinct").hexdigest()
        await vault.store_secret(SecretType.API_KEY, "held", value)
        await vault.get_secret("held")
        rows = vault.stores.secrets.rows  # type: ignore[attr-defined]
        assert "held" in rows
        flat = repr(rows).encode() + b"".join(
            bytes(x) for row in rows.values() for x in row if isinstance(x, bytes | memoryview)
        )
        assert value.encode() not in flat
    finally:
        await vault.shutdown()


async def test_a_cached_read_on_a_connection_found_dead_fails_clearly_and_the_next_works(
    cfg: SecretsConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its one round trip commits, so it is never replayed (like any COMMIT): a connection
    that died silently — the checkout probe is off here — costs that read a clear error."""
    import psycopg

    async def no_probe(conn: object) -> None:
        return None

    monkeypatch.setattr(postgres, "_probe", no_probe)
    one = cfg.model_copy(update={"postgres_pool_size": 1})
    vault = SecretVault(one)
    await vault.initialize()
    try:
        await vault.store_secret(SecretType.API_KEY, "dead", "value")
        await vault.get_secret("dead")
        assert DSN is not None
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (cfg.postgres_schema,),
            )
        with pytest.raises(BackendUnavailableError, match="not reachable"):
            await vault.get_secret("dead")
        assert (await vault.get_secret("dead"))[0] == "value"
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()
