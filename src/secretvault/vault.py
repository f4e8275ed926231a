"""``SecretVault``: the facade. the guide's methods, each a short composition of the parts.

Every operation has one shape (``core.operations``): validate input → open a unit of work over
the stores → decide (RBAC, lifecycle) → act → append the audit entry in the same unit → commit
→ raise the decided error, if any, *after* the commit so that denials are recorded too.

The facade is typed against the store Protocols (``backends.base``) and builds its stores
through the registry (``backends.registry``); it never names a concrete store. Its parts, each
with declared dependencies: ``KeyManager`` (master key, seal/open), ``AuditWriter``,
``AccessControl``, ``ReadCache``, ``Operations`` and ``StagedRotation``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from secretvault.access.rbac import Grant
from secretvault.audit.chain import AuditEvent, ChainReport
from secretvault.backends.base import (
    FILE_BACKUP_SUFFIX,
    STAGE_CURRENT,
    STAGE_PENDING,
    DumpableStore,
    FileBackedStore,
    SecretFilter,
    StaleReadError,
    Unit,
    backups_folder,
)
from secretvault.backends.registry import build_stores
from secretvault.backends.stores import Stores
from secretvault.config import EnvSecretsSource, SecretsConfig, load_config
from secretvault.core.access import AccessControl
from secretvault.core.audit import AuditWriter
from secretvault.core.cache import ReadCache
from secretvault.core.keys import KeyManager, rewrap_vault
from secretvault.core.operations import Operations, argument, failure_reason, is_past
from secretvault.crypto.envelope import forget_data_keys
from secretvault.crypto.keys import MasterKey
from secretvault.errors import (
    AuthorizationError,
    ConfigurationError,
    InvalidSecretNameError,
    SecretAlreadyExistsError,
    SecretNotFoundError,
    SecretVaultError,
)
from secretvault.models import (
    AccessLevel,
    AccessLog,
    InjectionType,
    RotationResult,
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
from secretvault.rotation.matching import Rules, legacy_pattern
from secretvault.rotation.rotators import Apply, CallableRotator
from secretvault.rotation.scheduler import Scheduler
from secretvault.rotation.staged import StagedRotation, Verifier, next_version, rotation_due
from secretvault.validation import validate_name, validate_value

if TYPE_CHECKING:  # imported when first used: jinja2 and asyncio stay off the plain `get` path
    from secretvault.injection.injector import Injector
    from secretvault.injection.reload import Callback, Subscription


class SecretVault:
    """Main interface for secrets management (the guide's "API Reference")."""

    def __init__(
        self,
        config: SecretsConfig | None = None,
        *,
        app: str = "mahavishnu",
        settings_dir: str | Path = "settings",
        stores: Stores | None = None,
    ) -> None:
        """``stores``: the secret and control stores to use instead of the ones the
        registry builds from ``config`` (tests, embedding applications)."""
        self.config = config if config is not None else load_config(app, settings_dir)
        self.app = app
        self.env_secrets = EnvSecretsSource(app)
        self._given_stores = stores
        self._ops: Operations | None = None
        self._keys: KeyManager | None = None  # kept after shutdown: key_id stays answerable
        self._rotation: StagedRotation | None = None
        self._rules = Rules()  # rotators/verifiers, registered before initialize() too
        self._injector: Injector | None = None

    def __repr__(self) -> str:
        state = "open" if self._ops is not None else "closed"
        return f"SecretVault(backend={self.config.default_backend.value}, {state})"

    # -- lifecycle ---------------------------------------------------------------------------

    async def initialize(self, *, create: bool = True) -> None:
        """Open the stores, load and check the master key, recover interrupted rotations."""
        cfg = self.config
        self._rules.load(cfg)  # bad rotation settings fail before anything opens
        stores = self._given_stores or build_stores(cfg)
        if not create and not await stores.secrets.exists():
            raise SecretNotFoundError(
                f"no vault at {cfg.storage_path}", hint="run `secretvault init` first"
            )
        await stores.open(create=create)
        try:
            # A store that encrypts natively keeps plain values other tools can read, unless
            # the settings ask for our envelope (the server then never sees plaintext).
            native = stores.secrets.features.native_encryption and not cfg.client_side_encryption
            keys = KeyManager(cfg, native=native)
            await keys.load(stores)
        except BaseException:
            await stores.close()
            raise
        audit = AuditWriter(stores.control, enabled=cfg.access_log_enabled, key=keys.audit_key)
        access = AccessControl(stores.control, enabled=cfg.rbac_enabled)
        cache = ReadCache(
            stores.secrets, enabled=cfg.cache_enabled, ttl_seconds=cfg.cache_ttl_seconds
        )
        self._keys = keys
        self._ops = Operations(stores, keys, audit, access, cache)
        self._rotation = StagedRotation(self._ops, cfg, self._rules)
        await self._rotation.recover()

    async def shutdown(self) -> None:
        """Flush buffered audit entries and close the stores."""
        ops, self._ops, self._rotation = self._ops, None, None
        injector, self._injector = self._injector, None
        if injector is not None:
            await injector.close()
        if ops is not None:
            try:
                await ops.audit.flush(force=True)
            finally:
                ops.cache.clear()
                forget_data_keys()
                await ops.stores.close()

    async def __aenter__(self) -> SecretVault:
        if self._ops is None:
            await self.initialize()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    @property
    def is_open(self) -> bool:
        """True between ``initialize`` and ``shutdown``."""
        return self._ops is not None

    @property
    def ops(self) -> Operations:
        """The operation runner (stores, keys, audit, access, cache) of the open vault."""
        if self._ops is None:
            raise SecretVaultError("the vault is not initialized; call initialize() first")
        return self._ops

    @property
    def rotation(self) -> StagedRotation:
        """The rotation part of the open vault."""
        if self._rotation is None:
            raise SecretVaultError("the vault is not initialized; call initialize() first")
        return self._rotation

    @property
    def stores(self) -> Stores:
        """The secret and control stores of the open vault."""
        return self.ops.stores

    @property
    def key_id(self) -> str:
        """Id of the master key in use (after ``shutdown``: the one last used)."""
        if self._keys is None:
            raise SecretVaultError("the vault is not initialized; call initialize() first")
        return self._keys.key_id

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
        metadata = argument(
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
            secret_type=argument(SecretType, secret_type),
            metadata=metadata,
            backend=self.config.default_backend,
        )
        ops = self.ops

        async def create(unit: Unit) -> str:
            await ops.access.authorize(unit.control, created_by, AccessLevel.WRITE, record)
            if await unit.secrets.get(name) is not None:
                raise SecretAlreadyExistsError(
                    f"secret {name!r} already exists", hint="use update_secret / `update`"
                )
            stored = await ops.keys.seal(
                unit.control, record.id, 1, value, created_by, STAGE_CURRENT
            )
            await unit.secrets.create(record, stored)
            await ops.audit.append(unit.control, "create", created_by, name, source_ip=source_ip)
            return record.id

        return await ops.run("create", created_by, name, create, source_ip)

    async def get_secret(
        self,
        name: str,
        user: str = "system",
        source_ip: str | None = None,
        version: int | None = None,
    ) -> tuple[str, SecretRecord]:
        """Decrypt and return (value, record); ``version`` reads an older version."""
        validate_name(name)
        ops = self.ops
        if ops.cache.enabled:
            hit = await self._cache_hit(name, version, user, source_ip)
            if hit is not None:
                return hit
        generation = await ops.cache.generation() if ops.cache.enabled else -1
        try:
            value, record = await self._read_audited(name, user, source_ip, version)
        except StaleReadError:  # the store's cached row had changed: nothing was committed
            value, record = await self._read_audited(name, user, source_ip, version)
        ops.cache.put(name, version, value, record, generation)
        return value, record

    async def _read_audited(
        self, name: str, user: str, source_ip: str | None, version: int | None
    ) -> tuple[str, SecretRecord]:
        """One unit: read, decide, decrypt, audit (success or failure), commit."""
        ops = self.ops
        err: SecretVaultError | None = None
        # A failed read is audited in the same unit, which commits: the failure entry and an
        # expiry noticed on the way (status EXPIRED) are kept, as the denial must be.
        async with ops.unit() as unit:
            try:
                found = await unit.secrets.read(name, version)
                record = await ops.readable(unit, name, user, found[0] if found else None)
                stored = found[1] if found else None
                if stored is None or stored.stage == STAGE_PENDING:
                    raise SecretNotFoundError(f"secret {name!r} has no version {version}")
                value = ops.keys.open_value(record.id, stored)
                if version is not None:
                    record = record.model_copy(
                        update={
                            "metadata": record.metadata.model_copy(
                                update={"version": stored.version}
                            )
                        }
                    )
                await ops.audit.append(
                    unit.control, "read", user, name, source_ip=source_ip, secret_id=record.id
                )
            except SecretVaultError as exc:
                err = exc
                await ops.audit.append(
                    unit.control, "read", user, name, False, failure_reason(exc), source_ip
                )
        if err is not None:
            raise err
        return value, record

    async def _cache_hit(
        self, name: str, version: int | None, user: str, source_ip: str | None
    ) -> tuple[str, SecretRecord] | None:
        """A read served from the opt-in cache: still access-checked, audited write-behind."""
        ops = self.ops
        entry = await ops.cache.get(name, version)
        if entry is None or entry.record.is_expired:
            return None
        if ops.access.enabled:
            try:
                async with ops.stores.control.transaction() as ctl:
                    await ops.access.authorize(ctl, user, AccessLevel.READ, entry.record)
            except AuthorizationError as exc:
                await ops.record_failure("read", user, name, exc, source_ip)
                raise
        # Cache hits are audited write-behind (flushed within 1 s, 256 reads, any write or
        # shutdown): an opt-in trade of the read-is-never-unaudited guarantee for speed.
        ops.audit.defer(
            AuditEvent(
                user=user,
                action="read",
                secret_id=entry.record.id,
                secret_name=name,
                source_ip=source_ip,
                reason="cache",
            )
        )
        await ops.audit.flush()
        return entry.value, entry.record

    async def resolve(self, name: str, user: str = "system") -> str | None:
        """The value from the vault, else from ``{APP}_SECRETS__{NAME}`` (the guide's Oneiric
        fallback)."""
        try:
            value, _ = await self.get_secret(name, user=user)
            return value
        except SecretNotFoundError:
            return self.env_secrets.get(name)

    # -- update ------------------------------------------------------------------------------

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
        ops = self.ops

        async def change(unit: Unit, record: SecretRecord) -> SecretRecord:
            now = utcnow()
            seen = record.metadata.version
            new = await next_version(unit.secrets, record)  # a pending rotation may hold seen+1
            record.metadata = record.metadata.model_copy(
                update={
                    "version": new,
                    "updated_at": now,
                    **({"last_rotated": now} if rotate else {}),
                }
            )
            if record.status == SecretStatus.EXPIRED and not is_past(record.metadata.expires_at):
                record.status = SecretStatus.ACTIVE
            stored = await ops.keys.seal(unit.control, record.id, new, value, user, STAGE_CURRENT)
            await unit.secrets.add_version(record, stored, self.config.max_versions, cas=seen)
            return record

        return await ops.mutate("update", name, user, AccessLevel.WRITE, change, source_ip)

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
        """Change metadata or status without a new version (``domain``: the guide's alias of
        ``name``)."""
        name = name or domain
        if name is None:
            raise InvalidSecretNameError("update_metadata needs a secret name")
        new_status = argument(SecretStatus, status) if status is not None else None
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
        argument(SecretMetadata, **fields)  # reject bad values before touching the store
        if new_status == SecretStatus.PENDING_DELETION:
            return await self.soft_delete_secret(name, user=user)

        async def change(unit: Unit, record: SecretRecord) -> SecretRecord:
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
            elif record.status == SecretStatus.EXPIRED and not is_past(record.metadata.expires_at):
                record.status = SecretStatus.ACTIVE  # a new expiry in the future revives it
            await unit.secrets.update(record)
            return record

        level = AccessLevel.ADMIN if new_status is not None else AccessLevel.WRITE
        return await self.ops.mutate(
            "update_metadata", name, user, level, change, allow_states=tuple(SecretStatus)
        )

    async def revoke_secret(
        self, name: str, user: str = "system", reason: str | None = None
    ) -> SecretRecord:
        """Deny all further reads until an admin sets the status back to ACTIVE."""

        async def change(unit: Unit, record: SecretRecord) -> SecretRecord:
            record.status = SecretStatus.REVOKED
            await unit.secrets.update(record)
            return record

        return await self.ops.mutate("revoke", name, user, AccessLevel.ADMIN, change, reason=reason)

    # -- delete ------------------------------------------------------------------------------

    async def delete_secret(
        self, name: str, user: str = "system", source_ip: str | None = None
    ) -> bool:
        """Permanently delete a secret and every version. False when it did not exist."""
        try:
            return await self.ops.mutate(
                "delete",
                name,
                user,
                AccessLevel.DELETE,
                _purge,
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

        async def change(unit: Unit, record: SecretRecord) -> SecretRecord:
            record.status = SecretStatus.PENDING_DELETION
            record.deleted_at = utcnow()
            record.purge_after = record.deleted_at + timedelta(days=days)
            await unit.secrets.update(record)
            return record

        return await self.ops.mutate(
            "soft_delete",
            name,
            user,
            AccessLevel.DELETE,
            change,
            allow_states=tuple(s for s in SecretStatus if s != SecretStatus.PENDING_DELETION),
        )

    async def restore_secret(self, name: str, user: str = "system") -> SecretRecord:
        """Undo a soft delete within its recovery window."""

        async def change(unit: Unit, record: SecretRecord) -> SecretRecord:
            record.status = SecretStatus.ACTIVE
            record.deleted_at = record.purge_after = None
            await unit.secrets.update(record)
            return record

        return await self.ops.mutate(
            "restore",
            name,
            user,
            AccessLevel.DELETE,
            change,
            allow_states=(SecretStatus.PENDING_DELETION,),
        )

    async def purge_secret(self, name: str, user: str = "system") -> bool:
        """Hard-delete a secret that is pending deletion (before or after its window)."""
        return await self.ops.mutate(
            "purge",
            name,
            user,
            AccessLevel.DELETE,
            _purge,
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
        ops = self.ops
        async with ops.unit() as unit:
            records = await unit.secrets.list_records(flt)
            for record in records:
                if record.status == SecretStatus.ACTIVE and record.is_expired:
                    record.status = SecretStatus.EXPIRED
                    await unit.secrets.update(record)
            if status is not None:
                records = [r for r in records if r.status == status]
            records = await ops.access.readable(unit.control, user, records)
            await ops.audit.append(
                unit.control, "list", user, None, reason=f"{len(records)} secrets"
            )
        return records

    async def history(self, name: str, user: str = "system") -> list[SecretVersionInfo]:
        """Every stored version of ``name``, newest first (no values)."""

        async def change(unit: Unit, record: SecretRecord) -> list[SecretVersionInfo]:
            versions: list[SecretVersionInfo] = await unit.secrets.versions(record.id)
            return versions

        return await self.ops.mutate(
            "history", name, user, AccessLevel.READ, change, allow_states=tuple(SecretStatus)
        )

    async def get_access_log(self, name: str | None = None, user: str = "system") -> AccessLog:
        """The audit entries of one secret (or of all, when ``name`` is None)."""
        await self.ops.access.authorize_admin(user)
        entries = await self.ops.audit.entries(name)
        failed = sum(1 for e in entries if not e.success)
        return AccessLog(
            secret_name=name or "*",
            total_accesses=len(entries),
            failed_accesses=failed,
            entries=entries,
        )

    async def verify_audit(self) -> ChainReport:
        """Check the whole chain: any edited, deleted, inserted or reordered entry is reported."""
        return await self.ops.audit.verify()

    async def purge_audit(self, retention_days: int | None = None, user: str = "system") -> int:
        """Drop entries older than the retention period; the rest still verifies."""
        ops = self.ops
        await ops.access.authorize_admin(user)
        days = retention_days or self.config.access_log_retention_days
        async with ops.unit() as unit:
            n = await unit.control.purge_audit_before(utcnow() - timedelta(days=days))
            await ops.audit.append(
                unit.control, "audit_purge", user, None, reason=f"{n} entries older than {days}d"
            )
        return n

    # -- rotation (``rotation.staged``) ---------------------------------------------------------

    def register_verifier(self, key: str | SecretType, verifier: Verifier) -> None:
        """Register ``verifier(value, record) -> bool`` for a secret name, a SecretType or a
        match pattern (glob, ``tag:``, ``service:``, ``type:``); ``rotate_secret(verify=True)``
        calls it before promoting a new value."""
        self._rules.verifiers.add(legacy_pattern(key), verifier)

    def register_rotator(
        self, key: str | SecretType, apply: Apply, restore: Apply | None = None
    ) -> None:
        """Register a Python rotator for a name, SecretType or match pattern: ``apply(ctx)``
        changes the target (False or an exception = refused), ``restore(ctx)`` puts
        ``ctx.current`` back (see ``rotation.rotators``)."""
        self._rules.rotators.add(legacy_pattern(key), CallableRotator(apply, restore))

    def rotator(self, key: str | SecretType) -> Callable[[Apply], Apply]:
        """Decorator form of ``register_rotator`` (apply only)."""

        def decorate(fn: Apply) -> Apply:
            self.register_rotator(key, fn)
            return fn

        return decorate

    def verifier(self, key: str | SecretType) -> Callable[[Verifier], Verifier]:
        """Decorator form of ``register_verifier``."""

        def decorate(fn: Verifier) -> Verifier:
            self.register_verifier(key, fn)
            return fn

        return decorate

    async def rotate_secret(
        self,
        name: str,
        new_value: str | None = None,
        verify: bool = True,
        rollback_on_failure: bool = True,
        user: str = "system",
    ) -> RotationResult:
        """Staged rotation: pending version → verify → promote; failure keeps ``current``."""
        return await self.rotation.rotate(name, new_value, verify, rollback_on_failure, user)

    def scheduler(self, owner: str | None = None) -> Scheduler:
        """A rotation scheduler over this vault (``rotation.scheduler``; settings from
        ``rotation.webhook_url`` and ``rotation.expiry_warning_days``)."""
        return Scheduler(
            self.rotation,
            owner=owner,
            webhook_url=self.config.rotation_webhook_url,
            expiry_warning_days=self.config.rotation_expiry_warning_days,
        )

    async def _should_rotate(self, record: SecretRecord) -> bool:
        """The guide's scheduler check: is ``record`` due for rotation (interval or pre-expiry)?"""
        rotation = self._rotation
        return rotation.should_rotate(record) if rotation else rotation_due(self.config, record)

    # -- injection (``injection``, docs/injection.md) -------------------------------------------

    @property
    def injection(self) -> Injector:
        """The injection part of the open vault (bindings, templates, live updates)."""
        if self._injector is None:
            from secretvault.injection.injector import Injector

            ops = self.ops

            async def read(name: str, user: str, version: int | None) -> str:
                return (await self.get_secret(name, user=user, version=version))[0]

            self._injector = Injector(ops, self.config, read)
        return self._injector

    async def inject_secret(
        self,
        secret_name: str,
        injection_type: InjectionType,
        target: str,
        env_var_name: str | None = None,
        file_path: str | None = None,
        template_pattern: str | None = None,
        restart_required: bool = True,
        user: str = "system",
        **options: Any,
    ) -> bool:
        """Deliver a secret to ``target`` as an env var, file, template value or live binding;
        recorded as a binding of the target and audited (never the value)."""
        return await self.injection.inject(
            secret_name,
            injection_type,
            target,
            env_var_name,
            file_path,
            template_pattern,
            restart_required,
            user,
            **options,
        )

    def subscribe(self, name: str, callback: Callback) -> Subscription:
        """Call ``callback`` (sync or async) whenever secret ``name`` changes, from any process."""
        return self.injection.subscribe(name, callback)

    # -- scanning ----------------------------------------------------------------------------

    async def scan_repository(
        self,
        repository_path: str,
        file_patterns: list[str] | None = None,
        secret_types: list[SecretType] | None = None,
    ) -> SecretScanReport:
        """Scan a tree for hardcoded secrets (``file_patterns`` default: config.scan_patterns)."""
        import asyncio

        from secretvault.scanning import scan_repository

        patterns = file_patterns if file_patterns is not None else self.config.scan_patterns
        return await asyncio.to_thread(scan_repository, repository_path, patterns, secret_types)

    # -- admin: RBAC grants, backup, restore, rekey ---------------------------------------------

    async def grant(
        self, principal: str, role: str | None = None, scope: str = "*", user: str = "system"
    ) -> Grant:
        """Bind ``principal`` to a role (or AccessLevel) on a scope; audited."""
        from secretvault.access.rbac import parse_scope

        ops = self.ops
        role = role or self.config.default_access_level.value
        policy = await ops.access.policy()
        if not policy.levels(role):
            raise ConfigurationError(
                f"unknown role {role!r}", hint=f"use one of {', '.join(sorted(policy.roles))}"
            )
        await ops.admin_gate("grant", user)
        kind, pattern = parse_scope(scope)
        grant = Grant(principal, role, kind, pattern)
        async with ops.unit() as unit:
            await unit.control.add_grant(principal, role, kind, pattern, user)
            await ops.audit.append(
                unit.control, "grant", user, None, reason=f"{principal} {role} {grant.scope}"
            )
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

        ops = self.ops
        await ops.admin_gate("revoke_grant", user)
        async with ops.unit() as unit:
            n = await unit.control.remove_grants(
                principal, role, parse_scope(scope) if scope else None
            )
            await ops.audit.append(
                unit.control, "revoke_grant", user, None, reason=f"{principal}: {n} removed"
            )
        return n

    async def list_grants(self) -> list[Grant]:
        """Every grant in force."""
        return list((await self.ops.access.policy()).grants)

    @property
    def is_file_backed(self) -> bool:
        """True when the vault is a file this process can copy (backup, restore, integrity)."""
        return isinstance(self.ops.stores.control, FileBackedStore)

    def _file_store(self, what: str) -> FileBackedStore:
        """The store as a file this process can copy (the integrity check)."""
        store = self.ops.stores.control
        if not isinstance(store, FileBackedStore):
            raise ConfigurationError(
                f"{what} reads the vault's database file; backend "
                f"{self.config.default_backend.value!r} is served by a server",
                hint="use that server's own checks",
            )
        return store

    def _backup_store(self, what: str) -> FileBackedStore | DumpableStore:
        """The store that keeps the vault (the control store: key ring and audit trail) as
        something ``backup``/``restore`` can copy: a file, or a server that dumps itself."""
        store = self.ops.stores.control
        if not isinstance(store, FileBackedStore | DumpableStore):
            raise ConfigurationError(
                f"{what} copies the vault's database; the store that keeps this vault's key "
                "ring and audit trail can neither be copied as a file nor dump itself",
                hint="use that server's own backup tooling",
            )
        return store

    async def integrity_check(self) -> str:
        """The database's own integrity check ("ok" when healthy)."""
        return self._file_store("the integrity check").integrity_check()

    async def backup(self, destination: str | Path | None = None, user: str = "system") -> Path:
        """A consistent online backup of the vault; audited.

        A local vault is copied with SQLite's backup API (``vault-<UTC time>.db``); a vault in
        PostgreSQL is dumped with ``pg_dump`` of its schema (``vault-<UTC time>.pgdump``; with
        ``audit_backend: postgres`` that is the key ring, grants and audit trail, the values
        staying in their own server). Default place: ``backups/`` beside ``storage_path``,
        where the newest ``backup_retention`` are kept. The file is mode 0600.
        """
        ops = self.ops
        store = self._backup_store("backup")
        await ops.admin_gate("backup", user)
        suffix = _backup_suffix(store)
        target = Path(destination) if destination else self._backup_path(suffix)
        await ops.audit.flush(force=True)
        if isinstance(store, DumpableStore):
            await store.dump_to(target)
        else:
            store.backup_to(target)
        async with ops.unit() as unit:
            await ops.audit.append(unit.control, "backup", user, None, reason=target.name)
        folder = self._backup_path(suffix).parent
        if target.parent == folder:
            for path in sorted(folder.glob(f"vault-*{suffix}"))[: -self.config.backup_retention]:
                path.unlink()
        return target

    def _backup_path(self, suffix: str = FILE_BACKUP_SUFFIX) -> Path:
        """Where the next automatic backup goes: ``backups/vault-<UTC time><suffix>``."""
        folder = backups_folder(self.config.storage_path)
        return folder / f"vault-{utcnow().strftime('%Y%m%dT%H%M%S%fZ')}{suffix}"

    async def restore(self, source: str | Path, user: str = "system") -> Path:
        """Replace the vault's contents with a backup, checked first (see ``restore.py``).

        The current contents are saved as a backup first, so a restore loses nothing; a backup
        made before a rekey is brought under the current key (its retired key must be in
        ``backups/``). A local vault takes a ``.db`` backup; a vault in PostgreSQL takes a
        ``.pgdump`` (``pg_restore`` in one transaction). Returns the safety backup's path.
        """
        from secretvault.restore import (
            adopt_restored_keys,
            check_dump,
            discard_scratch,
            load_dump,
            prepare_restore,
        )

        ops = self.ops
        store = self._backup_store("restore")
        await ops.admin_gate("restore", user)
        safety = self._backup_path(_backup_suffix(store))
        note = f"previous state saved as {safety.name}"
        if isinstance(store, DumpableStore):
            retired = await check_dump(self.config, store, source)
            await self.backup(safety, user=user)  # only once the dump proved restorable
            await load_dump(self.config, ops, store, Path(source), retired, user=user, note=note)
        else:
            scratch = await prepare_restore(self.config, source, user=user, note=note)
            try:
                await self.backup(safety, user=user)  # only once the backup proved restorable
                store.restore_from(scratch)
            finally:
                discard_scratch(scratch)
            await adopt_restored_keys(ops)
        ops.cache.clear()
        ops.access.invalidate()
        return safety

    async def rekey(self, user: str = "system") -> str:
        """Rotate the master key: re-wrap every version and the audit key in one transaction.

        The new key is written as ``master.key.next`` first; after the commit the old key file is
        kept as ``backups/master.key.<old id>`` (needed to restore older backups) and the new one
        takes its place. A crash in between is completed on the next start.
        """
        ops = self.ops
        await ops.admin_gate("rekey", user)
        if not ops.keys.uses_key_file:
            raise ConfigurationError(
                "rekey rotates key files; this vault's key comes from settings",
                hint="unset storage.encryption_key/passphrase to use a key file",
            )
        old, new = ops.keys.key, MasterKey.generate()
        files = ops.keys.key_files()
        await ops.audit.flush(force=True)
        with files.locked():
            files.write_next(new)
            await rewrap_vault(ops, new, user)
            ops.keys.adopt(files.swap_in(old))
        ops.cache.clear()
        return new.key_id


def _backup_suffix(store: FileBackedStore | DumpableStore) -> str:
    """The file name ending of ``store``'s backups (``.db`` for a copied SQLite file)."""
    return store.dump_suffix if isinstance(store, DumpableStore) else FILE_BACKUP_SUFFIX


async def _purge(unit: Unit, record: SecretRecord) -> bool:
    await unit.secrets.purge(record.id)
    return True


async def create_vault(
    app: str = "mahavishnu", settings_dir: str | Path = "settings", **overrides: Any
) -> SecretVault:
    """Load settings from the working directory's layers and return an initialized vault."""
    vault = SecretVault(load_config(app, settings_dir, **overrides), app=app)
    await vault.initialize()
    return vault
