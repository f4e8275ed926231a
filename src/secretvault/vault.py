"""``SecretVault``: the facade. It checks access, calls the parts, and audits every operation.

Every public operation follows one shape: validate input → open a backend transaction →
decide (RBAC, lifecycle) → act → append the audit entry in the same transaction → commit →
raise the decided error, if any, *after* the commit so that denials are recorded too.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from secretvault.access.rbac import DEFAULT_ROLES, Grant, Policy
from secretvault.audit.chain import AuditEvent, ChainReport, verify_chain
from secretvault.backends.base import SecretFilter, StoredVersion
from secretvault.backends.local import (
    LocalBackend,
    LocalTransaction,
    remove_database,
    run_inline,
)
from secretvault.config import EnvSecretsSource, SecretsConfig, load_config
from secretvault.crypto.envelope import Envelope, decrypt_value, encrypt_value
from secretvault.crypto.keyring import KeyFiles, check_envelope, check_matches
from secretvault.crypto.keys import MasterKey, load_master_key
from secretvault.errors import (
    AuditError,
    AuthorizationError,
    ConfigurationError,
    InvalidArgumentError,
    InvalidSecretNameError,
    MasterKeyError,
    SecretAlreadyExistsError,
    SecretExpiredError,
    SecretNotFoundError,
    SecretPendingDeletionError,
    SecretRevokedError,
    SecretVaultError,
)
from secretvault.models import (
    AccessLevel,
    AccessLog,
    BackendType,
    SecretMetadata,
    SecretRecord,
    SecretScanReport,
    SecretStatus,
    SecretType,
    SecretVersionInfo,
    as_utc,
    secret_id_for,
    utcnow,
)
from secretvault.rotation.staged import StagedRotation, Verifier, next_version
from secretvault.validation import validate_name, validate_value

AUDIT_KEY_ID = "__audit__"  # envelope id of the wrapped audit MAC key


@dataclass(slots=True)
class _CacheEntry:
    value: str
    record: SecretRecord
    expires: float
    generation: int


class _VaultTx:
    """``async with vault._tx() as tx`` (a class, not @asynccontextmanager: this is on every
    operation's path and the generator machinery costs more than the SQL it wraps)."""

    __slots__ = ("ctx", "tx", "vault")

    def __init__(self, vault: SecretVault) -> None:
        self.vault = vault
        self.ctx = vault._backend().transaction()

    async def __aenter__(self) -> LocalTransaction:
        self.tx = await self.ctx.__aenter__()
        self.vault._flush_audit_into(self.tx)
        return self.tx

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        await self.ctx.__aexit__(exc_type, exc, tb)
        if exc_type is None and self.tx.changed:
            self.vault._backend().note_own_write()
            self.vault._cache.clear()


class SecretVault(StagedRotation):
    """Main interface for secrets management (SPEC "API Reference")."""

    def __init__(
        self,
        config: SecretsConfig | None = None,
        *,
        app: str = "mahavishnu",
        settings_dir: str | Path = "settings",
    ) -> None:
        self.config = config if config is not None else load_config(app, settings_dir)
        self.app = app
        self.backend: LocalBackend | None = None
        self._key: MasterKey | None = None
        self._audit_key = b""
        self._policy: Policy | None = None
        self._policy_gen = -1
        self._cache: dict[tuple[str, int | None], _CacheEntry] = {}
        self._pending_audit: list[AuditEvent] = []
        self._last_flush = time.monotonic()
        self._verifiers: dict[str, Verifier] = {}
        self.env_secrets = EnvSecretsSource(app)

    def __repr__(self) -> str:
        state = "open" if self.backend else "closed"
        return f"SecretVault(backend={self.config.default_backend.value}, {state})"

    # -- lifecycle ---------------------------------------------------------------------------

    async def initialize(self, *, create: bool = True) -> None:
        """Open the store, load and check the master key, recover interrupted rotations."""
        cfg = self.config
        if cfg.default_backend != BackendType.LOCAL:
            raise ConfigurationError(
                f"backend {cfg.default_backend.value!r} is not available in this build",
                hint="use default_backend: local",
            )
        backend = LocalBackend(
            cfg.storage_path, busy_timeout_ms=cfg.busy_timeout_ms, durability=cfg.durability
        )
        if not backend.exists() and not create:
            raise SecretNotFoundError(
                f"no vault at {cfg.storage_path}", hint="run `secretvault init` first"
            )
        await backend.open(create=create)
        try:
            self._key = self._load_or_create_key(backend)
            self._audit_key = self._load_or_create_audit_key(backend)
        except BaseException:
            await backend.close()
            raise
        self.backend = backend
        await self._recover_rotations()

    async def shutdown(self) -> None:
        """Flush buffered audit entries and close the store."""
        if self.backend is not None:
            self._flush_audit(force=True)
            await self.backend.close()
            self.backend = None
        self._cache.clear()

    async def __aenter__(self) -> SecretVault:
        if self.backend is None:
            await self.initialize()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    @property
    def key_id(self) -> str:
        """Id of the master key in use."""
        return self._require_key().key_id

    def _require_key(self) -> MasterKey:
        if self._key is None:
            raise SecretVaultError("the vault is not initialized; call initialize() first")
        return self._key

    def _kdf_salt(self, tx: LocalTransaction) -> bytes | None:
        if not self.config.storage.passphrase:
            return None
        salt = tx.meta_get("kdf_salt")
        if salt is None:
            import os

            salt = base64.b64encode(os.urandom(16)).decode()
            tx.meta_set("kdf_salt", salt)
        return base64.b64decode(salt)

    def _load_key(self, kdf_salt: bytes | None) -> MasterKey:
        st = self.config.storage
        return load_master_key(
            Path(self.config.master_key_path),
            encryption_key=st.encryption_key,
            passphrase=st.passphrase,
            kdf_salt=kdf_salt,
        )

    def _key_files(self) -> KeyFiles:
        backups = Path(self.config.storage_path).parent / "backups"
        return KeyFiles(
            Path(self.config.master_key_path), backups, self.config.busy_timeout_ms / 1000
        )

    @property
    def _uses_key_file(self) -> bool:
        return not (self.config.storage.encryption_key or self.config.storage.passphrase)

    def _load_or_create_key(self, backend: LocalBackend) -> MasterKey:
        """Never generate a key over existing data: a key is created only for an empty ring."""
        files = self._key_files()
        with files.locked() if self._uses_key_file else nullcontext():
            with backend.sync_transaction() as tx:
                ring = tx.keys()
                salt = self._kdf_salt(tx)
                if not ring:
                    key = files.create_first() if self._uses_key_file else self._load_key(salt)
                    tx.add_key(key.key_id, check_envelope(key))
                    return key
            if self._uses_key_file:
                files.complete_interrupted(ring[0].key_id)
            key = self._load_key(salt)
        check_matches(key, ring)
        return key

    def _load_or_create_audit_key(self, backend: LocalBackend) -> bytes:
        import os

        key = self._require_key()
        with backend.sync_transaction() as tx:
            wrapped = tx.meta_get("audit_key")
            if wrapped is None:
                raw = os.urandom(32)
                tx.meta_set("audit_key", _wrap_audit_key(key, raw))
                return raw
        return bytes.fromhex(decrypt_value(key, AUDIT_KEY_ID, 0, Envelope.from_json(wrapped)))

    # -- plumbing ----------------------------------------------------------------------------

    def _backend(self) -> LocalBackend:
        if self.backend is None:
            raise SecretVaultError("the vault is not initialized; call initialize() first")
        return self.backend

    def _tx(self) -> _VaultTx:
        """A backend transaction that also flushes buffered audit entries and, after a commit
        that changed secrets, drops this process's cache."""
        return _VaultTx(self)

    async def _audit(
        self,
        tx: LocalTransaction,
        action: str,
        user: str,
        name: str | None,
        success: bool = True,
        reason: str | None = None,
        source_ip: str | None = None,
        secret_id: str | None = None,
    ) -> None:
        if not self.config.access_log_enabled:
            return
        entry = AuditEvent(
            user=user,
            action=action,
            secret_id=secret_id or (secret_id_for(name) if name else None),
            secret_name=name,
            source_ip=source_ip,
            success=success,
            reason=reason,
        )
        try:
            await tx.append_audit(entry, self._audit_key)
        except SecretVaultError:
            raise
        except Exception as exc:
            raise AuditError(f"could not write the audit entry ({type(exc).__name__})") from None

    async def _record_denial(
        self, action: str, user: str, name: str | None, err: Exception, source_ip: str | None
    ) -> None:
        async with self._tx() as tx:
            await self._audit(tx, action, user, name, False, _reason(err), source_ip)

    def _flush_audit_into(self, tx: LocalTransaction) -> None:
        """Write buffered cache-hit audit entries inside a transaction that is open anyway."""
        if not self._pending_audit:
            return
        pending, self._pending_audit = self._pending_audit, []
        for entry in pending:
            # append_audit is a coroutine only for the Protocol; locally it completes at once.
            run_inline(tx.append_audit(entry, self._audit_key))
        self._last_flush = time.monotonic()

    def _flush_audit(self, *, force: bool = False) -> None:
        if not self._pending_audit or self.backend is None:
            return
        if not force and len(self._pending_audit) < 256 and time.monotonic() - self._last_flush < 1:
            return
        with self.backend.sync_transaction() as tx:
            self._flush_audit_into(tx)

    async def _policy_now(self) -> Policy:
        backend = self._backend()
        gen = await backend.generation()
        if self._policy is None or gen != self._policy_gen:
            tx = LocalTransaction(backend.connection)  # plain reads, no transaction needed
            roles = dict(DEFAULT_ROLES)
            for name, levels in tx.roles():
                roles[name] = frozenset(AccessLevel(x) for x in json.loads(levels))
            self._policy = Policy([Grant(*r) for r in tx.grants()], roles)
            self._policy_gen = gen
        return self._policy

    async def _authorize(self, user: str, level: AccessLevel, record: SecretRecord) -> None:
        if not self.config.rbac_enabled:
            return
        if not (await self._policy_now()).allows(user, level, record):
            raise AuthorizationError(
                f"{user!r} may not {level.value} secret {record.name!r}",
                hint="ask an admin: `secretvault access grant USER ROLE --scope NAME`",
            )

    async def _authorize_admin(self, user: str) -> None:
        if not self.config.rbac_enabled:
            return
        policy = await self._policy_now()
        if policy.has_admin and not policy.is_admin_anywhere(user):
            raise AuthorizationError(
                f"{user!r} is not an administrator", hint="an admin grant on name:* is required"
            )

    def _decrypt(self, record: SecretRecord, stored: StoredVersion) -> str:
        key = self._require_key()
        if stored.envelope.key_id != key.key_id:
            key = self._reload_key_after_rekey(stored.envelope.key_id)
        return decrypt_value(key, record.id, stored.version, stored.envelope)

    def _reload_key_after_rekey(self, wanted: str) -> MasterKey:
        """Another process rekeyed the vault: pick up the new key file without a restart."""
        try:
            key = self._load_key(None)
        except SecretVaultError:
            key = self._require_key()
        if key.key_id == wanted:
            self._key = key
        return self._require_key()

    def _new_version(
        self, tx: LocalTransaction, secret_id: str, version: int, value: str, user: str, stage: str
    ) -> StoredVersion:
        """Encrypt a new version under the vault's *active* key (another process may have run
        ``rekey`` since this one loaded its key: pick the new key up, never write under a
        retired one)."""
        active = tx.active_key_id()
        if (
            active != self._require_key().key_id
            and self._reload_key_after_rekey(active).key_id != active
        ):
            raise MasterKeyError(
                f"the vault's active master key is {active}; this process holds "
                f"{self.key_id} and cannot load the new key file",
                hint="restart the process with the current master key",
            )
        return StoredVersion(
            version,
            encrypt_value(self._require_key(), secret_id, version, value),
            utcnow(),
            user,
            stage,
        )

    # -- create / read -----------------------------------------------------------------------

    async def store_secret(
        self,
        secret_type: SecretType,
        name: str,
        value: str,
        description: str = "",
        tags: list[str] | None = None,
        service: str | None = None,
        rotation_days: int | None = None,
        expires_at: datetime | None = None,
        created_by: str = "system",
        environment: str | None = None,
        source_ip: str | None = None,
    ) -> str:
        """Store a new secret; returns its id (SHA-256 of the name)."""
        validate_name(name)
        validate_value(value)
        metadata = _argument(
            SecretMetadata,
            created_by=created_by,
            description=description,
            tags=list(tags or []),
            service=service,
            rotation_days=self.config.rotation_days if rotation_days is None else rotation_days,
            expires_at=expires_at,
            environment=environment or self.config.environment,
        )
        record = SecretRecord(
            id=secret_id_for(name),
            name=name,
            secret_type=_argument(SecretType, secret_type),
            metadata=metadata,
            backend=self.config.default_backend,
        )
        err: Exception | None = None
        async with self._tx() as tx:
            try:
                await self._authorize(created_by, AccessLevel.WRITE, record)
                if await tx.get(name) is not None:
                    raise SecretAlreadyExistsError(
                        f"secret {name!r} already exists", hint="use update_secret / `update`"
                    )
                await tx.create(
                    record, self._new_version(tx, record.id, 1, value, created_by, "current")
                )
                await self._audit(tx, "create", created_by, name, source_ip=source_ip)
            except (AuthorizationError, SecretAlreadyExistsError) as exc:
                err = exc
        if err is not None:
            await self._record_denial("create", created_by, name, err, source_ip)
            raise err
        return record.id

    async def get_secret(
        self,
        name: str,
        user: str = "system",
        source_ip: str | None = None,
        version: int | None = None,
    ) -> tuple[str, SecretRecord]:
        """Decrypt and return (value, record); ``version`` reads an older version."""
        validate_name(name)
        hit = await self._cache_get(name, version, user, source_ip)
        if hit is not None:
            return hit
        err: Exception | None = None
        generation = await self._backend().generation() if self.config.cache_enabled else -1
        async with self._tx() as tx:
            try:
                found = await tx.read(name, version)
                record = await self._readable(tx, name, user, found[0] if found else None)
                stored = found[1] if found else None
                if stored is None or stored.stage == "pending":
                    raise SecretNotFoundError(f"secret {name!r} has no version {version}")
                wanted = stored.version
                value = self._decrypt(record, stored)
                if version is not None:
                    record = record.model_copy(
                        update={"metadata": record.metadata.model_copy(update={"version": wanted})}
                    )
                await self._audit(tx, "read", user, name, source_ip=source_ip, secret_id=record.id)
            except (SecretVaultError, AuthorizationError) as exc:
                err = exc
                await self._audit(tx, "read", user, name, False, _reason(exc), source_ip)
        if err is not None:
            raise err
        self._cache_put(name, version, value, record, generation)
        return value, record

    async def _readable(
        self, tx: LocalTransaction, name: str, user: str, record: SecretRecord | None
    ) -> SecretRecord:
        """The record, if it exists, may be read by ``user`` and is in a readable state."""
        if record is None:
            raise SecretNotFoundError(
                f"secret {name!r} not found", hint="check the name with `secretvault list`"
            )
        await self._authorize(user, AccessLevel.READ, record)
        if record.status == SecretStatus.REVOKED:
            raise SecretRevokedError(f"secret {name!r} is revoked; access denied")
        if record.status == SecretStatus.PENDING_DELETION:
            raise SecretPendingDeletionError(
                f"secret {name!r} is pending deletion",
                hint=f"`secretvault restore {name}` before {record.purge_after:%Y-%m-%d %H:%M} UTC",
            )
        if record.is_expired:
            if record.status != SecretStatus.EXPIRED:
                record.status = SecretStatus.EXPIRED
                await tx.update(record)
            raise SecretExpiredError(
                f"secret {name!r} expired at {record.metadata.expires_at:%Y-%m-%d %H:%M} UTC",
                hint=f"give it a new expiry and value: `secretvault update {name} "
                "--expires-at DATE` (or update_metadata + update_secret)",
            )
        return record

    async def resolve(self, name: str, user: str = "system") -> str | None:
        """The value from the vault, else from ``{APP}_SECRETS__{NAME}`` (SPEC Oneiric fallback)."""
        try:
            value, _ = await self.get_secret(name, user=user)
            return value
        except SecretNotFoundError:
            return self.env_secrets.get(name)

    # -- cache -------------------------------------------------------------------------------

    async def _cache_get(
        self, name: str, version: int | None, user: str, source_ip: str | None
    ) -> tuple[str, SecretRecord] | None:
        if not self.config.cache_enabled:
            return None
        entry = self._cache.get((name, version))
        if entry is None:
            return None
        if (
            time.monotonic() >= entry.expires
            or await self._backend().generation() != entry.generation
        ):
            self._cache.pop((name, version), None)
            return None
        if entry.record.is_expired:
            return None
        if self.config.rbac_enabled:
            try:
                await self._authorize(user, AccessLevel.READ, entry.record)
            except AuthorizationError as exc:
                await self._record_denial("read", user, name, exc, source_ip)
                raise
        if self.config.access_log_enabled:
            # Cache hits are audited write-behind (flushed within 1 s, 256 reads, any write or
            # shutdown): an opt-in trade of the read-is-never-unaudited guarantee for speed.
            self._pending_audit.append(
                AuditEvent(
                    user=user,
                    action="read",
                    secret_id=entry.record.id,
                    secret_name=name,
                    source_ip=source_ip,
                    reason="cache",
                )
            )
            self._flush_audit()
        return entry.value, entry.record

    def _cache_put(
        self, name: str, version: int | None, value: str, record: SecretRecord, gen: int
    ) -> None:
        """Remember a read. ``gen`` was taken *before* the read, so a concurrent change by
        another process can only make the entry look stale, never fresh."""
        if not self.config.cache_enabled:
            return
        self._cache[(name, version)] = _CacheEntry(
            value, record, time.monotonic() + self.config.cache_ttl_seconds, gen
        )

    # -- update ------------------------------------------------------------------------------

    async def _mutate(
        self,
        action: str,
        name: str,
        user: str,
        level: AccessLevel,
        change: Callable[[LocalTransaction, SecretRecord], Awaitable[Any]],
        source_ip: str | None = None,
        allow_states: tuple[SecretStatus, ...] = (
            SecretStatus.ACTIVE,
            SecretStatus.EXPIRED,
            SecretStatus.ROTATING,
        ),
        reason: str | None = None,
    ) -> Any:
        """Shared shape of every change to an existing secret: find, authorize, change, audit."""
        validate_name(name)
        err: Exception | None = None
        result: Any = None
        async with self._tx() as tx:
            try:
                record = await tx.get(name)
                if record is None:
                    raise SecretNotFoundError(f"secret {name!r} not found")
                await self._authorize(user, level, record)
                if record.status not in allow_states:
                    raise _state_error(record)
                result = await change(tx, record)
                await self._audit(tx, action, user, name, reason=reason, source_ip=source_ip)
            except AuditError:
                raise  # the change must not commit without its audit entry
            except (SecretVaultError, AuthorizationError) as exc:
                err = exc
        if err is not None:
            await self._record_denial(action, user, name, err, source_ip)
            raise err
        return result

    async def update_secret(
        self,
        name: str,
        value: str,
        user: str = "system",
        rotate: bool = False,
        source_ip: str | None = None,
    ) -> SecretRecord:
        """Write a new version (the old one stays readable by version until pruned)."""
        validate_value(value)

        async def change(tx: LocalTransaction, record: SecretRecord) -> SecretRecord:
            now = utcnow()
            new = await next_version(tx, record)  # a pending rotation may hold current + 1
            record.metadata = record.metadata.model_copy(
                update={
                    "version": new,
                    "updated_at": now,
                    **({"last_rotated": now} if rotate else {}),
                }
            )
            if record.status == SecretStatus.EXPIRED and not _past(record.metadata.expires_at):
                record.status = SecretStatus.ACTIVE
            stored = self._new_version(tx, record.id, new, value, user, "current")
            await tx.add_version(record, stored, self.config.max_versions)
            return record

        return await self._mutate("update", name, user, AccessLevel.WRITE, change, source_ip)

    async def update_metadata(
        self,
        name: str | None = None,
        *,
        domain: str | None = None,
        user: str = "system",
        status: SecretStatus | str | None = None,
        description: str | None = None,
        tags: list[str] | None = None,
        service: str | None = None,
        rotation_days: int | None = None,
        expires_at: datetime | None = None,
        environment: str | None = None,
    ) -> SecretRecord:
        """Change metadata or status without a new version. ``domain`` is SPEC's alias of name."""
        name = name or domain
        if name is None:
            raise InvalidSecretNameError("update_metadata needs a secret name")
        new_status = _argument(SecretStatus, status) if status is not None else None
        fields = {
            k: v
            for k, v in {
                "description": description,
                "tags": tags,
                "service": service,
                "rotation_days": rotation_days,
                "expires_at": as_utc(expires_at),
                "environment": environment,
            }.items()
            if v is not None
        }
        _argument(SecretMetadata, **fields)  # reject bad values before touching the store
        if new_status == SecretStatus.PENDING_DELETION:
            return await self.soft_delete_secret(name, user=user)

        async def change(tx: LocalTransaction, record: SecretRecord) -> SecretRecord:
            record.metadata = SecretMetadata(
                **{
                    **record.metadata.model_dump(exclude={"days_remaining"}),
                    **fields,
                    "updated_at": utcnow(),
                }
            )
            if new_status is not None:
                record.status = new_status
                record.deleted_at = record.purge_after = None
            elif record.status == SecretStatus.EXPIRED and not _past(record.metadata.expires_at):
                record.status = SecretStatus.ACTIVE  # a new expiry in the future revives it
            await tx.update(record)
            return record

        level = AccessLevel.ADMIN if new_status is not None else AccessLevel.WRITE
        return await self._mutate(
            "update_metadata", name, user, level, change, allow_states=tuple(SecretStatus)
        )

    async def revoke_secret(
        self, name: str, user: str = "system", reason: str | None = None
    ) -> SecretRecord:
        """Deny all further reads until an admin sets the status back to ACTIVE."""

        async def change(tx: LocalTransaction, record: SecretRecord) -> SecretRecord:
            record.status = SecretStatus.REVOKED
            await tx.update(record)
            return record

        return await self._mutate("revoke", name, user, AccessLevel.ADMIN, change, reason=reason)

    # -- delete ------------------------------------------------------------------------------

    async def delete_secret(
        self, name: str, user: str = "system", source_ip: str | None = None
    ) -> bool:
        """Permanently delete a secret and every version. False when it did not exist."""

        async def change(tx: LocalTransaction, record: SecretRecord) -> bool:
            await tx.purge(record.id)
            return True

        try:
            return await self._mutate(
                "delete",
                name,
                user,
                AccessLevel.DELETE,
                change,
                source_ip,
                allow_states=tuple(SecretStatus),
            )
        except SecretNotFoundError:
            return False

    async def soft_delete_secret(
        self, name: str, user: str = "system", recovery_window_days: int | None = None
    ) -> SecretRecord:
        """Mark PENDING_DELETION: unreadable, restorable until the recovery window ends."""
        days = (
            self.config.recovery_window_days
            if recovery_window_days is None
            else recovery_window_days
        )

        async def change(tx: LocalTransaction, record: SecretRecord) -> SecretRecord:
            record.status = SecretStatus.PENDING_DELETION
            record.deleted_at = utcnow()
            record.purge_after = record.deleted_at + timedelta(days=days)
            await tx.update(record)
            return record

        return await self._mutate(
            "soft_delete",
            name,
            user,
            AccessLevel.DELETE,
            change,
            allow_states=tuple(s for s in SecretStatus if s != SecretStatus.PENDING_DELETION),
        )

    async def restore_secret(self, name: str, user: str = "system") -> SecretRecord:
        """Undo a soft delete within its recovery window."""

        async def change(tx: LocalTransaction, record: SecretRecord) -> SecretRecord:
            record.status = SecretStatus.ACTIVE
            record.deleted_at = record.purge_after = None
            await tx.update(record)
            return record

        return await self._mutate(
            "restore",
            name,
            user,
            AccessLevel.DELETE,
            change,
            allow_states=(SecretStatus.PENDING_DELETION,),
        )

    async def purge_secret(self, name: str, user: str = "system") -> bool:
        """Hard-delete a secret that is pending deletion (before or after its window)."""

        async def change(tx: LocalTransaction, record: SecretRecord) -> bool:
            await tx.purge(record.id)
            return True

        return await self._mutate(
            "purge",
            name,
            user,
            AccessLevel.DELETE,
            change,
            allow_states=(SecretStatus.PENDING_DELETION,),
        )

    async def purge_expired_deletions(self, user: str = "system") -> list[str]:
        """Purge every soft-deleted secret whose recovery window has ended."""
        now = utcnow()
        due = [
            r.name
            for r in await self.list_secrets(status=SecretStatus.PENDING_DELETION, user=user)
            if r.purge_after is not None and r.purge_after <= now
        ]
        for name in due:
            await self.purge_secret(name, user=user)
        return due

    # -- list / history / audit ---------------------------------------------------------------

    async def list_secrets(
        self,
        status: SecretStatus | None = None,
        secret_type: SecretType | None = None,
        tags: list[str] | None = None,
        service: str | None = None,
        environment: str | None = None,
        user: str = "system",
    ) -> list[SecretRecord]:
        """Records (no values) matching every given filter; RBAC hides what ``user`` can't read."""
        # Expiry is a matter of time, not only of stored status: fetch ACTIVE and EXPIRED
        # together, mark what has expired since (persisted), then apply the status filter.
        by_time = status in (None, SecretStatus.ACTIVE, SecretStatus.EXPIRED)
        flt = SecretFilter(
            None if by_time else status, secret_type, tuple(tags or ()), service, environment
        )
        async with self._tx() as tx:
            records = await tx.list(flt)
            for record in records:
                if record.status == SecretStatus.ACTIVE and record.is_expired:
                    record.status = SecretStatus.EXPIRED
                    await tx.update(record)
            if status is not None:
                records = [r for r in records if r.status == status]
            if self.config.rbac_enabled:
                policy = await self._policy_now()
                records = [r for r in records if policy.allows(user, AccessLevel.READ, r)]
            await self._audit(tx, "list", user, None, reason=f"{len(records)} secrets")
        return records

    async def history(self, name: str, user: str = "system") -> list[SecretVersionInfo]:
        """Every stored version of ``name``, newest first (no values)."""

        async def change(tx: LocalTransaction, record: SecretRecord) -> list[SecretVersionInfo]:
            return await tx.versions(record.id)

        return await self._mutate(
            "history", name, user, AccessLevel.READ, change, allow_states=tuple(SecretStatus)
        )

    async def get_access_log(self, name: str | None = None, user: str = "system") -> AccessLog:
        """The audit entries of one secret (or of all, when ``name`` is None)."""
        await self._authorize_admin(user)
        self._flush_audit(force=True)
        entries = await self._backend().audit_entries(name)
        failed = sum(1 for e in entries if not e.success)
        return AccessLog(
            secret_name=name or "*",
            total_accesses=len(entries),
            failed_accesses=failed,
            entries=entries,
        )

    async def verify_audit(self) -> ChainReport:
        """Check the whole chain: any edited, deleted, inserted or reordered entry is reported."""
        self._flush_audit(force=True)
        backend = self._backend()
        seq, h = backend.audit_anchor()
        entries = await backend.audit_entries()
        return verify_chain(self._audit_key, entries, seq, h, backend.audit_head())

    async def purge_audit(self, retention_days: int | None = None, user: str = "system") -> int:
        """Drop entries older than the retention period; the rest still verifies."""
        await self._authorize_admin(user)
        days = retention_days or self.config.access_log_retention_days
        async with self._tx() as tx:
            n = tx.purge_audit_before(utcnow() - timedelta(days=days))
            await self._audit(
                tx, "audit_purge", user, None, reason=f"{n} entries older than {days}d"
            )
        return n

    # -- scanning ----------------------------------------------------------------------------

    async def scan_repository(
        self,
        repository_path: str,
        file_patterns: list[str] | None = None,
        secret_types: list[SecretType] | None = None,
    ) -> SecretScanReport:
        """Scan a tree for hardcoded secrets (``file_patterns`` default: config.scan_patterns)."""
        from secretvault.scanning import scan_repository

        patterns = file_patterns if file_patterns is not None else self.config.scan_patterns
        import asyncio

        return await asyncio.to_thread(scan_repository, repository_path, patterns, secret_types)

    # -- admin: RBAC grants, backup, restore, rekey ---------------------------------------------

    async def grant(
        self, principal: str, role: str | None = None, scope: str = "*", user: str = "system"
    ) -> Grant:
        """Bind ``principal`` to a role (or AccessLevel) on a scope; audited."""
        from secretvault.access.rbac import parse_scope

        role = role or self.config.default_access_level.value
        policy = await self._policy_now()
        if not policy.levels(role):
            raise ConfigurationError(
                f"unknown role {role!r}", hint=f"use one of {', '.join(sorted(policy.roles))}"
            )
        await self._admin_gate("grant", user)
        kind, pattern = parse_scope(scope)
        grant = Grant(principal, role, kind, pattern)
        async with self._tx() as tx:
            tx.add_grant(principal, role, kind, pattern, user)
            await self._audit(tx, "grant", user, None, reason=f"{principal} {role} {grant.scope}")
        return grant

    async def revoke_grant(
        self,
        principal: str,
        role: str | None = None,
        scope: str | None = None,
        user: str = "system",
    ) -> int:
        """Remove matching grants; returns how many were removed."""
        from secretvault.access.rbac import parse_scope

        await self._admin_gate("revoke_grant", user)
        async with self._tx() as tx:
            n = tx.remove_grants(principal, role, parse_scope(scope) if scope else None)
            await self._audit(tx, "revoke_grant", user, None, reason=f"{principal}: {n} removed")
        return n

    async def list_grants(self) -> list[Grant]:
        """Every grant in force."""
        return list((await self._policy_now()).grants)

    async def _admin_gate(self, action: str, user: str) -> None:
        try:
            await self._authorize_admin(user)
        except AuthorizationError as exc:
            await self._record_denial(action, user, None, exc, None)
            raise

    async def backup(self, destination: str | Path | None = None, user: str = "system") -> Path:
        """Consistent online copy into ``data/secrets/backups/`` (retention: backup_retention)."""
        await self._admin_gate("backup", user)
        target = Path(destination) if destination else self._backup_path()
        self._flush_audit(force=True)
        self._backend().backup_to(target)
        async with self._tx() as tx:
            await self._audit(tx, "backup", user, None, reason=target.name)
        folder = self._backup_path().parent
        if target.parent == folder:
            for path in sorted(folder.glob("vault-*.db"))[: -self.config.backup_retention]:
                path.unlink()
        return target

    def _backup_path(self) -> Path:
        """Where the next automatic backup goes: ``backups/vault-<UTC time>.db``."""
        folder = Path(self.config.storage_path).parent / "backups"
        return folder / f"vault-{utcnow().strftime('%Y%m%dT%H%M%S%fZ')}.db"

    async def restore(self, source: str | Path, user: str = "system") -> Path:
        """Replace the vault's contents with a backup (verified first, see ``restore.py``).

        The current contents are saved as a backup first, so a restore loses nothing; a backup
        made before a rekey is brought under the current key.
        """
        from secretvault.restore import prepare_restore

        await self._admin_gate("restore", user)
        safety = self._backup_path()
        scratch = await prepare_restore(
            self.config,
            source,
            user=user,
            note=f"previous state saved as {safety.name}",
            app=self.app,
        )
        try:
            await self.backup(safety, user=user)  # only once the backup proved restorable
            self._backend().restore_from(scratch)
        finally:
            remove_database(scratch)
        self._cache.clear()
        self._policy = None
        return safety

    async def record_restore(self, user: str, reason: str) -> None:
        """Append the ``restore`` entry (to a scratch copy that is about to become the vault)."""
        async with self._tx() as tx:
            await self._audit(tx, "restore", user, None, reason=reason)

    def _rewrap(self, old: MasterKey, new: MasterKey, user: str) -> None:
        """Re-encrypt every version and the audit key under ``new`` and make it the active key,
        in one transaction."""
        backend = self._backend()
        with backend.sync_transaction() as tx:
            for secret_id, version, env in tx.all_versions():
                plain = decrypt_value(old, secret_id, version, env)
                tx.rewrap(secret_id, version, encrypt_value(new, secret_id, version, plain))
            tx.meta_set("audit_key", _wrap_audit_key(new, self._audit_key))
            tx.add_key(new.key_id, check_envelope(new))
            reason = f"{old.key_id} -> {new.key_id}"
            run_inline(self._audit(tx, "rekey", user, None, reason=reason))
        backend.note_own_write()

    async def rewrap_to(self, new: MasterKey, user: str = "system") -> None:
        """Bring this store under an existing key (a pre-rekey backup being restored)."""
        self._rewrap(self._require_key(), new, user)
        self._key = new

    async def rekey(self, user: str = "system") -> str:
        """Rotate the master key: re-wrap every version and the audit key in one transaction.

        The new key is written as ``master.key.next`` first; after the commit the old key file is
        kept as ``backups/master.key.<old id>`` (needed to restore older backups) and the new one
        takes its place. A crash in between is completed on the next start.
        """
        await self._admin_gate("rekey", user)
        if self.config.storage.encryption_key or self.config.storage.passphrase:
            raise ConfigurationError(
                "rekey rotates key files; this vault's key comes from settings",
                hint="unset storage.encryption_key/passphrase to use a key file",
            )
        old, new = self._require_key(), MasterKey.generate()
        files = self._key_files()
        self._flush_audit(force=True)
        with files.locked():
            files.write_next(new)
            self._rewrap(old, new, user)
            self._key = files.swap_in(old)
        self._cache.clear()
        return new.key_id


def _past(moment: datetime | None) -> bool:
    return moment is not None and moment <= utcnow()


def _argument(build: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Build a model or enum from caller arguments; bad input becomes InvalidArgumentError."""
    from pydantic import ValidationError

    from secretvault.config import describe_validation_error

    try:
        return build(*args, **kwargs)
    except ValidationError as exc:
        raise InvalidArgumentError(describe_validation_error(exc, "arguments")) from None
    except ValueError as exc:
        raise InvalidArgumentError(str(exc)) from None


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _state_error(record: SecretRecord) -> SecretVaultError:
    if record.status == SecretStatus.REVOKED:
        return SecretRevokedError(f"secret {record.name!r} is revoked")
    if record.status == SecretStatus.PENDING_DELETION:
        return SecretPendingDeletionError(
            f"secret {record.name!r} is pending deletion", hint="restore it first"
        )
    return SecretVaultError(f"secret {record.name!r} is {record.status.value}")


def _wrap_audit_key(master: MasterKey, raw: bytes) -> str:
    """The audit MAC key, encrypted under the master key (text for the meta table)."""
    return encrypt_value(master, AUDIT_KEY_ID, 0, raw.hex()).to_json()


async def create_vault(
    app: str = "mahavishnu", settings_dir: str | Path = "settings", **overrides: Any
) -> SecretVault:
    """Load settings from the working directory's layers and return an initialized vault."""
    vault = SecretVault(load_config(app, settings_dir, **overrides), app=app)
    await vault.initialize()
    return vault
