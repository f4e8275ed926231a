"""The embedded default store: one SQLite file, safe for many processes on one host.

Storage decisions, written down once:

- WAL journal, ``synchronous=NORMAL`` (``durability: full`` → FULL): a killed process never loses
  an acknowledged write; only power loss can lose the last commits in NORMAL mode.
- Every unit of work is ``BEGIN IMMEDIATE … COMMIT``. SQLite's own busy handler is off: it sleeps
  1, 2, 5 … 100 ms between tries, so a process looping over 70 µs transactions re-takes the
  lock before a sleeping waiter wakes and the others starve (the 4-process test saw workloads
  run one after another). ``with_retry`` polls instead, from 50 µs up to 2 ms with jitter, until
  ``busy_timeout_ms`` has passed in total, so "database is locked" never reaches the user under
  normal contention and waiters get their turn.
- Reads take the write lock too, because the audit row of a read commits with it.
- SQLite calls run inline in the coroutine: they take microseconds, and a thread hop would cost
  more than the query (the audited read target is 50 µs). A long lock wait therefore blocks the
  event loop; ``busy_timeout_ms`` bounds it.
- Tables: ``meta`` (schema version, generation, wrapped audit key, KDF salt), ``keys`` (key ring),
  ``secrets`` (one row per name, metadata JSON, current version), ``versions`` (immutable
  ciphertexts), ``audit`` (hash-chained entries). No plaintext column exists.
- ``audit`` has no index besides its seq: every read appends a row, and an index on the secret
  name costs each read a second B-tree page write (~30 % of an audited read's commit here).
  Per-secret audit queries are admin work and scan instead.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from secretvault import models
from secretvault.audit.chain import (
    GENESIS,
    AuditEvent,
    LaneState,
    TrailState,
    head_mac,
    seal,
)
from secretvault.backends.base import SecretFilter, StoredVersion, StoreFeatures, open_new_backup
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
from secretvault.models import BackendType

if TYPE_CHECKING:
    from secretvault.config import SecretsConfig
    from secretvault.models import AccessLogEntry, SecretRecord, SecretVersionInfo

SCHEMA_VERSION = 3
# v2: leases (rotations in progress, moved out of meta) and injection bindings.
# v3: the audit chain's head MAC moves from a meta row into the newest audit row (``head``).

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS keys (
  key_id TEXT PRIMARY KEY, status TEXT NOT NULL, created_at TEXT NOT NULL,
  check_ct BLOB NOT NULL, check_nonce BLOB NOT NULL, check_salt BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (
  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, secret_type TEXT NOT NULL,
  status TEXT NOT NULL, current_version INTEGER NOT NULL, metadata TEXT NOT NULL,
  deleted_at TEXT, purge_after TEXT);
CREATE TABLE IF NOT EXISTS versions (
  secret_id TEXT NOT NULL REFERENCES secrets(id) ON DELETE CASCADE, version INTEGER NOT NULL,
  ciphertext BLOB NOT NULL, nonce BLOB NOT NULL, salt BLOB NOT NULL, key_id TEXT NOT NULL,
  created_at TEXT NOT NULL, created_by TEXT NOT NULL, stage TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (secret_id, version));
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, user TEXT NOT NULL, action TEXT NOT NULL,
  secret_id TEXT, secret_name TEXT, source_ip TEXT, success INTEGER NOT NULL, reason TEXT,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL, head TEXT);
CREATE TABLE IF NOT EXISTS grants (
  id INTEGER PRIMARY KEY, principal TEXT NOT NULL, role TEXT NOT NULL,
  scope_type TEXT NOT NULL, pattern TEXT NOT NULL, created_at TEXT NOT NULL,
  created_by TEXT NOT NULL, UNIQUE (principal, role, scope_type, pattern));
CREATE TABLE IF NOT EXISTS roles (name TEXT PRIMARY KEY, levels TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bindings (
  target TEXT NOT NULL, secret_name TEXT NOT NULL, kind TEXT NOT NULL, spec TEXT NOT NULL,
  PRIMARY KEY (target, secret_name));
"""

