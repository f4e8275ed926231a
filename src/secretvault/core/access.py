"""``AccessControl``: RBAC decisions for the facade, over the grants the control store keeps.

The policy (roles and grants, ``secretvault.access.rbac``) is loaded from the control store and
kept until the store's control generation changes — another process granting or revoking is
seen on the next operation. With ``rbac_enabled: false`` (the default) every check passes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from secretvault.access.rbac import DEFAULT_ROLES, Grant, Policy
from secretvault.errors import AuthorizationError
from secretvault.models import AccessLevel, SecretRecord

if TYPE_CHECKING:
    from secretvault.backends.base import ControlSession, ControlStore


class AccessControl:
    """Deny-by-default RBAC checks of one vault."""

    __slots__ = ("_generation", "_policy", "control", "enabled")

    def __init__(self, control: ControlStore, *, enabled: bool) -> None:
        self.control = control
        self.enabled = enabled
        self._policy: Policy | None = None
        self._generation = -1

    def invalidate(self) -> None:
        """Forget the loaded policy (after a restore replaced the grants)."""
        self._policy = None

    async def policy(self, ctl: ControlSession | None = None) -> Policy:
        """The policy in force; read through ``ctl`` when a unit is open, else in a
        transaction of its own."""
        generation = await self.control.control_generation()
        if self._policy is not None and generation == self._generation:
            return self._policy
        if ctl is None:
            async with self.control.transaction() as own:
                policy = await _load(own)
        else:
            policy = await _load(ctl)
        self._policy, self._generation = policy, generation
        return policy

    async def authorize(
        self, ctl: ControlSession, user: str, level: AccessLevel, record: SecretRecord
    ) -> None:
        """Raise ``AuthorizationError`` unless ``user`` holds ``level`` on ``record``."""
        if not self.enabled:
            return
        if not (await self.policy(ctl)).allows(user, level, record):
            raise AuthorizationError(
                f"{user!r} may not {level.value} secret {record.name!r}",
                hint="ask an admin: `secretvault access grant USER ROLE --scope NAME`",
            )

    async def authorize_admin(self, user: str) -> None:
        """Raise ``AuthorizationError`` unless ``user`` administers something (or no admin
        grant exists yet: the first admin is set up through the CLI as anyone)."""
        if not self.enabled:
            return
        policy = await self.policy()
        if policy.has_admin and not policy.is_admin_anywhere(user):
            raise AuthorizationError(
                f"{user!r} is not an administrator", hint="an admin grant on name:* is required"
            )

    async def readable(
        self, ctl: ControlSession, user: str, records: list[SecretRecord]
    ) -> list[SecretRecord]:
        """The records ``user`` may read."""
        if not self.enabled:
            return records
        policy = await self.policy(ctl)
        return [r for r in records if policy.allows(user, AccessLevel.READ, r)]


async def _load(ctl: ControlSession) -> Policy:
    roles = dict(DEFAULT_ROLES)
    for name, levels in await ctl.roles():
        roles[name] = frozenset(AccessLevel(x) for x in json.loads(levels))
    return Policy([Grant(*row) for row in await ctl.grants()], roles)
