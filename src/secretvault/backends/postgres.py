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
  operation and its audit entry commit together, exactly as on the local store. (A read's
  lock-free SELECT may run before that transaction, see ``PostgresTransaction``: its audit
  entry still commits before the value is returned.)
- Reads of a secret read before are served from a per-process row cache of ciphertext rows,
  checked by the commit of the read's own audit entry (``read``): one round trip per read.
- No lost update, no version assigned twice: ``get`` (the facade calls it before every change)
  takes the secret's row lock (``FOR UPDATE``), and ``add_version`` writes with compare-and-set
  on ``current_version``; the ``versions`` primary key backs both up. Reads (``read``,
  ``list_records``) take no lock, so they never wait for writers.
- The audit trail is several hash chains, *lanes* (``audit.chain``): each pooled connection
  claims one (a session advisory lock) the first time it appends and keeps its head in
  memory, so an append is an INSERT and an UPDATE of the lane's row that wait on nobody.
  Lanes are created under the trail's advisory lock and recorded (MACed) in ``meta``'s
  ``audit_lanes``; ``audit verify`` checks every lane and that none is missing. (Schema v1 had
  one chain serialised on that lock for the whole transaction, which queued every writer of
  the fleet behind one client round trip.)
- The change counter is a sequence (``nextval`` takes no row lock and is never rolled back; a
  rolled-back change only costs a spurious cache refresh).
- Timestamps are ISO text in UTC, as in the local store (``backends/rows.py``).
- Backups are ``pg_dump``/``pg_restore`` of the schema, driven by ``backends/pg_backup.py``
  (``dump_to``, ``read_dump_keys``, ``restore_dump``: the ``DumpableStore`` capability).
- Connection failures become ``BackendUnavailableError`` naming host and port (never the
  password); the pool reconnects by itself once the server is back.
- The wire: psycopg_pool keeps the connections and psycopg opens them, but a unit drives its
  connection through libpq directly (``PostgresTransaction``): pipeline mode, statements
  prepared once per connection, parameters as text (bytes as binary bytea), results binary,
  one socket write per round trip. psycopg's cursor path cost about 1.07 ms of client CPU
  per audited read, this one 0.2–0.35 ms (bench/README.md). No ping on checkout: a
  connection the server said goodbye on is replaced, one that died silently is caught on
  the unit's first round trip, which is replayed once — a COMMIT never is.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import weakref
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from secretvault.audit.chain import (
    AuditEvent,
    LaneState,
    TrailState,
    head_mac,
    lane_genesis,
    registry_value,
    seal,
)
from secretvault.backends import pg_backup
from secretvault.backends.base import (
    DumpKeys,
    SecretFilter,
    StaleReadError,
    StoredVersion,
    StoreFeatures,
)
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
    from psycopg import AsyncConnection
    from psycopg.pq.abc import PGconn, PGresult
    from psycopg_pool import AsyncConnectionPool

    from secretvault.config import SecretsConfig

SCHEMA_VERSION = 2  # 2: the audit trail in lanes (audit.lane, audit_lanes)
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
  seq BIGINT NOT NULL, ts TEXT NOT NULL, "user" TEXT NOT NULL, action TEXT NOT NULL,
  secret_id TEXT, secret_name TEXT, source_ip TEXT, success BOOLEAN NOT NULL, reason TEXT,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL, lane INTEGER NOT NULL, PRIMARY KEY (lane, seq));
