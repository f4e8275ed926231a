"""Staged rotation, as ``SecretVault`` does it (docs/architecture.md, "Lifecycle and versions").

Create a *pending* version → verify it (a registered verifier) → promote it to *current*; any
failure leaves ``current`` untouched and drops the pending version. The rotating process is
recorded (host, pid, start) beside the pending version, so a vault opened later can tell a
rotation still being verified from one whose process died, and roll back only the latter; a
lease bounds how long a reused pid can keep a dead rotation looking alive.

``StagedRotation`` is a part of ``SecretVault`` built on ``core.operations.Operations`` (units
of work, access checks, audit) and ``core.keys.KeyManager`` (sealing the new value); the facade
keeps the guide's method names and delegates here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from secretvault.backends.base import STAGE_CURRENT, STAGE_PENDING
from secretvault.models import (
    AccessLevel,
    RotationResult,
    SecretRecord,
    SecretStatus,
    SecretType,
    utcnow,
)
from secretvault.validation import validate_value

if TYPE_CHECKING:
    from secretvault.backends.base import SecretSession, Unit
    from secretvault.config import SecretsConfig
    from secretvault.core.operations import Operations

Verifier = Callable[[str, SecretRecord], Awaitable[bool] | bool]


async def next_version(session: SecretSession, record: SecretRecord) -> int:
    """The number for a new version: above every stored one (a pending rotation included)."""
    return max(await session.max_version(record.id), record.metadata.version) + 1


def rotation_lease(secret_id: str, version: int) -> str:
    """The name of the control-store lease a rotation of ``version`` holds."""
    return f"rotation:{secret_id}:{version}"


ROTATION_LEASE_SECONDS = 3600


def _rotation_owner() -> str:
    """Who is rotating, and since when: recovery tells a live rotation from a crashed one."""
    import os
    import socket

    return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()})


def _owner_alive(owner: str | None) -> bool:
    """True when the rotating process is on this host, still running, and within its lease.

    The lease bounds the damage of a reused pid (or containers sharing a hostname): a rotation
    whose verification has not finished within an hour is treated as crashed."""
    import os
    import socket

    if not owner:
        return False
    info = json.loads(owner)
    if info.get("host") != socket.gethostname():
        return False
    since = info.get("since")
    if since is not None and time.time() - float(since) > ROTATION_LEASE_SECONDS:
        return False
    try:
        os.kill(int(info["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def rotation_due(config: SecretsConfig, record: SecretRecord) -> bool:
    """True when rotation is enabled, the type auto-rotates, and the interval or the
    pre-expiry window (``rotate_before_expiry_days``) has been reached."""
    if not config.rotation_enabled or record.status != SecretStatus.ACTIVE:
        return False
    if not record.secret_type.auto_rotatable:
        return False
    now = utcnow()
    if now >= record.metadata.rotation_due_at:
        return True
    exp = record.metadata.expires_at
    return exp is not None and now >= exp - timedelta(days=config.rotate_before_expiry_days)


class StagedRotation:
    """``rotate_secret``, ``_should_rotate``, verifiers and crash recovery of rotations."""

    def __init__(self, ops: Operations, config: SecretsConfig) -> None:
        self.ops = ops
        self.config = config
        self.verifiers: dict[str, Verifier] = {}

    def register_verifier(self, key: str | SecretType, verifier: Verifier) -> None:
        """Register ``verifier(value, record) -> bool`` for a secret name or a SecretType."""
        self.verifiers[str(key.value if isinstance(key, SecretType) else key)] = verifier

    def should_rotate(self, record: SecretRecord) -> bool:
        """``rotation_due`` under this vault's settings."""
        return rotation_due(self.config, record)

    async def stage(self, unit: Unit, record: SecretRecord, value: str, user: str) -> int:
        """Write ``value`` as a pending version of ``record``, mark it ROTATING and take the
        rotation lease; returns the pending version number."""
        new = await next_version(unit.secrets, record)
        stored = await self.ops.keys.seal(unit.control, record.id, new, value, user, STAGE_PENDING)
        await unit.secrets.add_version(record, stored, 0, cas=record.metadata.version)
        record.status = SecretStatus.ROTATING
        await unit.secrets.update(record)
        await unit.control.lease_put(rotation_lease(record.id, new), _rotation_owner())
        return new

    async def rotate(
        self,
        name: str,
        new_value: str | None = None,
        verify: bool = True,
        rollback_on_failure: bool = True,
        user: str = "system",
    ) -> RotationResult:
        """Staged rotation: pending version → verify → promote; failure keeps ``current``."""
        from secretvault.rotation.generators import generate_value

        pending: dict[str, Any] = {}

        async def start(unit: Unit, record: SecretRecord) -> None:
            value = new_value if new_value is not None else generate_value(record.secret_type)
            validate_value(value)
            old = record.metadata.version
            new = await self.stage(unit, record, value, user)
            pending.update(value=value, record=record, new=new, old=old)

        await self.ops.mutate(
            "rotate_start",
            name,
            user,
            AccessLevel.WRITE,
            start,
            allow_states=(SecretStatus.ACTIVE, SecretStatus.EXPIRED),
        )
        record, value = pending["record"], pending.pop("value")
        result = RotationResult(
            secret_name=name, success=True, old_version=pending["old"], new_version=pending["new"]
        )
        if verify and self.config.verify_after_rotation:
            try:
                result.error = await self._verify(value, record)
            except BaseException:
                # Interrupted (Ctrl-C, task cancelled): keep `current`, drop the pending version.
                await self.finish(record, pending["old"], pending["new"], True, user)
                raise
            result.verified = result.error is None
        failed = result.error is not None
        rollback = failed and rollback_on_failure and self.config.rollback_on_failure
        conflict = await self.finish(record, pending["old"], pending["new"], rollback, user)
        if conflict:
            result.error, failed, rollback = conflict, True, True
        result.success = not failed
        result.rolled_back = rollback
        if rollback:
            result.new_version = result.old_version
        return result

    async def _verify(self, value: str, record: SecretRecord) -> str | None:
        verifier = self.verifiers.get(record.name) or self.verifiers.get(record.secret_type.value)
        if verifier is None:
            return None
        try:
            ok = verifier(value, record)
            if isinstance(ok, Awaitable):
                ok = await ok
        except Exception as exc:
            return f"verification raised {type(exc).__name__}"
        return None if ok else "verification failed"

    async def finish(
        self, record: SecretRecord, old: int, new: int, rollback: bool, user: str
    ) -> str | None:
        """Promote or drop the pending version. Returns a conflict message when the rotation
        can no longer be promoted (the pending version was recovered away, or the secret was
        updated meanwhile); the pending version is then dropped and ``current`` kept."""
        async with self.ops.unit() as unit:
            await unit.control.lease_drop(rotation_lease(record.id, new))
            current = await unit.secrets.get(record.name)
            if current is None:
                return "the secret was deleted during rotation"
            staged = await unit.secrets.get_version(current.id, new)
            conflict = None
            if staged is None or staged.stage != STAGE_PENDING:
                conflict = "the pending version was rolled back by recovery"
            elif current.metadata.version != old:
                conflict = "the secret was updated during rotation; rotate again"
            rollback = rollback or conflict is not None
            if rollback:
                await unit.secrets.drop_version(current.id, new)
            else:
                await unit.secrets.set_stage(current.id, new, STAGE_CURRENT)
                now = utcnow()
                current.metadata = current.metadata.model_copy(
                    update={"version": new, "last_rotated": now, "updated_at": now}
                )
            current.status = SecretStatus.ACTIVE
            await unit.secrets.update(current)
            action = "rotate_rollback" if rollback else "rotate"
            await self.ops.audit.append(
                unit.control, action, user, record.name, not rollback, conflict
            )
        return conflict

    async def recover(self) -> None:
        """Roll back rotations a crash left half-done: drop pending versions, reactivate."""
        async with self.ops.unit() as unit:
            for secret_id, version in await unit.secrets.pending_versions():
                lease = rotation_lease(secret_id, version)
                if _owner_alive(await unit.control.lease_get(lease)):
                    continue  # another live process is still verifying this rotation
                await unit.control.lease_drop(lease)
                name = await unit.secrets.secret_name(secret_id)
                await unit.secrets.drop_version(secret_id, version)
                record = await unit.secrets.get(name) if name else None
                if record is not None and record.status == SecretStatus.ROTATING:
                    record.status = SecretStatus.ACTIVE
                    await unit.secrets.update(record)
                    await self.ops.audit.append(
                        unit.control,
                        "rotate_recovered",
                        "system",
                        record.name,
                        False,
                        "interrupted rotation rolled back",
                    )
