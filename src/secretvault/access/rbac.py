"""RBAC: roles are sets of AccessLevel; grants bind a principal to a role on a scope.

A scope is a name glob (``name:prod-*``), a tag (``tag:payments``) or a service
(``service:openai``). The principal ``*`` means everyone. A grant may name an AccessLevel instead
of a role (``read``), and a grant made without either gets ``default_access_level``. When RBAC is
enabled, anything not granted is denied. ADMIN implies every other level.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from secretvault.models import AccessLevel, SecretRecord

# The guide's "Role-Based Access Control (RBAC)" ROLE_PERMISSIONS.
DEFAULT_ROLES: dict[str, frozenset[AccessLevel]] = {
    "admin": frozenset(
        {AccessLevel.READ, AccessLevel.WRITE, AccessLevel.DELETE, AccessLevel.ADMIN}
    ),
    "developer": frozenset({AccessLevel.READ, AccessLevel.WRITE}),
    "operator": frozenset({AccessLevel.READ}),
    "auditor": frozenset({AccessLevel.READ}),
}
SCOPE_TYPES = ("name", "tag", "service")


@dataclass(frozen=True, slots=True)
class Grant:
    """``principal`` may do what ``role`` allows on secrets matching ``scope_type:pattern``."""

    principal: str
    role: str
    scope_type: str = "name"
    pattern: str = "*"

    def matches(self, record: SecretRecord) -> bool:
        """Does this grant's scope cover ``record``?"""
        if self.scope_type == "name":
            return fnmatchcase(record.name, self.pattern)
        if self.scope_type == "tag":
            return self.pattern in record.metadata.tags
        return record.metadata.service == self.pattern

    @property
    def scope(self) -> str:
        """``type:pattern`` as users write it."""
        return f"{self.scope_type}:{self.pattern}"


def parse_scope(text: str) -> tuple[str, str]:
    """``prod-*`` → ("name", "prod-*"); ``tag:payments`` → ("tag", "payments")."""
    kind, sep, pattern = text.partition(":")
    if sep and kind in SCOPE_TYPES:
        return kind, pattern
    return "name", text


@dataclass(slots=True)
class Policy:
    """The grants and roles in force, evaluated in memory (reloaded when they change)."""

    grants: list[Grant]
    roles: dict[str, frozenset[AccessLevel]]

    def levels(self, role: str) -> frozenset[AccessLevel]:
        """Levels of a role name, or of a bare AccessLevel used as a role."""
        if role in self.roles:
            return self.roles[role]
        try:
            return frozenset({AccessLevel(role)})
        except ValueError:
            return frozenset()

    def allows(self, user: str, level: AccessLevel, record: SecretRecord) -> bool:
        """True when some grant for ``user`` (or ``*``) covers ``record`` at ``level``."""
        for grant in self.grants:
            if grant.principal not in (user, "*"):
                continue
            levels = self.levels(grant.role)
            if (level in levels or AccessLevel.ADMIN in levels) and grant.matches(record):
                return True
        return False

    def is_admin_anywhere(self, user: str) -> bool:
        """True when ``user`` holds ADMIN through a grant on every name (``name:*``)."""
        return any(
            g.principal in (user, "*")
            and AccessLevel.ADMIN in self.levels(g.role)
            and g.scope_type == "name"
            and g.pattern == "*"
            for g in self.grants
        )

    @property
    def has_admin(self) -> bool:
        """Whether anyone holds global ADMIN yet (before that, the first grant bootstraps)."""
        return any(
            AccessLevel.ADMIN in self.levels(g.role) and g.scope == "name:*" for g in self.grants
        )
