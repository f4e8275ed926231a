"""Rotators: apply a new credential to the system that uses it (docs/rotation.md).

A rotator has four parts, after AWS Secrets Manager's rotation steps:

- ``candidate(current, new_value, generated)``: the new secret value (createSecret's shape);
- ``check(ctx)``: before anything changes, prove the current credential can make the change;
- ``apply(ctx)``: change the target (setSecret);
- ``restore(ctx) -> bool``: put the previous credential back after a failed verify or apply,
  idempotently (it also runs on recovery, when it is unknown whether ``apply`` happened).

Built in: ``postgres`` (``postgres.py``), ``command``, and Python callables.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from secretvault.errors import ConfigurationError, RotationError
from secretvault.models import SecretType

if TYPE_CHECKING:
    from secretvault.models import SecretRecord
    from secretvault.rotation.verifiers import Verifier


@dataclass(slots=True)
class RotationContext:
    """What a rotator works with: the record, the current and the candidate values, and a
    reader for other secrets (an admin credential)."""

    record: SecretRecord
    current: str
    candidate: str
    read_secret: Callable[[str], Awaitable[str]]


class Rotator(Protocol):
    """What the state machine (``staged.py``) calls; see the module docstring."""

    kind: str

    def candidate(self, current: str, new_value: str | None, generated: str) -> str: ...

    async def check(self, ctx: RotationContext) -> None: ...

    async def apply(self, ctx: RotationContext) -> None: ...

    async def restore(self, ctx: RotationContext) -> bool: ...


#: Types whose value is a credential another system checks: rotating only the stored copy
#: leaves that system on the old one (``secretvault rotate`` warns; docs/rotation.md).
EXTERNAL_TYPES = frozenset(
    {
        SecretType.API_KEY,
        SecretType.DATABASE_PASSWORD,
        SecretType.OAUTH_TOKEN,
        SecretType.JWT_TOKEN,
        SecretType.WEBHOOK_SECRET,
        SecretType.SERVICE_ACCOUNT_KEY,
        SecretType.SSH_KEY,
        SecretType.TLS_CERTIFICATE,
    }
)


def default_verifier(rotator: Rotator) -> Verifier | None:
    """The rotator's own verifier (postgres: log in with the candidate), if it has one."""
    verify = getattr(rotator, "verify", None)
    return verify if callable(verify) else None


#: Environment of the command rotator's child. Values go here, never in argv (argv is
#: world-readable in /proc and ps).
ENV_STEP = "SECRETVAULT_ROTATION_STEP"
ENV_NAME = "SECRETVAULT_SECRET_NAME"
ENV_CANDIDATE = "SECRETVAULT_NEW_VALUE"
ENV_PREVIOUS = "SECRETVAULT_OLD_VALUE"


class CommandRotator:
    """``kind: command``: run ``command`` with the candidate in its environment; exit 0 means
    applied. Restore runs ``restore_command`` (default: the same command) with
    ``SECRETVAULT_ROTATION_STEP=restore``, the value to put back in ``SECRETVAULT_OLD_VALUE``."""

    kind = "command"

    def __init__(
        self,
        command: list[str],
        restore_command: list[str] | None = None,
        timeout_seconds: float = 60.0,
    ) -> None:
        self.command = command
        self.restore_command = restore_command or command
        self.timeout = timeout_seconds

    def candidate(self, current: str, new_value: str | None, generated: str) -> str:
        return new_value if new_value is not None else generated

    async def check(self, ctx: RotationContext) -> None:
        return None

    async def _run(self, argv: list[str], step: str, ctx: RotationContext) -> int:
        env = dict(os.environ)
        env.update(
            {
                ENV_STEP: step,
                ENV_NAME: ctx.record.name,
                ENV_CANDIDATE: ctx.candidate,
                ENV_PREVIOUS: ctx.current,
            }
        )
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                # The child's output may echo the value: it is discarded, never logged.
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
        except OSError as exc:
            raise RotationError(f"cannot run {argv[0]!r}: {exc.strerror}") from None
        try:
            return await asyncio.wait_for(proc.wait(), self.timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise RotationError(f"{argv[0]!r} did not finish within {self.timeout:g}s") from None

    async def apply(self, ctx: RotationContext) -> None:
        code = await self._run(self.command, "apply", ctx)
        if code != 0:
            raise RotationError(f"{self.command[0]!r} exited with status {code}")

    async def restore(self, ctx: RotationContext) -> bool:
        return await self._run(self.restore_command, "restore", ctx) == 0


Apply = Callable[[RotationContext], Awaitable[bool | None] | bool | None]


class CallableRotator:
    """A Python function as a rotator (``register_rotator`` / ``@vault.rotator``): ``apply``
    returns None or True when applied; ``restore`` (optional) returns True when restored."""

    kind = "python"

    def __init__(self, apply: Apply, restore: Apply | None = None) -> None:
        self._apply = apply
        self._restore = restore

    def candidate(self, current: str, new_value: str | None, generated: str) -> str:
        return new_value if new_value is not None else generated

    async def check(self, ctx: RotationContext) -> None:
        return None

    @staticmethod
    async def _call(fn: Apply, ctx: RotationContext) -> bool | None:
        out = fn(ctx)
        if isinstance(out, Awaitable):
            out = await out
        return out

    async def apply(self, ctx: RotationContext) -> None:
        if await self._call(self._apply, ctx) is False:
            raise RotationError(f"rotator {getattr(self._apply, '__name__', '?')} refused")

    async def restore(self, ctx: RotationContext) -> bool:
        if self._restore is None:
            return False
        return await self._call(self._restore, ctx) is not False


def rotator_from_settings(spec: dict[str, Any], key: str) -> Rotator:
    """A rotator from one ``rotation.rotators`` entry (``kind`` and its options)."""
    kind = spec.get("kind")
    if kind == "postgres":
        from secretvault.rotation.postgres import postgres_from_settings

        return postgres_from_settings(spec, key)
    if kind == "command":
        extra = sorted(
            set(spec) - {"match", "kind", "command", "restore_command", "timeout_seconds"}
        )
        if extra:
            raise ConfigurationError(f"{key}.{extra[0]}: unknown option for kind command")
        for option in ("command", "restore_command"):
            argv = spec.get(option)
            if option == "restore_command" and argv is None:
                continue
            if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
                raise ConfigurationError(
                    f"{key}.{option}: expected a non-empty list of strings",
                    hint='e.g. command: ["./scripts/stripe-roll.sh"]',
                )
        timeout = spec.get("timeout_seconds", 60)
        if not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigurationError(f"{key}.timeout_seconds: must be a positive number")
        return CommandRotator(spec["command"], spec.get("restore_command"), float(timeout))
    raise ConfigurationError(
        f"{key}.kind: unknown rotator kind {kind!r}",
        hint="built-in rotators: postgres, command (Python: register_rotator)",
    )
