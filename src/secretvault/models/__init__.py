"""Enums and pydantic models shared by every layer (the guide's "API Reference").

Nothing here touches storage, crypto or the network, so the scanner and the vault can both
depend on it without depending on each other. The enums and helpers live in this module and
import nothing heavy; the pydantic models live in ``secret``, ``audit`` and ``scan`` and load on
first use (PEP 562), so the CLI's hot ``get`` path and the scanner pay only for what they touch.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from secretvault._lazy import lazy_exports


def utcnow() -> datetime:
    """Timezone-aware now; every timestamp the project stores is UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Treat naive datetimes (the guide's examples use ``datetime.now()``) as local time;
    return UTC."""
    if value is None or value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        value = value.astimezone()
    return value.astimezone(UTC)


def secret_id_for(name: str) -> str:
    """Secret ID = SHA-256 hex of the name (the guide ``store_secret`` Returns)."""
    return hashlib.sha256(name.encode("utf-8")).hexdigest()


class SecretType(StrEnum):
    """Types of secrets supported by the vault."""

    API_KEY = "api_key"
    DATABASE_PASSWORD = "database_password"
    SSH_KEY = "ssh_key"
    TLS_CERTIFICATE = "tls_certificate"
    OAUTH_TOKEN = "oauth_token"
    JWT_TOKEN = "jwt_token"
    ENVIRONMENT_VARIABLE = "environment_variable"
    SERVICE_ACCOUNT_KEY = "service_account_key"
    WEBHOOK_SECRET = "webhook_secret"
    ENCRYPTION_KEY = "encryption_key"

    @property
    def auto_rotatable(self) -> bool:
        """The guide's "Secret Types Supported" table, column Auto-Rotation."""
        return self not in _NOT_AUTO_ROTATABLE


_NOT_AUTO_ROTATABLE = frozenset(
    {
        SecretType.SSH_KEY,
        SecretType.TLS_CERTIFICATE,
        SecretType.SERVICE_ACCOUNT_KEY,
        SecretType.ENCRYPTION_KEY,
    }
)


class SecretStatus(StrEnum):
    """Status of a secret in the vault."""

    ACTIVE = "active"
    ROTATING = "rotating"
    EXPIRED = "expired"
    REVOKED = "revoked"
    PENDING_DELETION = "pending_deletion"


class InjectionType(StrEnum):
    """Methods for injecting secrets into applications."""

    ENV_VAR = "env_var"
    FILE_MOUNT = "file_mount"
    DYNAMIC_UPDATE = "dynamic_update"
    TEMPLATE_REFERENCE = "template_reference"


class BackendType(StrEnum):
    """Secret storage backend providers."""

    LOCAL = "local"
    VAULT = "vault"
    AWS_SECRETS_MANAGER = "aws_secrets_manager"
    AZURE_KEY_VAULT = "azure_key_vault"
    POSTGRES = "postgres"


class AccessLevel(StrEnum):
    """Permissions RBAC grants; a role is a set of these."""

    READ = "read"
    WRITE = "write"
    DELETE = "delete"
    ADMIN = "admin"


class Severity(StrEnum):
    """Severity of a scan finding (the guide pattern table)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Higher is worse; used by ``--fail-on`` and sorting."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


__all__ = [
    "AccessLevel",
    "AccessLog",
    "AccessLogEntry",
    "BackendType",
    "InjectionType",
    "Model",
    "RotationResult",
    "SecretFinding",
    "SecretMetadata",
    "SecretRecord",
    "SecretScanReport",
    "SecretStatus",
    "SecretType",
    "SecretVersionInfo",
    "Severity",
    "as_utc",
    "secret_id_for",
    "utcnow",
]

_LAZY = {
    "Model": "base",
    "SecretMetadata": "secret",
    "SecretRecord": "secret",
    "SecretVersionInfo": "secret",
    "RotationResult": "secret",
    "AccessLogEntry": "audit",
    "AccessLog": "audit",
    "SecretFinding": "scan",
    "SecretScanReport": "scan",
}


__getattr__ = lazy_exports("secretvault.models", _LAZY, globals())


if TYPE_CHECKING:  # pragma: no cover
    from secretvault.models.audit import AccessLog, AccessLogEntry
    from secretvault.models.base import Model
    from secretvault.models.scan import SecretFinding, SecretScanReport
    from secretvault.models.secret import (
        RotationResult,
        SecretMetadata,
        SecretRecord,
        SecretVersionInfo,
    )
