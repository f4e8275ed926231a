"""Staged rotation, as ``SecretVault`` does it (docs/rotation.md, docs/architecture.md).

Create a *pending* version → check and apply it to the target (a rotator, when one matches) →
verify it (a verifier) → promote it to *current*. A failure before apply drops the pending
version; a failure after apply first restores the previous credential on the target, so the
store and the target always agree on a working credential. The rotating process is recorded
(host, pid, start, step reached) beside the pending version, so a vault opened later can tell a
rotation still in progress from one whose process died, and roll back or resume only the latter
by the step it reached; a lease bounds how long a reused pid can keep a dead rotation alive.

``StagedRotation`` is a part of ``SecretVault`` built on ``core.operations.Operations`` (units
of work, access checks, audit) and ``core.keys.KeyManager`` (sealing the new value); the facade
keeps the guide's method names and delegates here.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from secretvault.backends.base import STAGE_CURRENT, STAGE_PENDING
from secretvault.errors import RotationError, SecretVaultError
from secretvault.models import (
    AccessLevel,
    RotationResult,
    SecretRecord,
    SecretStatus,
    SecretType,
    utcnow,
)
from secretvault.rotation.matching import Rules
from secretvault.rotation.rotators import (
    EXTERNAL_TYPES,
    RotationContext,
    Rotator,
    default_verifier,
)
from secretvault.rotation.verifiers import Verifier, run_verifier
from secretvault.validation import validate_value

if TYPE_CHECKING:
    from secretvault.backends.base import SecretSession, Unit
    from secretvault.config import SecretsConfig
    from secretvault.core.operations import Operations

__all__ = ["StagedRotation", "Verifier", "next_version", "rotation_due"]

#: Test hook (docs/rotation.md, "Crash behaviour"): the rotating process SIGKILLs itself right
#: after the named step (create, applying — the target changed, the store not yet told —,
#: apply, verify), so tests can prove recovery from each one.
CRASH_ENV = "SECRETVAULT_TEST_CRASH_AT"


def _crash_point(step: str) -> None:
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


async def next_version(session: SecretSession, record: SecretRecord) -> int:
    """The number for a new version: above every stored one (a pending rotation included)."""
    return max(await session.max_version(record.id), record.metadata.version) + 1


def rotation_lease(secret_id: str, version: int) -> str:
    """The name of the control-store lease a rotation of ``version`` holds."""
    return f"rotation:{secret_id}:{version}"


ROTATION_LEASE_SECONDS = 3600


def _rotation_owner(step: str = "create", pid: int | None = -1) -> str:
    """Who is rotating, since when, and the step reached: recovery tells a live rotation from a
    crashed one, and rolls back or resumes by step. ``pid=None`` marks a rotation no process
    owns any more (a restore that failed), left for the next recovery."""
    import socket

    return json.dumps(
        {
            "host": socket.gethostname(),
            "pid": os.getpid() if pid == -1 else pid,
            "since": time.time(),
            "step": step,
        }
    )


def _lease_step(owner: str | None) -> str:
    """The step a rotation lease records (leases from before steps existed: ``create``)."""
    return str(json.loads(owner).get("step", "create")) if owner else "create"


def _owner_alive(owner: str | None) -> bool:
    """True when the rotating process is on this host, still running, and within its lease.

    The lease bounds the damage of a reused pid (or containers sharing a hostname): a rotation
    whose verification has not finished within an hour is treated as crashed."""
    import socket

    if not owner:
        return False
    info = json.loads(owner)
    if info.get("pid") is None or info.get("host") != socket.gethostname():
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


def rotation_due(config: SecretsConfig, record: SecretRecord, now: datetime | None = None) -> bool:
    """True when rotation is enabled, the type auto-rotates, and the interval or the
    pre-expiry window (``rotate_before_expiry_days``) has been reached (at ``now``)."""
    if not config.rotation_enabled or record.status != SecretStatus.ACTIVE:
        return False
    if not record.secret_type.auto_rotatable:
        return False
    now = now or utcnow()
    meta = record.metadata
    if now >= meta.rotation_due_at:
        return True
    if meta.expires_at is None:
        return False
    window = meta.expires_at - timedelta(days=config.rotate_before_expiry_days)
    # Once per window: a value rotated inside it is not due again until the next one.
    return now >= window and (meta.last_rotated is None or meta.last_rotated < window)


def _message(exc: BaseException, *values: str) -> str:
    """A failure's text for a result, log or audit entry, with any secret value masked."""
    text = str(exc) if isinstance(exc, SecretVaultError) else type(exc).__name__
    if not isinstance(exc, SecretVaultError) and str(exc):
        text += f": {exc}"
    for value in values:
        if value:
            text = text.replace(value, "***")
    return text[:300]


