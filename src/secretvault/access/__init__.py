"""Role-based access control (docs/architecture.md, "The parts of the facade")."""

from secretvault.access.rbac import DEFAULT_ROLES, Grant, Policy

__all__ = ["DEFAULT_ROLES", "Grant", "Policy"]
