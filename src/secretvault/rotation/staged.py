"""Staged rotation, as ``SecretVault`` does it (DESIGN "Lifecycle and versions").

Create a *pending* version → verify it (a registered verifier) → promote it to *current*; any
failure leaves ``current`` untouched and drops the pending version. The rotating process is
recorded (host, pid, start) beside the pending version, so a vault opened later can tell a
rotation still being verified from one whose process died, and roll back only the latter; a
lease bounds how long a reused pid can keep a dead rotation looking alive.

``StagedRotation`` is a mixin of ``SecretVault``: it uses the facade's transaction, audit and
encryption helpers (``_mutate``, ``_tx``, ``_audit``, ``_new_version``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

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
    from secretvault.backends.local import LocalTransaction
    from secretvault.config import SecretsConfig

Verifier = Callable[[str, SecretRecord], Awaitable[bool] | bool]


async def next_version(tx: LocalTransaction, record: SecretRecord) -> int:
    """The number for a new version: above every stored one (a pending rotation included)."""
    return max(tx.max_version(record.id), record.metadata.version) + 1


def _rotation_key(secret_id: str, version: int) -> str:
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


class StagedRotation:
    """``rotate_secret``, ``_should_rotate``, verifiers and crash recovery of rotations."""

    config: SecretsConfig
    _verifiers: dict[str, Verifier]

    def register_verifier(self, key: str | SecretType, verifier: Verifier) -> None:
        """Register ``verifier(value, record) -> bool`` for a secret name or a SecretType."""
        self._verifiers[str(key.value if isinstance(key, SecretType) else key)] = verifier

    async def _should_rotate(self, record: SecretRecord) -> bool:
        """True when rotation is enabled, the type auto-rotates, and the interval or the
        pre-expiry window (``rotate_before_expiry_days``) has been reached."""
        if not self.config.rotation_enabled or record.status != SecretStatus.ACTIVE:
            return False
        if not record.secret_type.auto_rotatable:
            return False
        now = utcnow()
        if now >= record.metadata.rotation_due_at:
            return True
        exp = record.metadata.expires_at
        return exp is not None and now >= exp - timedelta(
            days=self.config.rotate_before_expiry_days
        )

    async def rotate_secret(
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

        async def stage(tx: LocalTransaction, record: SecretRecord) -> None:
            value = new_value if new_value is not None else generate_value(record.secret_type)
            validate_value(value)
            new = await next_version(tx, record)
            await tx.add_version(
                record, self._new_version(tx, record.id, new, value, user, "pending"), 0
            )
            record.status = SecretStatus.ROTATING
            await tx.update(record)
            tx.meta_set(_rotation_key(record.id, new), _rotation_owner())
            pending.update(value=value, record=record, new=new, old=record.metadata.version)

        await self._mutate(
            "rotate_start",
            name,
            user,
            AccessLevel.WRITE,
            stage,
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
                await self._finish_rotation(record, pending["old"], pending["new"], True, user)
                raise
            result.verified = result.error is None
        failed = result.error is not None
        rollback = failed and rollback_on_failure and self.config.rollback_on_failure
        conflict = await self._finish_rotation(
            record, pending["old"], pending["new"], rollback, user
        )
        if conflict:
            result.error, failed, rollback = conflict, True, True
        result.success = not failed
        result.rolled_back = rollback
        if rollback:
            result.new_version = result.old_version
        return result

    async def _verify(self, value: str, record: SecretRecord) -> str | None:
        verifier = self._verifiers.get(record.name) or self._verifiers.get(record.secret_type.value)
        if verifier is None:
            return None
        try:
            ok = verifier(value, record)
            if isinstance(ok, Awaitable):
                ok = await ok
        except Exception as exc:
            return f"verification raised {type(exc).__name__}"
        return None if ok else "verification failed"

    async def _finish_rotation(
        self, record: SecretRecord, old: int, new: int, rollback: bool, user: str
    ) -> str | None:
        """Promote or drop the pending version. Returns a conflict message when the rotation
        can no longer be promoted (the pending version was recovered away, or the secret was
        updated meanwhile); the pending version is then dropped and ``current`` kept."""
        async with self._tx() as tx:
            tx.meta_delete(_rotation_key(record.id, new))
            current = await tx.get(record.name)
            if current is None:
                return "the secret was deleted during rotation"
            staged = await tx.get_version(current.id, new)
            conflict = None
            if staged is None or staged.stage != "pending":
                conflict = "the pending version was rolled back by recovery"
            elif current.metadata.version != old:
                conflict = "the secret was updated during rotation; rotate again"
            rollback = rollback or conflict is not None
            if rollback:
                await tx.drop_version(current.id, new)
            else:
                await tx.set_stage(current.id, new, "current")
                now = utcnow()
                current.metadata = current.metadata.model_copy(
                    update={"version": new, "last_rotated": now, "updated_at": now}
                )
            current.status = SecretStatus.ACTIVE
            await tx.update(current)
            action = "rotate_rollback" if rollback else "rotate"
            await self._audit(tx, action, user, record.name, not rollback, conflict)
        return conflict

    async def _recover_rotations(self) -> None:
        """Roll back rotations a crash left half-done: drop pending versions, reactivate."""
        async with self._tx() as tx:
            for secret_id, version in await tx.pending_versions():
                key = _rotation_key(secret_id, version)
                if _owner_alive(tx.meta_get(key)):
                    continue  # another live process is still verifying this rotation
                tx.meta_delete(key)
                name = tx.secret_name(secret_id)
                await tx.drop_version(secret_id, version)
                record = await tx.get(name) if name else None
                if record is not None and record.status == SecretStatus.ROTATING:
                    record.status = SecretStatus.ACTIVE
                    await tx.update(record)
                    await self._audit(
                        tx,
                        "rotate_recovered",
                        "system",
                        record.name,
                        False,
                        "interrupted rotation rolled back",
                    )