class StagedRotation:
    """``rotate_secret``, ``_should_rotate``, rotators, verifiers and crash recovery."""

    def __init__(self, ops: Operations, config: SecretsConfig, rules: Rules | None = None) -> None:
        self.ops = ops
        self.config = config
        self.rules = rules if rules is not None else Rules()
        #: "Now" for due checks and ``last_rotated`` (the scheduler's tests inject a clock).
        self.clock: Callable[[], datetime] = utcnow

    def register_verifier(self, key: object, verifier: Verifier) -> None:
        """Register ``verifier(value, record) -> bool`` for a match pattern or a SecretType."""
        self.rules.verifiers.add(key, verifier)

    def should_rotate(self, record: SecretRecord) -> bool:
        """``rotation_due`` under this vault's settings and clock."""
        return rotation_due(self.config, record, self.clock())

    async def stage(
        self, unit: Unit, record: SecretRecord, value: str, user: str, step: str = "create"
    ) -> int:
        """Write ``value`` as a pending version of ``record``, mark it ROTATING and take the
        rotation lease; returns the pending version number."""
        new = await next_version(unit.secrets, record)
        stored = await self.ops.keys.seal(unit.control, record.id, new, value, user, STAGE_PENDING)
        await unit.secrets.add_version(record, stored, 0, cas=record.metadata.version)
        record.status = SecretStatus.ROTATING
        await unit.secrets.update(record)
        await unit.control.lease_put(rotation_lease(record.id, new), _rotation_owner(step))
        return new

    async def rotate(
        self,
        name: str,
        new_value: str | None = None,
        verify: bool = True,
        rollback_on_failure: bool = True,
        user: str = "system",
    ) -> RotationResult:
        """create pending → check → apply (rotator) → verify → promote (module docstring)."""
        from secretvault.rotation.generators import generate_value

        pending: dict[str, Any] = {}
        clock = time.perf_counter()

        async def start(unit: Unit, record: SecretRecord) -> None:
            rotator = self.rules.rotators.find(record)
            current = ""
            if rotator is None:
                value = new_value
                if value is None:
                    value = generate_value(record.secret_type, self.rules.policies)
            else:
                stored = await unit.secrets.get_version(record.id, record.metadata.version)
                if stored is None:
                    raise RotationError(f"secret {name!r} has no current version")
                current = self.ops.keys.open_value(record.id, stored)
                generated = "" if new_value is not None else self._generate(record)
                value = rotator.candidate(current, new_value, generated)
            validate_value(value)
            old = record.metadata.version
            new = await self.stage(unit, record, value, user)
            pending.update(
                value=value, current=current, record=record, new=new, old=old, rotator=rotator
            )

        await self.ops.mutate(
            "rotate_start",
            name,
            user,
            AccessLevel.WRITE,
            start,
            allow_states=(SecretStatus.ACTIVE, SecretStatus.EXPIRED),
        )
        record: SecretRecord = pending["record"]
        rotator: Rotator | None = pending["rotator"]
        value: str = pending.pop("value")
        current: str = pending.pop("current")
        old, new = pending["old"], pending["new"]
        result = RotationResult(
            secret_name=name,
            success=True,
            old_version=old,
            new_version=new,
            step="create",
            rotator=rotator.kind if rotator else None,
            target_untouched=rotator is None and record.secret_type in EXTERNAL_TYPES,
        )
        result.timings_ms["create"] = _ms(clock)
        _crash_point("create")
        ctx = RotationContext(record, current, value, self._reader(user))
        try:
            failure = await self._run_steps(result, rotator, ctx, verify, user)
        except BaseException:
            # Interrupted (Ctrl-C, task cancelled): put the old credential back, keep `current`.
            if rotator is not None and result.step in ("apply", "verify"):
                await self._restore_or_park(rotator, ctx, new, result)
            if result.restored is not False:
                await self.finish(record, old, new, True, user, "interrupted")
            raise
        rollback = False
        if failure is not None:
            result.failed_step, result.error = result.step, f"{result.step}: {failure}"
            keep = result.step == "verify" and not (
                rollback_on_failure and self.config.rollback_on_failure
            )
            rollback = not keep
            if rollback and rotator is not None and result.step in ("apply", "verify"):
                await self._restore_or_park(rotator, ctx, new, result)
                if not result.restored:
                    result.success = False
                    result.rolled_back = False
                    result.new_version = old
                    return result
        t = time.perf_counter()
        conflict = await self.finish(
            record, old, new, rollback, user, result.error, _step_entries(result)
        )
        if conflict and rotator is not None and result.step in ("apply", "verify"):
            result.restored = await self._restore(rotator, ctx)
        if conflict:
            result.error, rollback = conflict, True
            result.failed_step = result.failed_step or "promote"
        result.success = failure is None and not conflict
        result.rolled_back = rollback
        if not rollback:
            result.step = "promote"
            result.timings_ms["promote"] = _ms(t)
        else:
            result.new_version = result.old_version
        result.timings_ms["total"] = _ms(clock)
        return result

    def _generate(self, record: SecretRecord) -> str:
        from secretvault.rotation.generators import generate_value

        try:
            return generate_value(record.secret_type, self.rules.policies)
        except RotationError:
            # A rotator shapes the value itself (postgres: a password inside a credential).
            return generate_value(SecretType.DATABASE_PASSWORD, self.rules.policies)

    async def _run_steps(
        self,
        result: RotationResult,
        rotator: Rotator | None,
        ctx: RotationContext,
        verify: bool,
        user: str,
    ) -> str | None:
        """check → apply → verify; returns why the step in ``result.step`` failed, or None."""
        record, new = ctx.record, result.new_version or 0
        secrets = (ctx.current, ctx.candidate)
        if rotator is not None:
            t = time.perf_counter()
            result.step = "check"
            try:
                await rotator.check(ctx)
            except Exception as exc:
                return _message(exc, *secrets) + "; nothing was changed"
            result.timings_ms["check"] = _ms(t)
            t = time.perf_counter()
            result.step = "apply"
            # Recorded *before* the target changes: a crash from here on is rolled back by
            # restoring the previous credential (idempotent), whether or not apply happened.
            await self._mark(record, new, "applying", "rotate_apply_start", user)
            try:
                await rotator.apply(ctx)
            except Exception as exc:
                return _message(exc, *secrets)
            _crash_point("applying")
            await self._mark(record, new, "applied", "rotate_apply", user)
            result.timings_ms["apply"] = _ms(t)
            _crash_point("apply")
        if verify and self.config.verify_after_rotation:
            t = time.perf_counter()
            result.step = "verify"
            error = await self._verify(ctx.candidate, record, rotator)
            result.timings_ms["verify"] = _ms(t)
            if error is not None:
                return error
            result.verified = True
            _crash_point("verify")
        return None

    async def _mark(
        self, record: SecretRecord, new: int, step: str, action: str, user: str
    ) -> None:
        """Record the step reached in the rotation lease, with its audit entry."""
        async with self.ops.unit() as unit:
            await unit.control.lease_put(rotation_lease(record.id, new), _rotation_owner(step))
            await self.ops.audit.append(unit.control, action, user, record.name)

    def verifier_for(self, record: SecretRecord, rotator: Rotator | None) -> Verifier | None:
        """A matching verifier, else the rotator's own (postgres: log in with the candidate)."""
        found = self.rules.verifiers.find(record)
        if found is None and rotator is not None:
            found = default_verifier(rotator)
        return found

    async def _verify(
        self, value: str, record: SecretRecord, rotator: Rotator | None
    ) -> str | None:
        verifier = self.verifier_for(record, rotator)
        if verifier is None:
            return None
        try:
            ok = await run_verifier(verifier, value, record)
        except Exception as exc:
            return f"verification raised {type(exc).__name__}"
        return None if ok else "verification failed"

    async def _restore(self, rotator: Rotator, ctx: RotationContext) -> bool:
        try:
            return await rotator.restore(ctx)
        except Exception:
            return False

    async def _restore_or_park(
        self, rotator: Rotator, ctx: RotationContext, new: int, result: RotationResult
    ) -> None:
        """Put the previous credential back on the target. When that fails the rotation is
        parked (pending version kept, lease marked ownerless at ``applying``) for the next
        recovery, rather than guessing which credential the target holds."""
        result.restored = await self._restore(rotator, ctx)
        async with self.ops.unit() as unit:
            if not result.restored:
                await unit.control.lease_put(
                    rotation_lease(ctx.record.id, new), _rotation_owner("applying", None)
                )
                result.error = (
                    f"{result.error or 'interrupted'}; the previous credential could not be "
                    "restored: the rotation stays pending and the next open of the vault "
                    "retries the restore"
                )
            await self.ops.audit.append(
                unit.control,
                "rotate_restore",
                "system",
                ctx.record.name,
                bool(result.restored),
                None if result.restored else "restore failed",
            )

    def _reader(self, user: str) -> Callable[[str], Any]:
        """``read_secret(name)`` for rotators (an admin credential): checked and audited."""

        async def read(name: str) -> str:
            async with self.ops.unit() as unit:
                found = await unit.secrets.read(name, None)
                record = await self.ops.readable(unit, name, user, found[0] if found else None)
                assert found is not None and found[1] is not None
                value = self.ops.keys.open_value(record.id, found[1])
                await self.ops.audit.append(unit.control, "read", user, name, reason="rotation")
            return value

        return read

    async def finish(
        self,
        record: SecretRecord,
        old: int,
        new: int,
        rollback: bool,
        user: str,
        reason: str | None = None,
        steps: tuple[tuple[str, bool, str | None], ...] = (),
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
                now = self.clock()
                current.metadata = current.metadata.model_copy(
                    update={"version": new, "last_rotated": now, "updated_at": now}
                )
            current.status = SecretStatus.ACTIVE
            await unit.secrets.update(current)
            for step_action, ok, why in steps:  # check/verify outcomes, in the same unit
                await self.ops.audit.append(unit.control, step_action, user, record.name, ok, why)
            action = "rotate_rollback" if rollback else "rotate"
            await self.ops.audit.append(
                unit.control, action, user, record.name, not rollback, conflict or reason
            )
        return conflict

    async def recover(self) -> None:
        """Resolve rotations a crash left half-done, by the step their lease records:
        ``create`` → drop the pending version; ``applying`` → restore the previous credential
        on the target, then drop; ``applied`` → verify the candidate and promote it, or
        restore and drop. A rotation whose rotator is not registered in this process is left
        for a process that has it."""
        parked: list[tuple[SecretRecord, int, str, str, str]] = []
        async with self.ops.unit() as unit:
            for secret_id, version in await unit.secrets.pending_versions():
                lease = rotation_lease(secret_id, version)
                owner = await unit.control.lease_get(lease)
                if _owner_alive(owner):
                    continue  # another live process is still rotating this secret
                step = _lease_step(owner)
                name = await unit.secrets.secret_name(secret_id)
                record = await unit.secrets.get(name) if name else None
                if step in ("applying", "applied") and record is not None:
                    cur = await unit.secrets.get_version(secret_id, record.metadata.version)
                    cand = await unit.secrets.get_version(secret_id, version)
                    if cur is not None and cand is not None:
                        # Claimed by this process, so a concurrent open leaves it alone.
                        await unit.control.lease_put(lease, _rotation_owner(step))
                        parked.append(
                            (
                                record,
                                version,
                                step,
                                self.ops.keys.open_value(secret_id, cur),
                                self.ops.keys.open_value(secret_id, cand),
                            )
                        )
                        continue
                await unit.control.lease_drop(lease)
                await unit.secrets.drop_version(secret_id, version)
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
        for record, version, step, current, candidate in parked:
            await self._recover_applied(record, version, step, current, candidate)

    async def _recover_applied(
        self, record: SecretRecord, version: int, step: str, current: str, candidate: str
    ) -> None:
        rotator = self.rules.rotators.find(record)
        old = record.metadata.version
        if rotator is None:  # release the claim: a process that has the rotator resolves it
            await self._park(record, version, step, "no rotator matches in this process")
            return
        ctx = RotationContext(record, current, candidate, self._reader("system"))
        if step == "applied" and await self._verify(candidate, record, rotator) is None:
            await self.finish(record, old, version, False, "system", "resumed after a crash")
            return
        if not await self._restore(rotator, ctx):
            if await self._verify(candidate, record, rotator) is None and step == "applying":
                # The target took the candidate and it works: the store follows the target.
                await self.finish(record, old, version, False, "system", "resumed after a crash")
                return
            await self._park(record, version, step, "the previous credential could not be restored")
            return
        await self.finish(record, old, version, True, "system", f"interrupted at {step}; restored")

    async def _park(self, record: SecretRecord, version: int, step: str, why: str) -> None:
        """Leave an interrupted rotation pending, ownerless, for a later recovery."""
        async with self.ops.unit() as unit:
            lease = rotation_lease(record.id, version)
            await unit.control.lease_put(lease, _rotation_owner(step, None))
            await self.ops.audit.append(
                unit.control,
                "rotate_recovered",
                "system",
                record.name,
                False,
                f"interrupted at {step}; {why}",
            )


def _step_entries(result: RotationResult) -> tuple[tuple[str, bool, str | None], ...]:
    """Audit entries for the check and verify steps a rotation ran (action, ok, reason)."""
    out: list[tuple[str, bool, str | None]] = []
    for step in ("check", "verify"):
        ran = step in result.timings_ms or result.failed_step == step
        if ran:
            ok = result.failed_step != step
            out.append((f"rotate_{step}", ok, None if ok else result.error))
    return tuple(out)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)
