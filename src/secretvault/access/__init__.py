"""Role-based access control (DESIGN "Audit and access")."""

from secretvault.access.rbac import DEFAULT_ROLES, Grant, Policy

__all__ = ["DEFAULT_ROLES", "Grant", "Policy"]
