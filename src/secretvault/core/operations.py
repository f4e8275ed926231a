"""``Operations``: the shape every vault operation shares, and the unit of work it runs in.

validate → open a unit → decide (RBAC, lifecycle) → act → append the audit entry in the same
unit → commit → raise the decided error, if any, *after* the commit — so denials are recorded
too, in a unit of their own (``record_failure``), and a change never commits without its entry.
``SecretVault`` and ``StagedRotation`` are both written in terms of this class.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from secretvault.errors import (
    AuditError,
    AuthorizationError,
    BackendUnavailableError,
    InvalidArgumentError,
    SecretExpiredError,
    SecretNotFoundError,
    SecretPendingDeletionError,
    SecretRevokedError,
    SecretVaultError,
)
from secretvault.models import AccessLevel, SecretRecord, SecretStatus, utcnow
from secretvault.validation import validate_name

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from secretvault.backends.base import Unit
    from secretvault.backends.stores import Stores
    from secretvault.core.access import AccessControl
    from secretvault.core.audit import AuditWriter
    from secretvault.core.cache import ReadCache
    from secretvault.core.keys import KeyManager

T = TypeVar("T")

#: States in which an existing secret may be changed by default (not revoked, not deleted).
CHANGEABLE = (SecretStatus.ACTIVE, SecretStatus.EXPIRED, SecretStatus.ROTATING)

#: A missing secret, unless the store has its own words (``StoreFeatures.not_found``).
_NOT_FOUND = ("secret {name} not found", "check the name with `secretvault list`")

#: What ``mutate`` runs on the found, authorized record, inside the operation's unit.
Change = Callable[["Unit", SecretRecord], Awaitable[T]]


class Operations:
    """Runs operations over the stores with access checks and audit (see module docstring)."""

    __slots__ = ("access", "audit", "cache", "keys", "stores")

    def __init__(
        self,
        stores: Stores,
        keys: KeyManager,
        audit: AuditWriter,
        access: AccessControl,
        cache: ReadCache,
    ) -> None:
        self.stores = stores
        self.keys = keys
        self.audit = audit
        self.access = access
        self.cache = cache

    def unit(self) -> _OperationUnit:
        """A unit of work that also writes buffered cache-hit entries and, once a change
        committed, drops this process's read cache."""
        return _OperationUnit(self)

    async def record_failure(
        self, action: str, user: str, name: str | None, err: BaseException, source_ip: str | None
    ) -> None:
        """Audit a denied or failed operation in a control transaction of its own (which
        works while a separate secret store is down)."""
        async with self.stores.control.transaction() as ctl:
            await self.audit.flush_into(ctl)
            await self.audit.append(ctl, action, user, name, False, failure_reason(err), source_ip)

    async def run(
        self,
        action: str,
        user: str,
        name: str | None,
        body: Callable[[Unit], Awaitable[T]],
        source_ip: str | None = None,
    ) -> T:
        """Run ``body`` in a unit; when it raises a ``SecretVaultError`` the unit rolls back
        (nothing half-written), the failure is audited in a unit of its own, and the error is
        re-raised. ``body`` appends its own success entry."""
        try:
            async with self.unit() as unit:
                return await body(unit)
        except AuditError:
            raise  # the trail itself failed: nothing to record the failure into
        except BackendUnavailableError as exc:
            if self.stores.is_shared:
                raise  # the audit trail lives in the same unreachable store
            err: SecretVaultError = exc  # a remote store failed: the control store records it
        except SecretVaultError as exc:
            err = exc
        await self.record_failure(action, user, name, err, source_ip)
        raise err

    async def mutate(
        self,
        action: str,
        name: str,
        user: str,
        level: AccessLevel,
        change: Change[T],
        source_ip: str | None = None,
        allow_states: tuple[SecretStatus, ...] = CHANGEABLE,
        reason: str | None = None,
    ) -> T:
        """Every change to an existing secret: find, authorize, check state, change, audit."""
        validate_name(name)

        async def body(unit: Unit) -> T:
            record = await unit.secrets.get(name)
            if record is None:
                raise SecretNotFoundError(f"secret {name!r} not found")
            await self.access.authorize(unit.control, user, level, record)
            if record.status not in allow_states:
                raise state_error(record)
            result = await change(unit, record)
            await self.audit.append(
                unit.control, action, user, name, reason=reason, source_ip=source_ip
            )
            return result

        return await self.run(action, user, name, body, source_ip)

    async def readable(
        self, unit: Unit, name: str, user: str, record: SecretRecord | None
    ) -> SecretRecord:
        """The record, if it exists, may be read by ``user`` and is in a readable state. An
        ACTIVE secret past its expiry is marked EXPIRED (persisted) and refused."""
        if record is None:
            message, hint = self.stores.secrets.features.not_found or _NOT_FOUND
            raise SecretNotFoundError(message.format(name=repr(name)), hint=hint)
        if self.access.enabled:  # (skipping the await when off is measurable on the read path)
            await self.access.authorize(unit.control, user, AccessLevel.READ, record)
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
                await unit.secrets.update(record)
            raise SecretExpiredError(
                f"secret {name!r} expired at {record.metadata.expires_at:%Y-%m-%d %H:%M} UTC",
                hint=f"give it a new expiry and value: `secretvault update {name} "
                "--expires-at DATE` (or update_metadata + update_secret)",
            )
        return record

    async def admin_gate(self, action: str, user: str) -> None:
        """Admin-only operations: deny (audited) unless ``user`` is an administrator."""
        try:
            await self.access.authorize_admin(user)
        except AuthorizationError as exc:
            await self.record_failure(action, user, None, exc, None)
            raise


class _OperationUnit:
    """``async with ops.unit() as unit`` (a class, not @asynccontextmanager: this is on every
    operation's path and the generator machinery costs more than the SQL it wraps)."""

    __slots__ = ("ctx", "ops", "unit")

    def __init__(self, ops: Operations) -> None:
        self.ops = ops
        self.ctx: AbstractAsyncContextManager[Unit] = ops.stores.unit()

    async def __aenter__(self) -> Unit:
        self.unit = await self.ctx.__aenter__()
        if self.ops.audit.pending:
            await self.ops.audit.flush_into(self.unit.control)
        return self.unit

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.ctx.__aexit__(exc_type, exc, tb)
        if exc_type is None and self.unit.secrets.changed:
            self.ops.cache.clear()


def failure_reason(exc: BaseException) -> str:
    """The audit entry's reason for a failure: the error's class and message (never a value)."""
    return f"{type(exc).__name__}: {exc}"[:300]


def state_error(record: SecretRecord) -> SecretVaultError:
    """The error for an operation the record's status does not allow."""
    if record.status == SecretStatus.REVOKED:
        return SecretRevokedError(f"secret {record.name!r} is revoked")
    if record.status == SecretStatus.PENDING_DELETION:
        return SecretPendingDeletionError(
            f"secret {record.name!r} is pending deletion", hint="restore it first"
        )
    return SecretVaultError(f"secret {record.name!r} is {record.status.value}")


def is_past(moment: datetime | None) -> bool:
    """True when ``moment`` is set and not in the future."""
    return moment is not None and moment <= utcnow()


def argument(build: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Build a model or enum from caller arguments; bad input becomes InvalidArgumentError."""
    from pydantic import ValidationError

    from secretvault.config import describe_validation_error

    try:
        return build(*args, **kwargs)
    except ValidationError as exc:
        raise InvalidArgumentError(describe_validation_error(exc, "arguments")) from None
    except ValueError as exc:
        raise InvalidArgumentError(str(exc)) from None