CREATE TABLE IF NOT EXISTS {s}.audit_lanes (
  lane INTEGER PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL, mac TEXT NOT NULL,
  anchor_seq BIGINT NOT NULL DEFAULT 0, anchor_hash TEXT NOT NULL DEFAULT '');
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
"""

# v1 → v2: the one chain becomes lane 0 (its head and anchor move from ``meta`` to its lane
# row, in ``_migrate``). ``lane`` has no default on purpose: a host still running v1 inserts
# audit rows without it and fails loudly instead of writing into lane 0 behind its owner.
_MIGRATE_V1 = """
ALTER TABLE {s}.audit ADD COLUMN lane INTEGER;
UPDATE {s}.audit SET lane = 0;
ALTER TABLE {s}.audit ALTER COLUMN lane SET NOT NULL;
ALTER TABLE {s}.audit DROP CONSTRAINT audit_pkey;
ALTER TABLE {s}.audit ADD PRIMARY KEY (lane, seq)
"""

_PLACEHOLDER = re.compile(r"%s|\?")
_COLS = ", ".join(SECRET_COLUMNS)
_COLS_S = ", ".join("s." + c for c in SECRET_COLUMNS)

# ``read``: the record, one version and the two rows' xmin (what the row cache's guard checks)
_READ = (
    f"SELECT {_COLS_S}, v.version, v.ciphertext, v.nonce, v.salt, v.key_id, v.created_at, "
    "v.created_by, v.stage, s.xmin::text, v.xmin::text FROM {s}secrets s LEFT JOIN {s}versions v "
    "ON v.secret_id = s.id AND v.version = COALESCE(%s, s.current_version) WHERE s.name = %s"
)
# aborts the unit (SQLSTATE SVSTL, ``StaleReadError``) unless both rows are as cached
_GUARD = (
    "SELECT {s}expect_current(EXISTS (SELECT 1 FROM {s}secrets s JOIN {s}versions v "
    "ON v.secret_id = s.id AND v.version = s.current_version "
    "WHERE s.name = %s AND s.xmin = %s::xid AND v.xmin = %s::xid))"
)
_FUNCTIONS = (
    "CREATE OR REPLACE FUNCTION {s}.expect_current(unchanged BOOLEAN) RETURNS VOID "
    "LANGUAGE plpgsql AS $$ BEGIN IF NOT unchanged THEN "
    "RAISE EXCEPTION USING ERRCODE = 'SVSTL', MESSAGE = "
    "'secretvault: a record the client had cached changed; the client reads it again'; "
    "END IF; END $$",
)
_STALE = b"SVSTL"  # the guard's SQLSTATE


def _read_result(row: tuple[Any, ...]) -> tuple[SecretRecord, StoredVersion | None]:
    """``read``'s answer from a row of ``_READ``."""
    v, ct, nonce, salt, kid, created_at, created_by, stage = row[8:16]
    if v is None:
        return record_from_row(row[:8], backend=BackendType.POSTGRES), None
    env = Envelope(bytes(ct), bytes(nonce), bytes(salt), kid)
    stored = StoredVersion(v, env, time_from(created_at), created_by, stage)
    return record_from_row(row[:8], env, BackendType.POSTGRES), stored


def _unavailable(exc: BaseException, where: str) -> BackendUnavailableError:
    """A psycopg connection-level failure as the user-facing error (no DSN, no password)."""
    return BackendUnavailableError(
        f"PostgreSQL at {where} is not reachable ({type(exc).__name__})",
        hint="check that the server is running and postgres_dsn points at it; secretvault "
        "reconnects by itself once it is back",
    )


# libpq constants the wire layer compares against (psycopg.pq's enums, checked in ``open``).
_FATAL_ERROR, _PIPELINE_SYNC = 7, 10
_CONN_OK = 0
_SQLSTATE = 67  # PG_DIAG_SQLSTATE
_BINARY = 1
_BYTEA_OID = 17