# Schema v1 kept rotation owners in meta as ``rotation:<id>:<version>``.
_MIGRATE_V1 = (
    "INSERT OR REPLACE INTO leases(name, owner) SELECT key, value FROM meta "
    "WHERE key LIKE 'rotation:%'",
    "DELETE FROM meta WHERE key LIKE 'rotation:%'",
)

# Schema v2 kept the head as a meta row ``seq:hash:mac`` (moved by ``_migrate_v2``).
_MIGRATE_V2 = ("ALTER TABLE audit ADD COLUMN head TEXT",)

#: The audit columns ``audit_entry_from_row`` reads (``head`` is not part of an entry).
_AUDIT_COLS = (
    "seq, ts, user, action, secret_id, secret_name, source_ip, success, reason, prev_hash, hash"
)

_LOCK_WORDS = ("locked", "busy")


_SECRET_COLS = ", ".join(SECRET_COLUMNS)
_SECRET_COLS_S = ", ".join("s." + c.strip() for c in _SECRET_COLS.split(","))


DB_PARTS = ("", "-wal", "-shm")


def remove_database(path: Path) -> None:
    """Delete a database file with its WAL and shared-memory files."""
    for suffix in DB_PARTS:
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def copy_database(source: Path, target: Path) -> None:
    """Consistent copy of ``source`` into a new 0600 file (SQLite backup API).

    Raises ``sqlite3.DatabaseError`` when ``source`` is not a database."""
    target.touch(mode=0o600, exist_ok=False)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def active_key_id(path: Path) -> str | None:
    """The active key id of a database's key ring; None when it has none (not a vault)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT key_id FROM keys WHERE status = 'active'").fetchone()
    except sqlite3.DatabaseError:
        row = None
    finally:
        conn.close()
    return row[0] if row else None


_READ_SQL = (
    f"SELECT {_SECRET_COLS_S}, v.version, v.ciphertext, v.nonce, v.salt, v.key_id, "
    "v.created_at, v.created_by, v.stage FROM secrets s LEFT JOIN versions v "
    "ON v.secret_id = s.id AND v.version = COALESCE(?, s.current_version) "
    "WHERE s.name = ?"
)


def stored_from_row(row: tuple[Any, ...]) -> StoredVersion | None:
    """The version part of a ``read_row`` row (None when the version does not exist)."""
    v, ct, nonce, salt, kid, created_at, created_by, stage = row[8:]
    if v is None:
        return None
    return StoredVersion(
        v, Envelope(ct, nonce, salt, kid), time_from(created_at), created_by, stage
    )


class LocalTransaction(SqlControlRole):
    """One SQLite transaction, playing both store roles: it is the ``Unit``, its secret
    session and its control session at once, which is how the audit row of an operation
    commits with the operation (see ``LocalBackend.unit``)."""

    __slots__ = ("changed", "conn")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.changed = False

    @property
    def secrets(self) -> LocalTransaction:
        """The secret-store role of this unit: this same transaction."""
        return self

    @property
    def control(self) -> LocalTransaction:
        """The control-store role of this unit: this same transaction."""
        return self

    def _bump(self) -> None:
        if not self.changed:
            self.conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
            self.changed = True

    async def get(self, name: str) -> SecretRecord | None:
        """The record (metadata, status) of ``name``; None when absent."""
        row = self.conn.execute(
            f"SELECT {_SECRET_COLS} FROM secrets WHERE name = ?", (name,)
        ).fetchone()
        return record_from_row(row) if row else None

    async def read(
        self, name: str, version: int | None = None
    ) -> tuple[SecretRecord, StoredVersion | None] | None:
        """Record and one version (default: current) in a single query — the hot read path."""
        row = self.read_row(name, version)
        if row is None:
            return None
        stored = stored_from_row(row)
        if stored is None:
            return record_from_row(row[:8]), None
        # A local version always carries our envelope (never a NativeValue).
        return record_from_row(row[:8], stored.payload), stored  # type: ignore[arg-type]

    def read_row(self, name: str, version: int | None = None) -> tuple[Any, ...] | None:
        """``read``'s row as it is: the ``SECRET_COLUMNS`` then the version's columns (all
        None when that version does not exist). The CLI's fast ``get`` reads this, without
        building the pydantic record."""
        row: tuple[Any, ...] | None = self.conn.execute(_READ_SQL, (version, name)).fetchone()
        return row

    async def get_version(self, secret_id: str, version: int) -> StoredVersion | None:
        """One stored version; None when it does not exist (or was pruned)."""
        row = self.conn.execute(
            "SELECT version, ciphertext, nonce, salt, key_id, created_at, created_by, stage "
            "FROM versions WHERE secret_id = ? AND version = ?",
            (secret_id, version),
        ).fetchone()
        if row is None:
            return None
        v, ct, nonce, salt, kid, created_at, created_by, stage = row
        return StoredVersion(
            v, Envelope(ct, nonce, salt, kid), time_from(created_at), created_by, stage
        )

    async def max_version(self, secret_id: str) -> int:
        """Highest version number stored (pending ones included); 0 when none."""
        row = self.conn.execute(
            "SELECT MAX(version) FROM versions WHERE secret_id = ?", (secret_id,)
        ).fetchone()
        return row[0] or 0

    async def create(self, record: SecretRecord, version: StoredVersion) -> None:
        """Insert a new secret and its first version."""
        self.conn.execute(
            f"INSERT INTO secrets ({_SECRET_COLS}) VALUES (?,?,?,?,?,?,?,?)",
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
        self._insert_version(record.id, version)
        self._bump()

    def _insert_version(self, secret_id: str, version: StoredVersion) -> None:
        env = version.payload
        if not isinstance(env, Envelope):
            raise TypeError("the local store keeps envelopes only")  # a facade bug, not input
        self.conn.execute(
            "INSERT INTO versions VALUES (?,?,?,?,?,?,?,?,?)",
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

    async def add_version(
        self, record: SecretRecord, version: StoredVersion, max_versions: int, *, cas: int
    ) -> None:
        """Add a version. A ``current`` one demotes the old current to ``previous``. Refused
        with ``VersionConflictError`` unless the stored current version is ``cas``."""
        row = self.conn.execute(
            "SELECT current_version FROM secrets WHERE id = ?", (record.id,)
        ).fetchone()
        if row is None or row[0] != cas:
            raise VersionConflictError(
                f"secret {record.name!r} is at version {row[0] if row else 'none'}, "
                f"not {cas}: another writer changed it",
                hint="read it again and retry",
            )
        if version.stage == "current":
            self.conn.execute(
                "UPDATE versions SET stage = '' WHERE secret_id = ? AND stage = 'previous'",
                (record.id,),
            )
            self.conn.execute(
                "UPDATE versions SET stage = 'previous' WHERE secret_id = ? AND stage = 'current'",
                (record.id,),
            )
        self._insert_version(record.id, version)
        await self.update(record)
        if max_versions:
            self.conn.execute(
                "DELETE FROM versions WHERE secret_id = ? AND stage = '' AND version <= "
                "(SELECT MAX(version) FROM versions WHERE secret_id = ?) - ?",
                (record.id, record.id, max_versions),
            )

    async def set_stage(self, secret_id: str, version: int, stage: str) -> None:
        """Move a staged version (rotation: pending → current)."""
        if stage == "current":
            self.conn.execute(
                "UPDATE versions SET stage = '' WHERE secret_id = ? AND stage = 'previous'",
                (secret_id,),
            )
            self.conn.execute(
                "UPDATE versions SET stage = 'previous' WHERE secret_id = ? AND stage = 'current'",
                (secret_id,),
            )
        self.conn.execute(
            "UPDATE versions SET stage = ? WHERE secret_id = ? AND version = ?",
            (stage, secret_id, version),
        )
        self._bump()

    async def drop_version(self, secret_id: str, version: int) -> None:
        """Remove a version that never became current (a failed rotation's pending one)."""
        self.conn.execute(
            "DELETE FROM versions WHERE secret_id = ? AND version = ? AND stage = 'pending'",
            (secret_id, version),
        )
        self._bump()

    async def pending_versions(self) -> list[tuple[str, int]]:
        """(secret id, version) of every version left pending, e.g. by a crashed rotation."""
        return self.conn.execute(
            "SELECT secret_id, version FROM versions WHERE stage = 'pending'"
        ).fetchall()

    async def update(self, record: SecretRecord) -> None:
        """Write status, metadata and deletion timestamps of an existing secret."""
        self.conn.execute(
            "UPDATE secrets SET status = ?, current_version = ?, metadata = ?, deleted_at = ?, "
            "purge_after = ?, secret_type = ? WHERE id = ?",
            (
                record.status.value,
                record.metadata.version,
                record.metadata.model_dump_json(),
                iso(record.deleted_at),
                iso(record.purge_after),
                record.secret_type.value,
                record.id,
            ),
        )
        self._bump()

    async def purge(self, secret_id: str) -> None:
        """Hard delete: the secret and every version."""
        self.conn.execute("DELETE FROM versions WHERE secret_id = ?", (secret_id,))
        self.conn.execute("DELETE FROM secrets WHERE id = ?", (secret_id,))
        self._bump()

    async def list_records(self, flt: SecretFilter) -> list[SecretRecord]:
        """Records matching the filter, by name. Tags must all be present."""
        sql, args = f"SELECT {_SECRET_COLS} FROM secrets WHERE 1=1", []
        if flt.status is not None:
            sql += " AND status = ?"
            args.append(flt.status.value)
        if flt.secret_type is not None:
            sql += " AND secret_type = ?"
            args.append(flt.secret_type.value)
        rows = self.conn.execute(sql + " ORDER BY name", args).fetchall()
        return [rec for rec in map(record_from_row, rows) if flt.matches(rec)]

    async def versions(self, secret_id: str) -> list[SecretVersionInfo]:
        """Every stored version of a secret, newest first."""
        rows = self.conn.execute(
            "SELECT version, created_at, created_by, stage, key_id FROM versions "
            "WHERE secret_id = ? ORDER BY version DESC",
            (secret_id,),
        ).fetchall()
        return [
            models.SecretVersionInfo(
                version=v, created_at=time_from(c), created_by=b, stage=s, key_id=k
            )
            for v, c, b, s, k in rows
        ]

    async def append_audit(self, entry: AuditEvent, key: bytes) -> AuditEvent:
        """Chain ``entry`` to the last one and insert it (within this transaction).

        The head MAC (``audit.chain.head_mac``: truncation shows) rides on the newest row and
        is cleared from the one before. Both rows sit on the table's last page, which the
        insert writes anyway; a separate head row (schema v2's meta row) cost every audited
        read a second page in its commit (~4 µs of a ~55 µs read).
        """
        conn = self.conn
        last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        if last is None:
            seq, prev = self._anchor()
        else:
            seq, prev = last
        entry.seq, entry.prev_hash = seq + 1, prev  # the entry is built per call: ours to fill
        ts = entry.timestamp.isoformat()
        entry.entry_hash = seal(key, prev, entry, ts)
        conn.execute(
            "INSERT INTO audit VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                entry.seq,
                ts,
                entry.user,
                entry.action,
                entry.secret_id,
                entry.secret_name,
                entry.source_ip,
                int(entry.success),
                entry.reason,
                entry.prev_hash,
                entry.entry_hash,
                head_mac(key, entry.seq, entry.entry_hash),
            ),
        )
        if last is not None:
            conn.execute("UPDATE audit SET head = NULL WHERE seq = ?", (seq,))
        return entry

    def _anchor(self) -> tuple[int, str]:
        rows = dict(
            self.conn.execute(
                "SELECT key, value FROM meta WHERE key IN ('audit_anchor_seq','audit_anchor_hash')"
            ).fetchall()
        )
        return int(rows.get("audit_anchor_seq", 0)), rows.get("audit_anchor_hash", GENESIS)

    async def purge_audit_before(self, cutoff: datetime) -> int:
        """Delete entries older than ``cutoff``; the anchor (seq and hash of the last one
        deleted) keeps the rest verifiable. The caller appends its own record in this same
        transaction, so history never disappears unaudited."""
        row = self.conn.execute(
            "SELECT seq, hash FROM audit WHERE ts < ? ORDER BY seq DESC LIMIT 1",
            (cutoff.isoformat(),),
        ).fetchone()
        if row is None:
            return 0
        seq, h = row
        n = self.conn.execute("DELETE FROM audit WHERE seq <= ?", (seq,)).rowcount
        self._meta_set("audit_anchor_seq", str(seq))
        self._meta_set("audit_anchor_hash", h)
        return n

    # -- meta rows the audit retention writes inside its own statements (synchronous) ---------

    def _meta_set(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def envelopes(self) -> list[tuple[str, int, Envelope]]:
        """Every stored version's envelope (for rekey)."""
        rows = self.conn.execute(
            "SELECT secret_id, version, ciphertext, nonce, salt, key_id FROM versions"
        ).fetchall()
        return [(s, v, Envelope(ct, n, salt, k)) for s, v, ct, n, salt, k in rows]

    async def rewrap(self, secret_id: str, version: int, env: Envelope) -> None:
        """Replace one version's envelope (rekey)."""
        self.conn.execute(
            "UPDATE versions SET ciphertext = ?, nonce = ?, salt = ?, key_id = ? "
            "WHERE secret_id = ? AND version = ?",
            (env.ciphertext, env.nonce, env.salt, env.key_id, secret_id, version),
        )
        self._bump()

    async def secret_name(self, secret_id: str) -> str | None:
        """The name of the secret with this id."""
        row = self.conn.execute("SELECT name FROM secrets WHERE id = ?", (secret_id,)).fetchone()
        return row[0] if row else None

    # -- the primitives SqlControlRole (grants, key ring, leases, bindings, meta) runs on ----

    async def _one(self, sql: str, args: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self.conn.execute(sql.format(s=""), args).fetchone()
        return row

    async def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql.format(s=""), args).fetchall()

    async def _run(self, sql: str, args: tuple[Any, ...] = ()) -> None:
        self.conn.execute(sql.format(s=""), args)

    async def _count(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        return self.conn.execute(sql.format(s=""), args).rowcount

    async def _changed(self) -> None:
        self._bump()


class _TxContext:
    """``async with backend.transaction() as tx`` — BEGIN IMMEDIATE, COMMIT or ROLLBACK."""

    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend
        self.tx: LocalTransaction | None = None

    async def __aenter__(self) -> LocalTransaction:
        conn = self.backend.connection
        try:
            conn.execute("BEGIN IMMEDIATE")  # the uncontended case, without the retry wrapper
        except sqlite3.OperationalError:
            self.backend.begin_immediate(conn)
        self.tx = LocalTransaction(conn)
        return self.tx

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        conn = self.backend.connection
        if exc_type is not None:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.DatabaseError):
                raise self.backend.storage_error(exc) from None
            return
        try:
            try:
                conn.execute("COMMIT")
            except sqlite3.OperationalError:
                self.backend.with_retry(lambda: conn.execute("COMMIT"))
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if self.tx is not None and self.tx.changed:
            self.backend.note_own_write()


class LocalBackend:
    """Encrypted SQLite store (``default_backend: local``): secret store and control store in
    one file, so every operation is one transaction."""

    backend_type = BackendType.LOCAL
    features = StoreFeatures()

    def __init__(
        self, path: str | Path, *, busy_timeout_ms: int = 15000, durability: str = "normal"
    ):
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.durability = durability
        self._conn: sqlite3.Connection | None = None
        self._data_version = -1
        self._generation = -1

    # -- connection -----------------------------------------------------------------------

    @property
    def connection(self) -> sqlite3.Connection:
        """The open connection; a clear error if the backend was closed."""
        if self._conn is None:
            raise BackendUnavailableError("the vault is not initialized; call initialize() first")
        return self._conn

    async def exists(self) -> bool:
        """True when the database file exists (so a new key must not be generated)."""
        return self.path.exists()

    async def open(self, *, create: bool) -> None:
        """Open (and when ``create``, create) the database; migrate the schema."""
        if not self.path.exists() and not create:
            raise BackendUnavailableError(
                f"vault database {self.path} does not exist",
                hint="run `secretvault init` first (with a server backend this local file "
                "holds the audit trail and the key ring)",
            )
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.close(fd)
        self._conn = self._connect(self.path)
        self._migrate()

    def _connect(self, path: Path) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                path,
                isolation_level=None,
                timeout=0,  # no SQLite busy handler: with_retry polls (module docstring)
                check_same_thread=False,
            )
            self.with_retry(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            sync = "FULL" if self.durability == "full" else "NORMAL"
            conn.execute(f"PRAGMA synchronous = {sync}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise self._open_error(exc) from None
        return conn

    def storage_error(self, exc: sqlite3.DatabaseError) -> BackendUnavailableError:
        """A SQLite error met mid-operation, as the user-facing error (lock, corruption...)."""
        return self._open_error(exc)

    def _open_error(self, exc: sqlite3.DatabaseError) -> BackendUnavailableError:
        text = str(exc)
        if "not a database" in text or "malformed" in text:
            return BackendUnavailableError(
                f"{self.path} is not a secretvault database or is corrupt ({text})",
                hint="restore a backup: `secretvault restore --from-backup FILE` (the "
                "damaged file is kept aside); nothing was changed",
            )
        if "unable to open" in text or "readonly" in text:
            return BackendUnavailableError(
                f"cannot open vault database {self.path} ({text})",
                hint="check that the file and its directory are readable and writable by you",
            )
        return BackendUnavailableError(f"vault database {self.path}: {text}")

    def _migrate(self) -> None:
        conn = self.connection
        if self._schema_current(conn):
            return
        self.begin_immediate(conn)
        try:
            for stmt in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(stmt)
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
                conn.execute("INSERT INTO meta VALUES ('generation', 0)")
            elif int(row[0]) > SCHEMA_VERSION:
                raise ConfigurationError(
                    f"{self.path} has schema version {row[0]}, newer than this secretvault "
                    f"({SCHEMA_VERSION})",
                    hint="upgrade secretvault",
                )
            elif int(row[0]) < SCHEMA_VERSION:
                if int(row[0]) == 1:
                    for stmt in _MIGRATE_V1:
                        conn.execute(stmt)
                if int(row[0]) <= 2:
                    self._migrate_v2(conn)
                conn.execute(
                    "UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION,)
                )
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise self._open_error(exc) from None
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _migrate_v2(conn: sqlite3.Connection) -> None:
        """v2 → v3: the head MAC from its meta row onto the audit row it names. If that row
        is not the newest any more (the tail was cut), no row gets it and verify reports it."""
        for stmt in _MIGRATE_V2:
            conn.execute(stmt)
        row = conn.execute("SELECT value FROM meta WHERE key = 'audit_head'").fetchone()
        if row is not None:
            seq, h, mac = row[0].split(":")
            conn.execute("UPDATE audit SET head = ? WHERE seq = ? AND hash = ?", (mac, int(seq), h))
            conn.execute("DELETE FROM meta WHERE key = 'audit_head'")

    def _schema_current(self, conn: sqlite3.Connection) -> bool:
        """True when the schema is already at this version (the common case: skip all DDL)."""
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.OperationalError:
            return False  # no meta table yet: a new database
        except sqlite3.DatabaseError as exc:
            raise self._open_error(exc) from None
        return row is not None and int(row[0]) == SCHEMA_VERSION

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- transactions and contention ------------------------------------------------------

    def with_retry(self, fn: Any) -> Any:
        """Run ``fn``, retrying SQLite lock errors with jittered back-off up to the timeout."""
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        delay = 0.00005
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if not any(w in str(exc) for w in _LOCK_WORDS):
                    raise self._open_error(exc) from None
                if time.monotonic() >= deadline:
                    raise BackendUnavailableError(
                        f"vault database {self.path} stayed locked for {self.busy_timeout_ms} ms",
                        hint="another process holds a long transaction; retry, or raise "
                        "busy_timeout_ms",
                    ) from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.002)

    def begin_immediate(self, conn: sqlite3.Connection) -> None:
        """Take the write lock (retrying on contention)."""
        self.with_retry(lambda: conn.execute("BEGIN IMMEDIATE"))

    def unit(self) -> _TxContext:
        """An atomic unit of work over both roles: ``async with backend.unit() as tx``."""
        return _TxContext(self)

    # One transaction serves each role alone too (SecretStore.session, ControlStore.transaction).
    session = unit
    transaction = unit

    @contextmanager
    def sync_transaction(self) -> Iterator[LocalTransaction]:
        """The same unit of work for synchronous admin code (rekey, RBAC, audit retention)."""
        conn = self.connection
        self.begin_immediate(conn)
        try:
            yield LocalTransaction(conn)
        except sqlite3.DatabaseError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise self.storage_error(exc) from None
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.with_retry(lambda: conn.execute("COMMIT"))

    async def generation(self) -> int:
        """A counter that changes whenever any process changes a secret (cache invalidation)."""
        conn = self.connection
        dv = conn.execute("PRAGMA data_version").fetchone()[0]
        if dv != self._data_version or self._generation < 0:
            self._data_version = dv
            row = self.with_retry(
                lambda: conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
            )
            self._generation = int(row[0])
        return self._generation

    def note_own_write(self) -> None:
        """Forget the cached generation after this connection committed a change."""
        self._generation = -1

    async def control_generation(self) -> int:
        """Grants and roles bump the same counter as secrets (one ``meta`` row)."""
        return await self.generation()

    # -- audit queries ---------------------------------------------------------------------

    async def audit_entries(self, secret_name: str | None = None) -> list[AccessLogEntry]:
        """Audit entries in seq order (one chain: that is time order), optionally for one
        secret name."""
        sql = f"SELECT {_AUDIT_COLS} FROM audit"
        args: list[Any] = []
        if secret_name is not None:
            sql += " WHERE secret_name = ?"
            args.append(secret_name)
        try:
            rows = self.with_retry(
                lambda: self.connection.execute(sql + " ORDER BY seq", args).fetchall()
            )
        except sqlite3.DatabaseError as exc:
            raise self.storage_error(exc) from None
        return [audit_entry_from_row(r) for r in rows]

    async def audit_trail(self) -> TrailState:
        """One lane (0): the anchor from ``meta`` and the head MAC on the newest row ("" when
        that row carries none: the entries after it were removed)."""
        row = self.connection.execute(
            "SELECT seq, hash, head FROM audit ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        head = None if row is None else (row[0], row[1], row[2] or "")
        seq, h = LocalTransaction(self.connection)._anchor()
        return TrailState((LaneState(0, seq, h, head),))

    # -- integrity, backup, restore --------------------------------------------------------

    def integrity_check(self) -> str:
        """SQLite's own integrity check ("ok" when healthy)."""
        return str(self.connection.execute("PRAGMA integrity_check").fetchone()[0])

    def backup_to(self, target: Path) -> Path:
        """Online, consistent copy of the live database (SQLite backup API), mode 0600."""
        os.close(open_new_backup(target))
        dst = sqlite3.connect(target)
        try:
            self.with_retry(lambda: self.connection.backup(dst))
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
        return target

    def restore_from(self, source: Path) -> None:
        """Replace the live contents with a backup's, through the backup API (others see it)."""
        before = int(
            self.connection.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]
        )
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            self.with_retry(lambda: src.backup(self.connection))
        finally:
            src.close()
        # Move the generation past both histories so no process keeps a stale cache entry.
        with self.sync_transaction() as tx:
            tx.conn.execute(
                "UPDATE meta SET value = MAX(CAST(value AS INTEGER), ?) + 1 "
                "WHERE key = 'generation'",
                (before,),
            )
        self.note_own_write()


def local_store(config: SecretsConfig) -> LocalBackend:
    """The registry's factory for ``default_backend: local`` (``storage_path`` and friends)."""
    return LocalBackend(
        config.storage_path, busy_timeout_ms=config.busy_timeout_ms, durability=config.durability
    )


if TYPE_CHECKING:
    # mypy proves here that the local store plays both roles and that its transaction is a
    # unit, a secret session and a control session (a Protocol is only real when checked).
    from secretvault.backends.base import ControlSession, SecretSession, SharedStore, Unit

    _as_store: type[SharedStore] = LocalBackend
    _as_unit: type[Unit] = LocalTransaction
    _as_secret_session: type[SecretSession] = LocalTransaction
    _as_control_session: type[ControlSession] = LocalTransaction
