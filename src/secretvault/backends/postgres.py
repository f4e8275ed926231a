"""PostgreSQL store for many hosts: secret store and control store in one database.

``default_backend: postgres`` with ``postgres_dsn`` (a libpq URI or key=value string; ``${VAR}``
expands like every setting, and libpq's own ``PGPASSWORD``/``~/.pgpass`` work too). Every
process on every host opens a pool of connections to the same database and loads the same
master key; PostgreSQL sees only ciphertext.

Storage decisions, written down once:

- One schema (``postgres_schema``, default ``secretvault``) holding the same tables as the
  local store (``meta``, ``keys``, ``secrets``, ``versions``, ``audit``, ``grants``, ``roles``,
  ``leases``, ``bindings``) plus a sequence ``generation``. Its version is ``meta``'s
  ``schema_version``; a database newer than this code is refused. ``secretvault init`` (any
  open with ``create``) creates it; creation is serialised with an advisory lock so hosts
  starting together do not race.
- Both roles live in one database, so a unit of work is ONE transaction (READ COMMITTED): an
  operation and its audit entry commit together, exactly as on the local store.
- No lost update, no version assigned twice: ``get`` (the facade calls it before every change)
  takes the secret's row lock (``FOR UPDATE``), and ``add_version`` writes with compare-and-set
  on ``current_version``; the ``versions`` primary key backs both up. Reads (``read``,
  ``list_records``) take no lock, so they never wait for writers.
- The audit chain is serialised at its head, not per operation: appending locks the one
  ``meta`` row ``audit_head`` until commit, so concurrent writers from many hosts extend one
  chain in order while the rest of their work runs in parallel.
- The change counter is a sequence (``nextval`` takes no row lock and is never rolled back; a
  rolled-back change only costs a spurious cache refresh).
- Timestamps are ISO text in UTC, as in the local store (``backends/rows.py``).
- Backups are ``pg_dump``/``pg_restore`` of the schema, driven by ``backends/pg_backup.py``
  (``dump_to``, ``read_dump_keys``, ``restore_dump``: the ``DumpableStore`` capability).
- Connection failures become ``BackendUnavailableError`` naming host and port (never the
  password); the pool reconnects by itself once the server is back.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from secretvault.audit.chain import GENESIS, AuditEvent, head_mac, seal
from secretvault.backends import pg_backup
from secretvault.backends.base import DumpKeys, SecretFilter, StoredVersion, StoreFeatures
from secretvault.backends.rows import (
    SECRET_COLUMNS,
    audit_entry_from_row,
    iso,
    record_from_row,
    time_from,
)
from secretvault.backends.sql_control import SqlControlRole
from secretvault.crypto.envelope import Envelope
from secretvault.errors import (
    BackendUnavailableError,
    ConfigurationError,
    VersionConflictError,
)
from secretvault.models import AccessLogEntry, BackendType, SecretRecord, SecretVersionInfo

if TYPE_CHECKING:
    from psycopg import AsyncConnection, AsyncPipeline
    from psycopg_pool import AsyncConnectionPool

    from secretvault.config import SecretsConfig

SCHEMA_VERSION = 1
_LOCK_KEY = 0x5EC12E7  # advisory lock id serialising schema creation across hosts

_TABLES = """
CREATE TABLE IF NOT EXISTS {s}.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.keys (
  key_id TEXT PRIMARY KEY, status TEXT NOT NULL, created_at TEXT NOT NULL,
  check_ct BYTEA NOT NULL, check_nonce BYTEA NOT NULL, check_salt BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.secrets (
  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, secret_type TEXT NOT NULL,
  status TEXT NOT NULL, current_version INTEGER NOT NULL, metadata TEXT NOT NULL,
  deleted_at TEXT, purge_after TEXT);
CREATE TABLE IF NOT EXISTS {s}.versions (
  secret_id TEXT NOT NULL REFERENCES {s}.secrets(id) ON DELETE CASCADE,
  version INTEGER NOT NULL, ciphertext BYTEA NOT NULL, nonce BYTEA NOT NULL,
  salt BYTEA NOT NULL, key_id TEXT NOT NULL, created_at TEXT NOT NULL,
  created_by TEXT NOT NULL, stage TEXT NOT NULL DEFAULT '', PRIMARY KEY (secret_id, version));
CREATE TABLE IF NOT EXISTS {s}.audit (
  seq BIGINT PRIMARY KEY, ts TEXT NOT NULL, "user" TEXT NOT NULL, action TEXT NOT NULL,
  secret_id TEXT, secret_name TEXT, source_ip TEXT, success BOOLEAN NOT NULL, reason TEXT,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.grants (
  id BIGSERIAL PRIMARY KEY, principal TEXT NOT NULL, role TEXT NOT NULL,
  scope_type TEXT NOT NULL, pattern TEXT NOT NULL, created_at TEXT NOT NULL,
  created_by TEXT NOT NULL, UNIQUE (principal, role, scope_type, pattern));
CREATE TABLE IF NOT EXISTS {s}.roles (name TEXT PRIMARY KEY, levels TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.bindings (
  target TEXT NOT NULL, secret_name TEXT NOT NULL, kind TEXT NOT NULL, spec TEXT NOT NULL,
  PRIMARY KEY (target, secret_name));
CREATE SEQUENCE IF NOT EXISTS {s}.generation;
INSERT INTO {s}.meta VALUES ('audit_head', '') ON CONFLICT DO NOTHING;
"""

_COLS = ", ".join(SECRET_COLUMNS)
_COLS_S = ", ".join("s." + c for c in SECRET_COLUMNS)


def _unavailable(exc: BaseException, where: str) -> BackendUnavailableError:
    """A psycopg connection-level failure as the user-facing error (no DSN, no password)."""
    return BackendUnavailableError(
        f"PostgreSQL at {where} is not reachable ({type(exc).__name__})",
        hint="check that the server is running and postgres_dsn points at it; secretvault "
        "reconnects by itself once it is back",
    )


class PostgresTransaction(SqlControlRole):
    """One PostgreSQL transaction, playing both store roles (it is the unit, its secret
    session and its control session), like the local store's ``LocalTransaction``."""

    __slots__ = ("changed", "conn", "pipeline", "s")

    def __init__(
        self, conn: AsyncConnection[Any], schema: str, pipeline: AsyncPipeline | None = None
    ) -> None:
        self.conn = conn
        self.s = schema + "."  # the {s} prefix of every statement
        self.pipeline = pipeline
        self.changed = False

    @property
    def secrets(self) -> PostgresTransaction:
        return self

    @property
    def control(self) -> PostgresTransaction:
        return self

    def _sql(self, sql: str) -> str:
        """A statement for this schema, in psycopg's placeholder style (the shared control
        statements are written with ``?``; no statement holds a literal ``?``)."""
        return sql.format(s=self.s).replace("?", "%s")

    async def _one(self, sql: str, args: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        cur = await self.conn.execute(self._sql(sql), args)
        row: tuple[Any, ...] | None = await cur.fetchone()
        return row

    async def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cur = await self.conn.execute(self._sql(sql), args)
        return list(await cur.fetchall())

    async def _run(self, sql: str, args: tuple[Any, ...] = ()) -> None:
        """Queue a statement whose result nobody reads: in pipeline mode it travels with the
        next one that needs an answer (or with COMMIT)."""
        await self.conn.execute(self._sql(sql), args)

    async def _count(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        """Run a statement and wait for how many rows it touched."""
        cur = await self.conn.execute(self._sql(sql), args)
        if self.pipeline is not None:
            await self.pipeline.sync()
        return cur.rowcount

    async def _changed(self) -> None:
        await self._bump()

    async def _bump(self) -> None:
        if not self.changed:
            await self._run("SELECT nextval('{s}generation')")
            self.changed = True

    # -- secret role ----------------------------------------------------------------------

    async def get(self, name: str) -> SecretRecord | None:
        """The record of ``name``, row-locked until this unit ends: the facade reads it to
        change it, and the lock is what makes two hosts' changes queue instead of collide."""
        row = await self._one(
            f"SELECT {_COLS} FROM {{s}}secrets WHERE name = %s FOR UPDATE", (name,)
        )
        return record_from_row(row, backend=BackendType.POSTGRES) if row else None

    async def read(
        self, name: str, version: int | None = None
    ) -> tuple[SecretRecord, StoredVersion | None] | None:
        """Record and one version (default: current) in one query, without locks."""
        row = await self._one(
            f"SELECT {_COLS_S}, v.version, v.ciphertext, v.nonce, v.salt, v.key_id, "
            "v.created_at, v.created_by, v.stage FROM {s}secrets s LEFT JOIN {s}versions v "
            "ON v.secret_id = s.id AND v.version = COALESCE(%s, s.current_version) "
            "WHERE s.name = %s",
            (version, name),
        )
        if row is None:
            return None
        v, ct, nonce, salt, kid, created_at, created_by, stage = row[8:]
        if v is None:
            return record_from_row(row[:8], backend=BackendType.POSTGRES), None
        env = Envelope(bytes(ct), bytes(nonce), bytes(salt), kid)
        stored = StoredVersion(v, env, time_from(created_at), created_by, stage)
        return record_from_row(row[:8], env, BackendType.POSTGRES), stored

    async def get_version(self, secret_id: str, version: int) -> StoredVersion | None:
        row = await self._one(
            "SELECT version, ciphertext, nonce, salt, key_id, created_at, created_by, stage "
            "FROM {s}versions WHERE secret_id = %s AND version = %s",
            (secret_id, version),
        )
        if row is None:
            return None
        v, ct, nonce, salt, kid, created_at, created_by, stage = row
        env = Envelope(bytes(ct), bytes(nonce), bytes(salt), kid)
        return StoredVersion(v, env, time_from(created_at), created_by, stage)

    async def max_version(self, secret_id: str) -> int:
        row = await self._one(
            "SELECT MAX(version) FROM {s}versions WHERE secret_id = %s", (secret_id,)
        )
        return int(row[0] or 0) if row else 0

    async def create(self, record: SecretRecord, version: StoredVersion) -> None:
        await self._run(
            f"INSERT INTO {{s}}secrets ({_COLS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
            (
                record.id,
                record.name,
                record.secret_type.value,
                record.status.value,
                version.version,
                record.metadata.model_dump_json(),
                None,
                None,
            ),
        )
        await self._insert_version(record.id, version)
        await self._bump()

    async def _insert_version(self, secret_id: str, version: StoredVersion) -> None:
        env = version.payload
        if not isinstance(env, Envelope):
            raise TypeError("the postgres store keeps envelopes only")  # a facade bug
        await self._run(
            "INSERT INTO {s}versions VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (
                secret_id,
                version.version,
                env.ciphertext,
                env.nonce,
                env.salt,
                env.key_id,
                iso(version.created_at),
                version.created_by,
                version.stage,
            ),
        )

    async def _demote_current(self, secret_id: str) -> None:
        await self._run(
            "UPDATE {s}versions SET stage = '' WHERE secret_id = %s AND stage = 'previous'",
            (secret_id,),
        )
        await self._run(
            "UPDATE {s}versions SET stage = 'previous' WHERE secret_id = %s AND stage = 'current'",
            (secret_id,),
        )

    async def add_version(
        self, record: SecretRecord, version: StoredVersion, max_versions: int, *, cas: int
    ) -> None:
        """Compare-and-set first (it also takes the row lock), then the version."""
        n = await self._count(
            "UPDATE {s}secrets SET status = %s, current_version = %s, metadata = %s, "
            "deleted_at = %s, purge_after = %s, secret_type = %s "
            "WHERE id = %s AND current_version = %s",
            (*self._record_values(record), record.id, cas),
        )
        if n != 1:
            row = await self._one(
                "SELECT current_version FROM {s}secrets WHERE id = %s", (record.id,)
            )
            raise VersionConflictError(
                f"secret {record.name!r} is at version {row[0] if row else 'none'}, "
                f"not {cas}: another writer changed it",
                hint="read it again and retry",
            )
        if version.stage == "current":
            await self._demote_current(record.id)
        await self._insert_version(record.id, version)
        if max_versions:
            await self._run(
                "DELETE FROM {s}versions WHERE secret_id = %s AND stage = '' AND version <= "
                "(SELECT MAX(version) FROM {s}versions WHERE secret_id = %s) - %s",
                (record.id, record.id, max_versions),
            )
        await self._bump()

    async def set_stage(self, secret_id: str, version: int, stage: str) -> None:
        if stage == "current":
            await self._demote_current(secret_id)
        await self._run(
            "UPDATE {s}versions SET stage = %s WHERE secret_id = %s AND version = %s",
            (stage, secret_id, version),
        )
        await self._bump()

    async def drop_version(self, secret_id: str, version: int) -> None:
        await self._run(
            "DELETE FROM {s}versions WHERE secret_id = %s AND version = %s AND stage = 'pending'",
            (secret_id, version),
        )
        await self._bump()

    async def pending_versions(self) -> list[tuple[str, int]]:
        rows = await self._all("SELECT secret_id, version FROM {s}versions WHERE stage = 'pending'")
        return [(str(sid), int(v)) for sid, v in rows]

    @staticmethod
    def _record_values(record: SecretRecord) -> tuple[Any, ...]:
        return (
            record.status.value,
            record.metadata.version,
            record.metadata.model_dump_json(),
            iso(record.deleted_at),
            iso(record.purge_after),
            record.secret_type.value,
        )

    async def update(self, record: SecretRecord) -> None:
        await self._run(
            "UPDATE {s}secrets SET status = %s, current_version = %s, metadata = %s, "
            "deleted_at = %s, purge_after = %s, secret_type = %s WHERE id = %s",
            (*self._record_values(record), record.id),
        )
        await self._bump()

    async def purge(self, secret_id: str) -> None:
        await self._run("DELETE FROM {s}versions WHERE secret_id = %s", (secret_id,))
        await self._run("DELETE FROM {s}secrets WHERE id = %s", (secret_id,))
        await self._bump()

    async def list_records(self, flt: SecretFilter) -> list[SecretRecord]:
        sql, args = f"SELECT {_COLS} FROM {{s}}secrets WHERE TRUE", []
        if flt.status is not None:
            sql += " AND status = %s"
            args.append(flt.status.value)
        if flt.secret_type is not None:
            sql += " AND secret_type = %s"
            args.append(flt.secret_type.value)
        rows = await self._all(sql + " ORDER BY name", tuple(args))
        records = (record_from_row(r, backend=BackendType.POSTGRES) for r in rows)
        return [r for r in records if flt.matches(r)]

    async def versions(self, secret_id: str) -> list[SecretVersionInfo]:
        rows = await self._all(
            "SELECT version, created_at, created_by, stage, key_id FROM {s}versions "
            "WHERE secret_id = %s ORDER BY version DESC",
            (secret_id,),
        )
        return [
            SecretVersionInfo(version=v, created_at=time_from(c), created_by=b, stage=s, key_id=k)
            for v, c, b, s, k in rows
        ]

    async def secret_name(self, secret_id: str) -> str | None:
        row = await self._one("SELECT name FROM {s}secrets WHERE id = %s", (secret_id,))
        return str(row[0]) if row else None

    async def envelopes(self) -> list[tuple[str, int, Envelope]]:
        rows = await self._all(
            "SELECT secret_id, version, ciphertext, nonce, salt, key_id FROM {s}versions"
        )
        return [
            (sid, v, Envelope(bytes(ct), bytes(n), bytes(salt), k))
            for sid, v, ct, n, salt, k in rows
        ]

    async def rewrap(self, secret_id: str, version: int, env: Envelope) -> None:
        await self._run(
            "UPDATE {s}versions SET ciphertext = %s, nonce = %s, salt = %s, key_id = %s "
            "WHERE secret_id = %s AND version = %s",
            (env.ciphertext, env.nonce, env.salt, env.key_id, secret_id, version),
        )
        await self._bump()

    # -- control role ---------------------------------------------------------------------

    async def append_audit(self, entry: AuditEvent, key: bytes) -> AuditEvent:
        """Chain ``entry`` after the head, holding the head's row lock until commit: appends
        from every host queue here, and only here."""
        row = await self._one("SELECT value FROM {s}meta WHERE key = 'audit_head' FOR UPDATE")
        head = row[0] if row else ""
        if head:
            seq_text, prev, _mac = head.split(":")
            seq = int(seq_text)
        else:
            seq, prev = await self._anchor()
        entry.seq, entry.prev_hash = seq + 1, prev
        entry.entry_hash = seal(key, prev, entry)
        await self._run(
            "INSERT INTO {s}audit VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (
                entry.seq,
                entry.timestamp.isoformat(),
                entry.user,
                entry.action,
                entry.secret_id,
                entry.secret_name,
                entry.source_ip,
                entry.success,
                entry.reason,
                entry.prev_hash,
                entry.entry_hash,
            ),
        )
        mac = head_mac(key, entry.seq, entry.entry_hash)
        await self._run(
            "UPDATE {s}meta SET value = %s WHERE key = 'audit_head'",
            (f"{entry.seq}:{entry.entry_hash}:{mac}",),
        )
        return entry

    async def _anchor(self) -> tuple[int, str]:
        rows = dict(
            await self._all(
                "SELECT key, value FROM {s}meta "
                "WHERE key IN ('audit_anchor_seq', 'audit_anchor_hash')"
            )
        )
        return int(rows.get("audit_anchor_seq", 0)), str(rows.get("audit_anchor_hash", GENESIS))

    async def purge_audit_before(self, cutoff: datetime) -> int:
        row = await self._one(
            "SELECT seq, hash FROM {s}audit WHERE ts < %s ORDER BY seq DESC LIMIT 1",
            (cutoff.isoformat(),),
        )
        if row is None:
            return 0
        seq, h = row
        n = await self._count("DELETE FROM {s}audit WHERE seq <= %s", (seq,))
        await self.meta_set("audit_anchor_seq", str(seq))
        await self.meta_set("audit_anchor_hash", h)
        return n


class _PgUnit:
    """``async with store.unit() as tx``: a pooled connection, in pipeline mode, in one
    transaction.

    Pipeline mode sends statements whose results nobody waits for (the audit row, the head
    update, stage changes) together with the next statement that needs an answer or with
    COMMIT, so an audited read costs four round trips (one is the pool's liveness check)
    instead of seven. Errors of queued statements surface at the next synchronisation — at
    the latest at COMMIT, which then fails and rolls everything back, as a unit must."""

    __slots__ = ("_conn_cm", "_pipe_cm", "_tx_cm", "store", "tx")

    def __init__(self, store: PostgresBackend) -> None:
        self.store = store

    async def __aenter__(self) -> PostgresTransaction:
        try:
            self._conn_cm = self.store.pool.connection()
            conn = await self._conn_cm.__aenter__()
            try:
                self._pipe_cm = conn.pipeline()
                pipeline = await self._pipe_cm.__aenter__()
                self._tx_cm = conn.transaction()
                await self._tx_cm.__aenter__()
            except BaseException as exc:
                await self._conn_cm.__aexit__(type(exc), exc, exc.__traceback__)
                raise
        except Exception as exc:
            raise _mapped(exc, self.store.where) from None
        self.tx = PostgresTransaction(conn, self.store.schema, pipeline)
        return self.tx

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            try:
                try:
                    await self._tx_cm.__aexit__(exc_type, exc, tb)
                finally:
                    await self._pipe_cm.__aexit__(exc_type, exc, tb)
            finally:
                await self._conn_cm.__aexit__(exc_type, exc, tb)
        except Exception as err:
            if exc is None or not _is_psycopg(err):
                raise _mapped(err, self.store.where) from None
        if isinstance(exc, Exception) and _is_psycopg(exc):
            raise _mapped(exc, self.store.where) from None


def _is_psycopg(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(("psycopg", "psycopg_pool"))


def _mapped(exc: Exception, where: str) -> Exception:
    """A psycopg error as the vault's error (one table for this store)."""
    import psycopg

    if isinstance(exc, psycopg.errors.UniqueViolation):
        return VersionConflictError(
            "another writer stored the same secret or version first",
            hint="read it again and retry",
        )
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return BackendUnavailableError(
            f"the PostgreSQL role lacks a privilege on schema objects at {where}",
            hint="grant SELECT, INSERT, UPDATE, DELETE on the schema's tables and USAGE on its "
            "sequence (see docs/multi-host.md)",
        )
    if isinstance(exc, psycopg.OperationalError | OSError) or type(exc).__name__ == "PoolTimeout":
        return _unavailable(exc, where)
    if _is_psycopg(exc):
        return BackendUnavailableError(
            f"PostgreSQL at {where} refused an operation ({type(exc).__name__})",
            hint="see the server log; nothing was changed",
        )
    return exc


class PostgresBackend:
    """Encrypted PostgreSQL store (``default_backend: postgres``): both roles, one database."""

    backend_type = BackendType.POSTGRES
    features = StoreFeatures()

    def __init__(self, dsn: str, *, schema: str = "secretvault", pool_size: int = 10) -> None:
        if not schema.isidentifier():
            raise ConfigurationError(
                f"postgres_schema {schema!r} is not a plain identifier",
                hint="use letters, digits and underscores",
            )
        self.dsn = dsn
        self.schema = schema
        self.pool_size = pool_size
        self._pool: AsyncConnectionPool | None = None
        self.where = _where(dsn)

    def __repr__(self) -> str:  # the DSN may hold a password
        return f"PostgresBackend({self.where}, schema={self.schema})"

    @property
    def pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            raise BackendUnavailableError("the vault is not initialized; call initialize() first")
        return self._pool

    async def open(self, *, create: bool) -> None:
        """Open the pool and check (or, when ``create``, create or migrate) the schema."""
        if self._pool is not None:
            return
        from psycopg_pool import AsyncConnectionPool

        # check= pings a pooled connection before handing it out: after a server restart a
        # dead connection is replaced instead of failing the next operation. (It costs one
        # round trip per unit; the alternative is one failed operation per pooled connection
        # after every restart.)
        pool = AsyncConnectionPool(
            self.dsn,
            min_size=1,
            max_size=self.pool_size,
            open=False,
            timeout=10,
            check=AsyncConnectionPool.check_connection,
        )
        try:
            await pool.open(wait=True, timeout=10)
        except Exception as exc:
            await pool.close()
            raise _unavailable(exc, self.where) from None
        self._pool = pool
        try:
            await self._migrate(create)
        except BaseException:
            await self.close()
            raise

    async def _migrate(self, create: bool) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute("SELECT to_regclass(%s)", (f"{self.schema}.meta",))
            row = await cur.fetchone()
            exists = row is not None and row[0] is not None
            if exists:
                cur = await conn.execute(
                    f"SELECT value FROM {self.schema}.meta WHERE key = 'schema_version'"
                )
                found = await cur.fetchone()
                if found is not None and int(found[0]) > SCHEMA_VERSION:
                    raise ConfigurationError(
                        f"the PostgreSQL schema {self.schema} has version {found[0]}, newer "
                        f"than this secretvault ({SCHEMA_VERSION})",
                        hint="upgrade secretvault on this host",
                    )
                if found is not None and int(found[0]) == SCHEMA_VERSION:
                    return
            if not create and not exists:
                raise BackendUnavailableError(
                    f"no secretvault schema {self.schema} at {self.where}",
                    hint="run `secretvault init` first",
                )
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
            for stmt in filter(str.strip, _TABLES.format(s=self.schema).split(";")):
                await conn.execute(stmt)
            await conn.execute(
                f"INSERT INTO {self.schema}.meta VALUES ('schema_version', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )

    async def close(self) -> None:
        """Close the pool (idempotent)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def exists(self) -> bool:
        """True when the database already holds a secretvault schema with a key ring."""
        import psycopg

        try:
            async with await psycopg.AsyncConnection.connect(self.dsn, connect_timeout=10) as conn:
                cur = await conn.execute("SELECT to_regclass(%s)", (f"{self.schema}.keys",))
                row = await cur.fetchone()
                return row is not None and row[0] is not None
        except psycopg.OperationalError as exc:
            raise _unavailable(exc, self.where) from None

    def unit(self) -> _PgUnit:
        """One transaction over both roles."""
        return _PgUnit(self)

    session = unit
    transaction = unit

    async def generation(self) -> int:
        """The change counter (a sequence: any host's committed or attempted change)."""
        try:
            async with self.pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT CASE WHEN is_called THEN last_value ELSE 0 END "
                    f"FROM {self.schema}.generation"
                )
                row = await cur.fetchone()
        except Exception as exc:
            raise _unavailable(exc, self.where) from None
        return int(row[0]) if row else 0

    async def control_generation(self) -> int:
        return await self.generation()

    async def audit_entries(
        self, secret_name: str | None = None, after_seq: int = 0
    ) -> list[AccessLogEntry]:
        sql = (
            'SELECT seq, ts, "user", action, secret_id, secret_name, source_ip, success, '
            f"reason, prev_hash, hash FROM {self.schema}.audit WHERE seq > %s"
        )
        args: list[Any] = [after_seq]
        if secret_name is not None:
            sql += " AND secret_name = %s"
            args.append(secret_name)
        async with self.unit() as tx:
            rows = await tx._all(sql + " ORDER BY seq", tuple(args))
        return [audit_entry_from_row(r) for r in rows]

    async def audit_head(self) -> tuple[int, str, str] | None:
        async with self.unit() as tx:
            value = await tx.meta_get("audit_head")
        if not value:
            return None
        seq, h, mac = value.split(":")
        return int(seq), h, mac

    async def audit_anchor(self) -> tuple[int, str]:
        async with self.unit() as tx:
            return await tx._anchor()

    # -- backup and restore: pg_dump / pg_restore of the schema (backends/pg_backup.py) -----

    dump_suffix = pg_backup.DUMP_SUFFIX

    async def dump_to(self, target: Path) -> Path:
        """``pg_dump`` of this vault's schema into the new 0600 file ``target``."""
        return await asyncio.to_thread(pg_backup.dump_schema, self.dsn, self.schema, target)

    async def read_dump_keys(self, source: Path) -> DumpKeys:
        """The key ring of a dump of this schema (``SecretDecryptionError`` if it is none)."""
        return await asyncio.to_thread(pg_backup.read_dump_keys, source, self.schema)

    async def restore_dump(self, source: Path) -> None:
        """Replace the schema's contents with a dump's, in one server transaction."""
        before = await self.generation()
        await asyncio.to_thread(pg_backup.restore_schema, self.dsn, self.schema, source)
        # The dump brings back its own, older change counter: move it past both histories, or
        # a host whose cache saw a value of the counter the restored one reaches again would
        # keep serving entries from before the restore.
        try:
            async with self.pool.connection() as conn:
                await conn.execute(
                    f"SELECT setval('{self.schema}.generation', GREATEST(%s, "
                    f"(SELECT last_value FROM {self.schema}.generation)) + 1)",
                    (before,),
                )
        except Exception as exc:
            raise _mapped(exc, self.where) from None


def _where(dsn: str) -> str:
    """host:port/dbname of a DSN, for messages (never user or password)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(dsn)
    except Exception:
        return "the configured postgres_dsn"
    host = info.get("host") or "localhost"
    return f"{host}:{info.get('port') or 5432}/{info.get('dbname') or ''}"


def postgres_store(config: SecretsConfig) -> PostgresBackend:
    """The registry's factory for ``default_backend: postgres``."""
    if not config.postgres_dsn:
        raise ConfigurationError(
            "default_backend is postgres but postgres_dsn is not set",
            hint="set postgres_dsn, e.g. postgresql://app@db.internal:5432/secrets "
            "(the password can come from ${PGPASSWORD} or ~/.pgpass)",
        )
    return PostgresBackend(
        config.postgres_dsn, schema=config.postgres_schema, pool_size=config.postgres_pool_size
    )


if TYPE_CHECKING:
    from secretvault.backends.base import (
        ControlSession,
        DumpableStore,
        SecretSession,
        SharedStore,
        Unit,
    )

    _as_store: type[SharedStore] = PostgresBackend
    _as_dumpable: type[DumpableStore] = PostgresBackend
    _as_unit: type[Unit] = PostgresTransaction
    _as_secret_session: type[SecretSession] = PostgresTransaction
    _as_control_session: type[ControlSession] = PostgresTransaction