class _ConnState:
    """What this store keeps per pooled connection: the statements prepared on it (by text
    and parameter types), a psycopg row loader bound to it, and the audit lane it holds with
    that lane's committed head. All of it dies with the connection, and the server releases
    the lane's lock when the connection ends, so a head is never trusted past its owner."""

    __slots__ = ("encoding", "lane", "loader", "names", "prepared")

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        from psycopg.adapt import Transformer

        self.prepared: dict[tuple[bytes, tuple[int, ...] | None], bytes] = {}
        self.names = 0  # a name is never reused, even when its Parse failed
        self.loader = Transformer(conn)
        self.encoding = conn.info.encoding
        self.lane: tuple[int, int, str] | None = None  # (lane, seq, hash) as committed


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class PostgresTransaction(SqlControlRole):
    """One PostgreSQL transaction, playing both store roles (it is the unit, its secret
    session and its control session), like the local store's ``LocalTransaction``.

    ``async with store.unit() as tx``: a pooled connection in libpq pipeline mode. Statements
    are prepared once per connection and sent as Bind/Execute; a statement whose result
    nobody reads (``_run``: the audit row, the lane head, stage changes) waits and travels
    with the next one that needs an answer, or with the commit.

    BEGIN is sent only when the unit needs a transaction across round trips (a row lock, a
    read after a write): a lock-free first read runs on its own, and statements queued after
    it are sent at the end in front of libpq's Sync, which commits them as one implicit
    transaction — or rolls all of them back on any error, as COMMIT would. So an audited
    read is two round trips (the record; audit row + lane head), or ONE for a secret read
    before (``read``'s row cache: guard + audit row + lane head). Errors of queued statements
    surface at the next round trip — at the latest at the commit, which then fails and rolls
    everything back, as a unit must.

    The pool hands out a connection without pinging it (``_probe``). A connection that turns
    out dead on the unit's first round trip — before any answer came back, and when that
    round trip commits nothing — is dropped and the round trip replayed once on a fresh
    one."""

    __slots__ = (
        "begun",
        "busy",
        "changed",
        "claimed",
        "conn",
        "guarded",
        "held",
        "lane",
        "pg",
        "preparing",
        "queued",
        "reader",
        "replay",
        "s",
        "state",
        "store",
        "waiter",
    )

    def __init__(self, store: PostgresBackend) -> None:
        self.store = store
        self.s = store.prefix  # the {s} prefix of every statement
        self.changed = False
        self.begun = False  # BEGIN was sent: the unit is an explicit transaction
        # Statements queued before the unit needed a transaction (``_queue``): sent with BEGIN
        # in front when a round trip comes first, or alone before the final Sync, which then
        # commits them as one implicit transaction (no BEGIN, no COMMIT: an audited read).
        self.held: list[tuple[str, tuple[Any, ...]]] = []
        self.busy = False  # a round trip is in flight (a cancelled one leaves the wire dirty)
        self.queued = False  # statements wait in libpq's buffer
        self.conn: AsyncConnection[Any] | None = None
        self.replay: list[tuple[str, tuple[Any, ...]] | None] | None = []  # None: BEGIN
        self.preparing: list[tuple[tuple[bytes, tuple[int, ...] | None], bytes]] = []
        # The socket is registered with the event loop once per unit (``_readable``), not once
        # per wait: an add/remove pair per round trip was ~15 % of a read's client CPU.
        self.reader: int | None = None  # the fd registered, until ``_release``
        self.waiter: asyncio.Future[None] | None = None
        self.lane: tuple[int, int, str] | None = None  # this unit's audit lane head, uncommitted
        self.claimed = False  # this unit claimed (or created) the connection's audit lane
        self.guarded: str | None = None  # the name ``read`` answered from the row cache

    @property
    def secrets(self) -> PostgresTransaction:
        return self

    @property
    def control(self) -> PostgresTransaction:
        return self

    # -- the unit ---------------------------------------------------------------------------

    async def __aenter__(self) -> PostgresTransaction:
        try:
            await self._attach()
        except Exception as exc:
            raise _mapped(exc, self.store.where) from None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._finish(exc_type is None)
        except Exception as err:
            if exc is None or not _is_psycopg(err):
                raise _mapped(err, self.store.where) from None
        if isinstance(exc, Exception) and _is_psycopg(exc):
            raise _mapped(exc, self.store.where) from None

    async def _attach(self) -> None:
        store = self.store
        conn = await store.pool.getconn()
        try:
            conn.pgconn.enter_pipeline_mode()
        except BaseException:
            await conn.close()
            await store.pool.putconn(conn)
            raise
        self.conn = conn
        self.pg = conn.pgconn
        self.busy = self.queued = False
        state = store.conns.get(conn)
        if state is None:
            state = store.conns[conn] = _ConnState(conn)
        self.state = state

    async def _finish(self, commit: bool) -> None:
        """COMMIT (or ROLLBACK) what was sent, then hand the connection back: clean, or
        closed when the wire is in an unknown state (the pool then replaces it)."""
        if self.conn is None:  # lost on a replay that found no connection
            return
        clean = False
        stale: StaleReadError | None = None
        try:
            if commit and self.begun:
                self.pg.send_query_params(b"COMMIT", None)
                self.replay = None  # a COMMIT may have reached the server: never replayed
                res = await self._sync()
                if res.command_status != b"COMMIT":  # the transaction had failed before
                    from psycopg.errors import InFailedSqlTransaction

                    raise InFailedSqlTransaction("the transaction was rolled back")
                self._committed()
            elif commit and self.held:
                # One implicit transaction, ended (committed, or rolled back on any error) by
                # the Sync: what a BEGIN … COMMIT pair would do, two statements fewer.
                self.replay = None  # it commits: never replayed
                held, self.held = self.held, []
                for sql, args in held:
                    self._put(sql, args)
                try:
                    await self._sync()
                    self._committed()
                except StaleReadError as exc:  # the Sync rolled it all back: the wire is clean
                    stale = exc
            elif self.begun and not self.busy and self.pg.status == _CONN_OK:
                self.pg.send_query_params(b"ROLLBACK", None)
                self.replay = None
                await self._sync()
            clean = not self.busy and not self.queued and self.pg.status == _CONN_OK
            # A claim that did not commit leaves this session holding a lane lock it has no
            # committed head for (or a lane that was never created): closing the connection
            # is what lets the server release it.
            if self.claimed and self.state.lane is None:
                clean = False
            if stale is not None:
                raise stale
        finally:
            await self._release(clean)

    def _committed(self) -> None:
        """After a successful commit: the lane's new head is this connection's; a change
        makes the store's row cache stale (dropped, rather than checked at the next read)."""
        if self.lane is not None:
            self.state.lane = self.lane
        if self.changed:
            self.store.rows.clear()

    async def _release(self, clean: bool) -> None:
        if self.reader is not None:  # before the connection (and its fd) can close
            asyncio.get_running_loop().remove_reader(self.reader)
            self.reader = None
        conn, self.conn = self.conn, None
        if conn is None:
            return
        if clean:
            try:
                self.pg.exit_pipeline_mode()
            except Exception:
                clean = False
        if not clean:
            await conn.close()
        await self.store.pool.putconn(conn)

    # -- the wire ---------------------------------------------------------------------------

    def _queue(self, sql: str, args: tuple[Any, ...]) -> None:
        """A statement whose result nobody reads: into libpq's buffer inside a transaction,
        else held until the unit knows whether it needs one (``held``)."""
        if self.begun:
            self._put(sql, args)
        else:
            self.held.append((sql, args))

    def _begin(self) -> None:
        """Make the unit an explicit transaction: BEGIN, then what was held."""
        self.pg.send_query_params(b"BEGIN", None)
        self.begun = True
        if self.replay is not None:
            self.replay.append(None)
        held, self.held = self.held, []
        for sql, args in held:
            self._put(sql, args)

    def _ask(self, sql: str, args: tuple[Any, ...], free: bool) -> None:
        """Send a statement whose answer is awaited next. ``free``: a read that takes no lock
        and needs no transaction, sent as the unit's first statement without BEGIN (READ
        COMMITTED gives each statement its own snapshot anyway)."""
        if not self.begun and not (free and not self.held):
            self._begin()
        self._put(sql, args)

    def _put(self, sql: str, args: tuple[Any, ...]) -> None:
        """Put one statement in libpq's buffer (prepared on this connection the first time
        it is seen)."""
        pg = self.pg
        stmt = self.store.statements.get(sql) or self.store.statement(sql)
        state = self.state
        values: list[bytes | None] = []
        types: list[int] | None = None
        formats: list[int] | None = None
        for i, arg in enumerate(args):
            kind = type(arg)
            if kind is str:
                values.append(arg.encode(state.encoding))
            elif arg is None:
                values.append(None)
            elif kind is int:
                values.append(b"%d" % arg)
            elif kind is bool:
                values.append(b"t" if arg else b"f")
            elif kind is bytes or kind is bytearray or kind is memoryview:
                if types is None or formats is None:
                    types, formats = [0] * len(args), [0] * len(args)
                types[i], formats[i] = _BYTEA_OID, _BINARY
                values.append(bytes(arg))
            else:  # a facade bug: every value is stored as text, a number, a flag or bytes
                raise TypeError(f"cannot send a {kind.__name__} to PostgreSQL")
        key = (stmt, tuple(types) if types else None)
        name = state.prepared.get(key)
        if name is None:
            state.names += 1
            name = b"sv%d" % state.names
            pg.send_prepare(name, stmt, types)
            self.preparing.append((key, name))
        pg.send_query_prepared(name, values, formats, _BINARY)
        self.queued = True
        if self.replay is not None:
            self.replay.append((sql, args))

    async def _sync(self) -> PGresult:
        """Send what is queued and wait for the answers; return the last one (the caller's
        statement). The first error among them is raised as psycopg's exception."""
        try:
            results = await self._roundtrip()
        except Exception:
            replay = self.replay
            # not with an audit row queued: the fresh connection does not hold that lane
            if replay is None or self.pg.status == _CONN_OK or self.lane is not None:
                raise
            # The pooled connection was dead: nothing of this unit can have committed. Its idle
            # siblings probably died with it (a restart): the pool pings them all, once.
            self.replay = None
            await self._release(False)
            await self.store.pool.check()
            await self._attach()
            self.preparing = []
            for item in replay:
                if item is None:
                    self.pg.send_query_params(b"BEGIN", None)
                else:
                    self._put(*item)
            results = await self._roundtrip()
        self.replay = None
        preparing, self.preparing = self.preparing, []
        for res in results:
            if res.status == _FATAL_ERROR:
                from psycopg.errors import error_from_result

                if res.error_field(_SQLSTATE) == _STALE:  # nothing after the guard ran
                    self.store.rows.pop(self.guarded or "", None)
                    raise StaleReadError("a record read from the row cache had changed")
                if self.lane is not None:
                    # after an append: its lane's head may not be what this connection thinks
                    # (the tripwire in ``append_audit``); the unit ends by closing it
                    self.state.lane = None
                    self.claimed = True
                raise error_from_result(res, self.state.encoding)
        self.state.prepared.update(preparing)
        return results[-1]

    async def _roundtrip(self) -> list[PGresult]:
        pg = self.pg
        self.busy, self.queued = True, False
        pg.pipeline_sync()
        loop = asyncio.get_running_loop()
        fd = pg.socket
        while pg.flush():  # more than the socket buffer takes: wait until writable
            await _writable(loop, fd)
        results: list[PGresult] = []
        ended = False  # the last get_result ended one statement's results
        while True:
            # No wait before the first look: on a busy machine the server has often answered
            # by the time this process runs again, and a look costs one recv.
            pg.consume_input()
            while not pg.is_busy():
                res = pg.get_result()
                if res is None:
                    if pg.status != _CONN_OK:
                        raise _lost(pg)
                    if ended:  # two ends in a row: the pipeline is out of step with us
                        from psycopg import InterfaceError

                        raise InterfaceError("pipeline out of step")
                    ended = True
                    continue
                ended = False
                if res.status == _PIPELINE_SYNC:
                    self.busy = False
                    return results
                results.append(res)
            if pg.status != _CONN_OK:
                raise _lost(pg)
            await self._readable_wait(loop, fd)

    async def _readable_wait(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        """Until the socket has something to read; registers it for the rest of the unit."""
        if self.reader is None:
            loop.add_reader(fd, self._readable)
            self.reader = fd
        fut = self.waiter = loop.create_future()
        try:
            await fut
        finally:
            self.waiter = None

    def _readable(self) -> None:
        """The event loop's callback. Between round trips nobody waits; the bytes (a notice,
        the server's goodbye) are taken into libpq's buffer then, or the level-triggered loop
        would call again on every turn until the unit looks."""
        fut = self.waiter
        if fut is not None:
            if not fut.done():
                fut.set_result(None)
            return
        try:
            self.pg.consume_input()
        except Exception:  # a lost connection: the next round trip reports it
            if self.reader is not None:
                asyncio.get_running_loop().remove_reader(self.reader)
                self.reader = None

    async def _one(
        self, sql: str, args: tuple[Any, ...] = (), *, free: bool = False
    ) -> tuple[Any, ...] | None:
        self._ask(sql, args, free)
        res = await self._sync()
        if not res.ntuples:
            return None
        loader = self.state.loader
        loader.set_pgresult(res)
        row: tuple[Any, ...] = loader.load_row(0, tuple)
        return row

    async def _all(
        self, sql: str, args: tuple[Any, ...] = (), *, free: bool = False
    ) -> list[tuple[Any, ...]]:
        self._ask(sql, args, free)
        res = await self._sync()
        loader = self.state.loader
        loader.set_pgresult(res)
        rows: list[tuple[Any, ...]] = loader.load_rows(0, res.ntuples, tuple)
        return rows

    async def _run(self, sql: str, args: tuple[Any, ...] = ()) -> None:
        """Queue a statement whose result nobody reads: it travels with the next one that
        needs an answer (or with COMMIT)."""
        self._queue(sql, args)

    async def _count(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        """Run a statement and wait for how many rows it touched."""
        self._ask(sql, args, False)
        res = await self._sync()
        return res.command_tuples or 0

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
        """Record and one version (default: current) in one query, without locks.

        The current version of a secret read before comes from the store's row cache
        (``PostgresBackend.rows``) without a round trip, when it is the unit's first
        statement: a guard statement then travels with the unit's commit and aborts it if
        either row changed since (their ``xmin``, the transaction that wrote the row version,
        differs); the unit raises ``StaleReadError`` and the caller reads again. So an
        audited read of a known secret is ONE round trip (guard, audit row, lane head), and
        every read is still checked against the database before its value is returned."""
        cache = self.store.rows
        if version is None and not self.begun and not self.held:
            row = cache.get(name)
            if row is not None:
                self._queue(_GUARD, (name, row[16], row[17]))
                self.guarded = name
                return _read_result(row)
        row = await self._one(_READ, (version, name), free=True)
        if row is None:
            return None
        if version is None and row[8] is not None and self.store.row_cache:
            if len(cache) >= self.store.row_cache:
                del cache[next(iter(cache))]  # the oldest: a bound, not an LRU
            cache[name] = row
        return _read_result(row)

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
        """Chain ``entry`` in this connection's audit lane. Nothing waits here: the lane is
        this connection's alone (``_claim_lane``) and its head is known, so the audit row and
        the lane's new head are queued and travel with the next round trip — for a read, its
        COMMIT. Only the first append on a connection costs a round trip (the claim)."""
        head = self.lane or self.state.lane or await self._claim_lane(key)
        lane, seq, prev = head
        entry.lane, entry.seq, entry.prev_hash = lane, seq + 1, prev
        ts = entry.timestamp.isoformat()
        entry.entry_hash = seal(key, prev, entry, ts)
        self._queue(
            'INSERT INTO {s}audit (seq, ts, "user", action, secret_id, secret_name, '
            "source_ip, success, reason, prev_hash, hash, lane) "
            "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (
                entry.seq,
                ts,
                entry.user,
                entry.action,
                entry.secret_id,
                entry.secret_name,
                entry.source_ip,
                entry.success,
                entry.reason,
                prev,
                entry.entry_hash,
                lane,
            ),
        )
        # The CASE is a tripwire, never expected to fire: if the lane's head is not where this
        # connection left it (a restore under a running fleet, a bug), seq becomes NULL and the
        # NOT NULL constraint aborts the unit instead of forking the lane.
        self._queue(
            "UPDATE {s}audit_lanes SET seq = CASE WHEN seq = %s THEN %s::bigint END, hash = %s, "
            "mac = %s "
            "WHERE lane = %s",
            (seq, entry.seq, entry.entry_hash, head_mac(key, entry.seq, entry.entry_hash), lane),
        )
        self.lane = (lane, entry.seq, entry.entry_hash)
        return entry

    async def _claim_lane(self, key: bytes) -> tuple[int, int, str]:
        """Take a free lane for this connection (a session advisory lock, which the server
        drops when the connection ends), or create one. Returns its committed head.

        Creating a lane takes the trail's transaction-scoped advisory lock, so lanes are
        numbered densely from 0 and the MACed registry (``audit_lanes`` in ``meta``) always
        names them all; it commits with the lane's first entry."""
        store = self.store
        self.claimed = True
        # The subquery's ORDER BY is materialised before the outer filter runs, and LIMIT
        # stops at the first lock granted: one lock taken, never one per row scanned.
        row = await self._one(
            "SELECT l.lane, l.seq, l.hash, (SELECT value FROM {s}meta WHERE key = 'audit_lanes') "
            "FROM (SELECT lane, seq, hash FROM {s}audit_lanes ORDER BY lane) l "
            "WHERE pg_try_advisory_lock(%s, l.lane) LIMIT 1",
            (store.lane_space,),
            free=True,  # a session lock: it outlives any transaction
        )
        if row is not None:
            lane, seq, h, registry = row
            if registry is None:  # a trail migrated from schema v1: record its lanes now
                self._queue("SELECT pg_advisory_xact_lock(%s)", (store.head_lock,))
                counted = await self._one("SELECT count(*) FROM {s}audit_lanes")
                await self.meta_set(
                    "audit_lanes", registry_value(key, int(counted[0]) if counted else 1)
                )
            return int(lane), int(seq), str(h) or lane_genesis(key, int(lane))
        self._queue("SELECT pg_advisory_xact_lock(%s)", (store.head_lock,))
        created = await self._one(
            "INSERT INTO {s}audit_lanes (lane, seq, hash, mac) "
            "SELECT COALESCE(MAX(lane) + 1, 0), 0, '', '' FROM {s}audit_lanes RETURNING lane"
        )
        lane = int(created[0]) if created else 0
        # a new number: no other session can hold its lock (one that created it and rolled
        # back closed its connection, see ``_finish``)
        self._queue("SELECT pg_advisory_lock(%s, %s)", (store.lane_space, lane))
        await self.meta_set("audit_lanes", registry_value(key, lane + 1))
        return lane, 0, lane_genesis(key, lane)

    async def purge_audit_before(self, cutoff: datetime) -> int:
        """In every lane, delete the entries up to its newest one older than ``cutoff``; that
        entry becomes the lane's anchor, so the rest still verifies."""
        await self._run(
            "UPDATE {s}audit_lanes l SET anchor_seq = c.seq, anchor_hash = c.hash FROM "
            "(SELECT DISTINCT ON (lane) lane, seq, hash FROM {s}audit WHERE ts < %s "
            "ORDER BY lane, seq DESC) c WHERE l.lane = c.lane",
            (cutoff.isoformat(),),
        )
        return await self._count(
            "DELETE FROM {s}audit a USING {s}audit_lanes l "
            "WHERE a.lane = l.lane AND a.seq <= l.anchor_seq"
        )


async def _writable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    """Until the socket takes more bytes (a round trip larger than its buffer). Waits for an
    answer go through the unit's own reader (``PostgresTransaction._readable_wait``)."""
    fut = loop.create_future()
    loop.add_writer(fd, _wake, fut)
    try:
        await fut
    finally:
        loop.remove_writer(fd)


def _lost(pg: PGconn) -> Exception:
    from psycopg import OperationalError

    return OperationalError(f"the connection was lost: {pg.get_error_message()}")


async def _probe(conn: AsyncConnection[Any]) -> None:
    """The pool's check when it hands out a connection, without a round trip: an idle
    connection has nothing to read unless the server wrote to it — in practice its goodbye
    (shutdown, restart, idle timeout, a terminated backend) — and only then is it pinged;
    a dead one is replaced by the pool. A connection that dies silently (no FIN) is caught
    by the unit's replay of its first round trip instead."""
    import select

    pg = conn.pgconn
    if pg.status != _CONN_OK:
        from psycopg import OperationalError

        raise OperationalError("the connection is closed")
    poller = select.poll()
    poller.register(pg.socket, select.POLLIN)
    if poller.poll(0):
        from psycopg_pool import AsyncConnectionPool

        await AsyncConnectionPool.check_connection(conn)


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

    def __init__(
        self, dsn: str, *, schema: str = "secretvault", pool_size: int = 10, row_cache: int = 4096
    ) -> None:
        if not schema.isidentifier():
            raise ConfigurationError(
                f"postgres_schema {schema!r} is not a plain identifier",
                hint="use letters, digits and underscores",
            )
        self.dsn = dsn
        self.schema = schema
        self.prefix = schema + "."
        # this schema's advisory locks: the trail's (creating a lane, see ``_claim_lane``) and
        # the space of its lanes' locks (two-int keys, which never collide with one-bigint ones)
        digest = hashlib.sha256(b"secretvault audit head\0" + schema.encode()).digest()
        self.head_lock = int.from_bytes(digest[:8], "big", signed=True)
        self.lane_space = int.from_bytes(digest[8:12], "big", signed=True)
        self.pool_size = pool_size
        self._pool: AsyncConnectionPool | None = None
        self.where = _where(dsn)
        self.statements: dict[str, bytes] = {}  # the store's SQL, as sent (see ``statement``)
        # name -> the ``_READ`` row of its current version, checked at each use (``read``);
        # at most ``row_cache`` of them (``postgres_row_cache``; 0: none)
        self.rows: dict[str, tuple[Any, ...]] = {}
        self.row_cache = row_cache
        self.conns: weakref.WeakKeyDictionary[AsyncConnection[Any], _ConnState] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:  # the DSN may hold a password
        return f"PostgresBackend({self.where}, schema={self.schema})"

    def statement(self, sql: str) -> bytes:
        """``sql`` for this schema with libpq's ``$n`` placeholders (the statements are written
        with ``{s}`` and ``%s``, the shared control statements with ``?``; none holds a
        literal ``?`` or ``%s``). Cached: the store's statements are a fixed, small set."""
        count = iter(range(1, 1000))
        text = _PLACEHOLDER.sub(lambda _: f"${next(count)}", sql.format(s=self.prefix))
        self.statements[sql] = out = text.encode()
        return out

    @property
    def pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            raise BackendUnavailableError("the vault is not initialized; call initialize() first")
        return self._pool

    async def open(self, *, create: bool) -> None:
        """Open the pool and check (or, when ``create``, create or migrate) the schema."""
        if self._pool is not None:
            return
        from psycopg import pq
        from psycopg_pool import AsyncConnectionPool

        # the wire layer compares libpq's codes as plain ints
        assert (pq.ExecStatus.FATAL_ERROR, pq.ExecStatus.PIPELINE_SYNC) == (
            _FATAL_ERROR,
            _PIPELINE_SYNC,
        )
        assert (pq.ConnStatus.OK, pq.Format.BINARY) == (_CONN_OK, _BINARY)
        assert pq.DiagnosticField.SQLSTATE == _SQLSTATE
        # check=_probe: a pooled connection is handed out without a ping (see _probe); after a
        # server restart a dead one is replaced instead of failing the next operation.
        pool = AsyncConnectionPool(
            self.dsn,
            min_size=1,
            max_size=self.pool_size,
            open=False,
            timeout=10,
            check=_probe,
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
            found: tuple[Any, ...] | None = None  # the schema_version row
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
                if found is not None and not create:
                    # migrating takes an exclusive lock on the audit table: an explicit step
                    raise ConfigurationError(
                        f"the PostgreSQL schema {self.schema} has version {found[0]}; this "
                        f"secretvault uses version {SCHEMA_VERSION}",
                        hint="stop the hosts running the older secretvault, then run "
                        "`secretvault init` once to migrate (see docs/multi-host.md)",
                    )
            if not create and not exists:
                raise BackendUnavailableError(
                    f"no secretvault schema {self.schema} at {self.where}",
                    hint="run `secretvault init` first",
                )
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            if exists:  # another host may have migrated it while this one waited for the lock
                cur = await conn.execute(
                    f"SELECT value FROM {self.schema}.meta WHERE key = 'schema_version'"
                )
                found = await cur.fetchone()
                if found is not None and int(found[0]) == SCHEMA_VERSION:
                    return
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
            for stmt in filter(str.strip, _TABLES.format(s=self.schema).split(";")):
                await conn.execute(stmt)
            for stmt in _FUNCTIONS:
                await conn.execute(stmt.format(s=self.schema).encode())
            if found is not None and int(found[0]) == 1:
                await self._migrate_v1(conn)
            await conn.execute(
                f"INSERT INTO {self.schema}.meta VALUES ('schema_version', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )

    async def _migrate_v1(self, conn: AsyncConnection[Any]) -> None:
        """v1's one chain becomes lane 0: its rows get ``lane = 0``, its head and anchor move
        from ``meta`` to lane 0's row. The registry is written by the first append (it needs
        the audit key, which this step does not have); until then a trail of lane 0 alone
        verifies without one, as a one-chain trail does."""
        s = self.schema
        for stmt in filter(str.strip, _MIGRATE_V1.format(s=s).split(";")):
            await conn.execute(stmt)
        v1_keys = ("audit_head", "audit_anchor_seq", "audit_anchor_hash")
        cur = await conn.execute(
            f"SELECT key, value FROM {s}.meta WHERE key = ANY(%s)", (list(v1_keys),)
        )
        meta = dict(await cur.fetchall())
        head = meta.get("audit_head", "")
        if head or meta.get("audit_anchor_seq"):
            seq, h, mac = head.split(":") if head else ("0", "", "")
            await conn.execute(
                f"INSERT INTO {s}.audit_lanes VALUES (0, %s, %s, %s, %s, %s)",
                (
                    int(seq),
                    h,
                    mac,
                    int(meta.get("audit_anchor_seq", 0)),
                    meta.get("audit_anchor_hash", ""),
                ),
            )
        await conn.execute(f"DELETE FROM {s}.meta WHERE key = ANY(%s)", (list(v1_keys),))

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

    def unit(self) -> PostgresTransaction:
        """One transaction over both roles (``async with``)."""
        return PostgresTransaction(self)

    session = unit
    transaction = unit

    async def generation(self) -> int:
        """The change counter (a sequence: any host's committed or attempted change)."""
        async with self.unit() as tx:
            row = await tx._one(
                "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {s}generation",
                free=True,
            )
        return int(row[0]) if row else 0

    async def control_generation(self) -> int:
        return await self.generation()

    async def audit_entries(self, secret_name: str | None = None) -> list[AccessLogEntry]:
        sql = (
            'SELECT seq, ts, "user", action, secret_id, secret_name, source_ip, success, '
            f"reason, prev_hash, hash, lane FROM {self.schema}.audit"
        )
        args: tuple[Any, ...] = ()
        if secret_name is not None:
            sql += " WHERE secret_name = %s"
            args = (secret_name,)
        async with self.unit() as tx:
            rows = await tx._all(sql + " ORDER BY ts, lane, seq", args, free=True)
        return [audit_entry_from_row(r) for r in rows]

    async def audit_trail(self) -> TrailState:
        async with self.unit() as tx:
            rows = await tx._all(
                "SELECT lane, seq, hash, mac, anchor_seq, anchor_hash FROM {s}audit_lanes "
                "ORDER BY lane"
            )
            registry = await tx.meta_get("audit_lanes")
        return TrailState(
            tuple(
                LaneState(lane, anchor_seq, anchor_hash, (seq, h, mac) if seq else None)
                for lane, seq, h, mac, anchor_seq, anchor_hash in rows
            ),
            registry,
        )

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
        await self._migrate(create=True)  # a dump from an older release comes back migrated
        # The dump brings back its own, older change counter: move it past both histories, or
        # a host whose cache saw a value of the counter the restored one reaches again would
        # keep serving entries from before the restore.
        try:
            await self._drop_lane_owners()
            async with self.pool.connection() as conn:
                await conn.execute(
                    f"SELECT setval('{self.schema}.generation', GREATEST(%s, "
                    f"(SELECT last_value FROM {self.schema}.generation)) + 1)",
                    (before,),
                )
        except Exception as exc:
            raise _mapped(exc, self.where) from None

    async def _drop_lane_owners(self) -> None:
        """After a restore, every session holding one of this trail's lanes caches that lane's
        head from before it: end those sessions (their pools reconnect; an operation in flight
        fails with ``BackendUnavailableError``), so nobody appends after a head that is gone."""
        space = self.lane_space & 0xFFFFFFFF  # pg_locks shows the first key as an unsigned oid
        locks = (
            "FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND classid = %s "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND pid <> pg_backend_pid()"
        )
        async with self.pool.connection() as conn:
            await conn.execute("SELECT pg_advisory_unlock_all()")  # this session's own lane
            state = self.conns.get(conn)
            if state is not None:
                state.lane = None
            await conn.execute(f"SELECT pg_terminate_backend(pid) {locks}", (space,))
            for _ in range(100):  # the backends end asynchronously; wait (at most ~5 s)
                cur = await conn.execute(f"SELECT count(*) {locks}", (space,))
                row = await cur.fetchone()
                if not row or not row[0]:
                    break
                await asyncio.sleep(0.05)
            await conn.commit()
        await self.pool.check()  # the pool's own terminated connections, before anyone takes one


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
        config.postgres_dsn,
        schema=config.postgres_schema,
        pool_size=config.postgres_pool_size,
        row_cache=config.postgres_row_cache,
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
