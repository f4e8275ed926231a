"""The two store roles the facade is typed against, and the plain data they move.

``docs/architecture.md`` explains the design; this module is its contract.

**Secret store** (every backend: local, postgres, vault, aws, azure) — records, immutable
versions written with compare-and-set, stage labels (current / previous / pending), soft delete,
restore, purge and filtered listing. A store declares in ``StoreFeatures`` what it does
natively; ``SecretVault`` does the rest the same way everywhere.

**Control store** (SQLite locally, PostgreSQL for a fleet) — the audit chain, grants and roles,
the master-key ring, leases (a rotation in progress), injection bindings and meta values.

A store never decides access, never builds audit entries and, unless it encrypts natively,
never sees plaintext. Work happens in a *unit* (``Unit``): a secret session and a control
session that commit together. Where both roles live in one database (``SharedStore``: the
local backend) the unit is ONE transaction, so a read is never returned before its audit row
commits. Where they are separate stores the unit commits the secret store first and the audit
trail second, and the facade returns nothing until the second commit succeeded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from secretvault.audit.chain import AuditEvent, TrailState
from secretvault.crypto.envelope import Envelope
from secretvault.crypto.keyring import KeyInfo
from secretvault.errors import InvalidArgumentError
from secretvault.models import BackendType, SecretStatus, SecretType

if TYPE_CHECKING:  # pydantic models: annotations only, so a store imports without pydantic
    from secretvault.models import AccessLogEntry, SecretRecord, SecretVersionInfo

#: Stage labels of a version. ``""`` is an older version that no label points at.
STAGE_CURRENT = "current"
STAGE_PREVIOUS = "previous"
STAGE_PENDING = "pending"


@dataclass(frozen=True, slots=True)
class StoreFeatures:
    """What a secret store does natively that changes what the facade does.

    ``native_encryption``: the store encrypts values itself (Vault's barrier, AWS KMS, Azure
    HSM), so versions carry ``NativeValue`` instead of our envelope and other tools can read
    them; ``KeyManager`` reads this. ``not_found``: the store's own text for a missing
    secret (``Operations.readable`` reads it). A flag is added here when the facade needs to
    read it — versions, stages and soft delete are part of every store's contract, mapped natively
    where the store has them (each backend's docstring says how).
    """

    native_encryption: bool = False
    #: How ``get`` reports a name the store does not hold: (message with ``{name}``, hint).
    #: None is the generic "secret 'x' not found"; a store adds its own troubleshooting.
    not_found: tuple[str, str] | None = None


class NativeValue:
    """A plaintext value on its way to or from a store that encrypts natively.

    Its ``repr`` never shows the value, so a logged ``StoredVersion`` leaks nothing."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "NativeValue(***)"


@dataclass(slots=True)
class StoredVersion:
    """One immutable version: our envelope, or the value a natively encrypting store keeps."""

    version: int
    payload: Envelope | NativeValue
    created_at: datetime
    created_by: str
    stage: str = STAGE_CURRENT


@dataclass(slots=True)
class SecretFilter:
    """``list_secrets`` filters; None means "any". Every listed tag must be present."""

    status: SecretStatus | None = None
    secret_type: SecretType | None = None
    tags: Sequence[str] = field(default_factory=tuple)
    service: str | None = None
    environment: str | None = None

    def matches(self, record: SecretRecord) -> bool:
        """True when ``record`` passes every filter (for stores that filter in Python)."""
        md = record.metadata
        return (
            (self.status is None or record.status == self.status)
            and (self.secret_type is None or record.secret_type == self.secret_type)
            and (self.service is None or md.service == self.service)
            and (self.environment is None or md.environment == self.environment)
            and set(self.tags) <= set(md.tags)
        )


@dataclass(frozen=True, slots=True)
class Binding:
    """A recorded injection of one secret into a named target (see the injection docs)."""

    target: str
    secret_name: str
    kind: str
    spec: str  # JSON: the options the injection was made with (never the value)


class StaleReadError(Exception):
    """A store answered ``read`` from a cache it checks when the unit commits, and the record
    had changed by then: the unit committed nothing. The caller runs the operation again (the
    store has dropped its cache, so the next read asks the database). Not a ``SecretVaultError``:
    it never reaches a user and is never audited."""


class SecretSession(Protocol):
    """The secret-store role inside one unit of work."""

    async def get(self, name: str) -> SecretRecord | None:
        """The record of ``name`` (metadata, status); None when absent."""
        ...

    async def read(
        self, name: str, version: int | None = None
    ) -> tuple[SecretRecord, StoredVersion | None] | None:
        """Record and one version (default: current); None when the secret is absent. A
        store may answer from a cache it checks when the unit commits; the unit then raises
        ``StaleReadError`` if the record had changed, and the caller runs the read again."""
        ...

    async def get_version(self, secret_id: str, version: int) -> StoredVersion | None:
        """One stored version; None when it does not exist (or was pruned)."""
        ...

    async def max_version(self, secret_id: str) -> int:
        """Highest version number stored, pending ones included; 0 when none."""
        ...

    async def create(self, record: SecretRecord, version: StoredVersion) -> None:
        """Insert a new secret and its first version."""
        ...

    async def add_version(
        self, record: SecretRecord, version: StoredVersion, max_versions: int, *, cas: int
    ) -> None:
        """Add a version and write ``record``; a ``current`` one demotes the old current to
        ``previous``. ``cas`` is the current version the caller saw: when the store holds
        another, nothing is written and ``VersionConflictError`` is raised."""
        ...

    async def set_stage(self, secret_id: str, version: int, stage: str) -> None:
        """Move a stage label to ``version`` (rotation: pending → current)."""
        ...

    async def drop_version(self, secret_id: str, version: int) -> None:
        """Remove a version that never became current (a failed rotation's pending one)."""
        ...

    async def pending_versions(self) -> list[tuple[str, int]]:
        """(secret id, version) of every version labelled pending."""
        ...

    async def update(self, record: SecretRecord) -> None:
        """Write status, metadata and deletion timestamps of an existing secret."""
        ...

    async def purge(self, secret_id: str) -> None:
        """Hard delete: the secret and every version."""
        ...

    async def list_records(self, flt: SecretFilter) -> list[SecretRecord]:
        """Records matching the filter, ordered by name."""
        ...

    async def versions(self, secret_id: str) -> list[SecretVersionInfo]:
        """Every stored version of a secret, newest first (no values)."""
        ...

    async def secret_name(self, secret_id: str) -> str | None:
        """The name of the secret with this id."""
        ...

    async def envelopes(self) -> list[tuple[str, int, Envelope]]:
        """Every version's envelope, for ``rekey``; empty for natively encrypting stores."""
        ...

    async def rewrap(self, secret_id: str, version: int, env: Envelope) -> None:
        """Replace one version's envelope (``rekey``)."""
        ...

    @property
    def changed(self) -> bool:
        """True once this session changed a secret (read caches must be dropped)."""
        ...


class ControlSession(Protocol):
    """The control-store role inside one unit of work."""

    async def append_audit(self, entry: AuditEvent, key: bytes) -> AuditEvent:
        """Chain ``entry`` to the newest one (MAC under ``key``) and insert it."""
        ...

    async def purge_audit_before(self, cutoff: datetime) -> int:
        """Delete entries older than ``cutoff``, keeping an anchor so the rest verifies."""
        ...

    async def meta_get(self, key: str) -> str | None:
        """A value from the meta table (schema version, wrapped audit key, KDF salt…)."""
        ...

    async def meta_set(self, key: str, value: str) -> None:
        """Insert or replace a meta value."""
        ...

    async def keys(self) -> list[KeyInfo]:
        """The master-key ring, active key first."""
        ...

    async def add_key(self, key_id: str, check: Envelope) -> None:
        """Make ``key_id`` the active key; every other key becomes retired."""
        ...

    async def active_key_id(self) -> str:
        """Id of the key new versions must be written under ("" before the first key)."""
        ...

    async def grants(self) -> list[tuple[str, str, str, str]]:
        """(principal, role, scope type, pattern) of every grant, oldest first."""
        ...

    async def roles(self) -> list[tuple[str, str]]:
        """(name, JSON list of access levels) of every custom role."""
        ...

    async def add_grant(
        self, principal: str, role: str, scope_type: str, pattern: str, by: str
    ) -> None:
        """Store a grant (a duplicate is ignored)."""
        ...

    async def remove_grants(
        self, principal: str, role: str | None = None, scope: tuple[str, str] | None = None
    ) -> int:
        """Delete ``principal``'s grants, narrowed by role and scope; returns how many."""
        ...

    async def lease_get(self, name: str) -> str | None:
        """The owner record of lease ``name`` (e.g. a rotation in progress); None if free."""
        ...

    async def lease_put(self, name: str, owner: str) -> None:
        """Record ``owner`` as holding lease ``name``."""
        ...

    async def lease_drop(self, name: str) -> None:
        """Release lease ``name`` (absent is fine)."""
        ...

    async def binding_put(self, binding: Binding) -> None:
        """Record (or replace) an injection binding of ``binding.secret_name`` into a target."""
        ...

    async def bindings(
        self, target: str | None = None, secret_name: str | None = None
    ) -> list[Binding]:
        """Bindings, narrowed to one target and/or one secret."""
        ...

    async def binding_drop(self, target: str, secret_name: str) -> int:
        """Remove a binding; returns how many were removed (0 or 1)."""
        ...


class Unit(Protocol):
    """One unit of work over both roles; everything in it commits together or not at all."""

    @property
    def secrets(self) -> SecretSession: ...

    @property
    def control(self) -> ControlSession: ...


class SecretStore(Protocol):
    """A secret store. Async so remote stores fit the same shape as the embedded one."""

    backend_type: BackendType
    features: StoreFeatures

    async def open(self, *, create: bool) -> None:
        """Connect (and when ``create``, create the schema or mount)."""
        ...

    async def close(self) -> None:
        """Release connections (idempotent)."""
        ...

    async def exists(self) -> bool:
        """True when the store already holds a vault (so a new master key must not be made)."""
        ...

    def session(self) -> AbstractAsyncContextManager[SecretSession]:
        """A unit of work on the secret role alone."""
        ...

    async def generation(self) -> int:
        """A counter that changes whenever any process — this one included — changes a
        secret (cache invalidation); -1 when the store cannot tell (then nothing is cached)."""
        ...


class ControlStore(Protocol):
    """The control store: audit trail, grants, key ring, leases, bindings, meta."""

    async def open(self, *, create: bool) -> None: ...

    async def close(self) -> None: ...

    def transaction(self) -> AbstractAsyncContextManager[ControlSession]:
        """A unit of work on the control role alone."""
        ...

    async def control_generation(self) -> int:
        """A counter that changes when grants or roles may have changed (policy cache)."""
        ...

    async def audit_entries(self, secret_name: str | None = None) -> list[AccessLogEntry]:
        """Audit entries oldest first (by time, then lane and seq), optionally for one secret
        name."""
        ...

    async def audit_trail(self) -> TrailState:
        """What verification checks the entries against: each lane's anchor (the last purged
        entry) and head (the newest entry, MACed at append time), and the lane registry."""
        ...


class SharedStore(SecretStore, ControlStore, Protocol):
    """One database that plays both roles, so a unit is one transaction (the local backend)."""

    def unit(self) -> AbstractAsyncContextManager[Unit]: ...


@runtime_checkable
class FileBackedStore(Protocol):
    """A store that is a file this process can copy: online backup, restore, integrity check.

    A store a server keeps is backed up by that server's tools: PostgreSQL dumps itself
    (``DumpableStore``); Vault, AWS and Azure are the operator's to back up."""

    path: Path

    def integrity_check(self) -> str: ...

    def backup_to(self, target: Path) -> Path: ...

    def restore_from(self, source: Path) -> None: ...


#: Backup file endings: a copied SQLite file, and a ``pg_dump`` archive of a PostgreSQL schema
#: (``DumpableStore.dump_suffix``). Listed here so a backup folder can be read without a store.
FILE_BACKUP_SUFFIX = ".db"
PG_DUMP_SUFFIX = ".pgdump"
BACKUP_SUFFIXES = (FILE_BACKUP_SUFFIX, PG_DUMP_SUFFIX)


def backups_folder(storage_path: str | Path) -> Path:
    """``backups/`` beside the vault file: automatic backups (``backup_retention``) and the
    master keys ``rekey`` retired, which backups made under them still need."""
    return Path(storage_path).parent / "backups"


def open_new_backup(target: Path) -> int:
    """A file descriptor for the new backup file ``target``, created 0600 in a 0700 folder.

    Every backup goes through here, so a backup is never written under the umask and never
    overwrites a file (an existing target is an ``InvalidArgumentError``). The caller closes
    the descriptor, and removes the file if it fails to write it."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        return os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidArgumentError(
            f"backup target {target} already exists", hint="choose another path"
        ) from None


@dataclass(frozen=True, slots=True)
class DumpKeys:
    """What a dump says about the master key it was written under, read before it is loaded:
    its key ring (active key first, as ``ControlSession.keys``) and the passphrase KDF salt
    (``meta``'s ``kdf_salt``; None when the vault's key is not a passphrase)."""

    ring: list[KeyInfo]
    kdf_salt: str | None = None


@runtime_checkable
class DumpableStore(Protocol):
    """A server-backed store that can dump its own data to a file and load such a dump back
    with the server's tools (PostgreSQL: ``pg_dump``/``pg_restore`` of the vault's schema).

    Where ``FileBackedStore`` copies a database file, this one asks the server; ``backup`` and
    ``restore`` in the facade dispatch on which of the two the control store is."""

    #: The file name ending of a dump (``.pgdump``): backup file names and retention use it.
    dump_suffix: str

    async def dump_to(self, target: Path) -> Path:
        """Write a dump of the store into the new file ``target`` (mode 0600)."""
        ...

    async def read_dump_keys(self, source: Path) -> DumpKeys:
        """Check that ``source`` is a dump of this store's data and return its key ring,
        without loading anything (``SecretDecryptionError`` when it is not such a dump)."""
        ...

    async def restore_dump(self, source: Path) -> None:
        """Replace the store's data with the dump's, in one transaction of the server's."""
        ...


@dataclass(frozen=True, slots=True)
class Check:
    """One result of ``DiagnosableStore.diagnose``: what was checked, and the fix if it failed."""

    ok: bool
    text: str
    fix: str | None = None


@runtime_checkable
class DiagnosableStore(Protocol):
    """A server-backed store that can check itself end to end for ``secretvault doctor``:
    reachability, authentication, and a permission probe on the configured place."""

    async def diagnose(self) -> list[Check]: ...
