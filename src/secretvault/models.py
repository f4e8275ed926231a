"""Enums and pydantic models shared by every layer (SPEC "API Reference").

Nothing here touches storage, crypto or the network, so the scanner and the
vault can both depend on it without depending on each other.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator


def utcnow() -> datetime:
    """Timezone-aware now; every timestamp the project stores is UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Treat naive datetimes (SPEC examples use ``datetime.now()``) as local time, return UTC."""
    if value is None or value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        value = value.astimezone()
    return value.astimezone(UTC)


def secret_id_for(name: str) -> str:
    """Secret ID = SHA-256 hex of the name (SPEC ``store_secret`` Returns)."""
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
        """SPEC "Secret Types Supported" table, column Auto-Rotation."""
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
    """Severity of a scan finding (SPEC pattern table)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Higher is worse; used by ``--fail-on`` and sorting."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


class Model(BaseModel):
    """Base of every model here. ``defer_build``: a schema is built on first use, not at import,
    so a CLI command pays only for the models it touches (import time is a CLI latency target)."""

    model_config = ConfigDict(defer_build=True)


class SecretMetadata(Model):
    """Metadata associated with a secret (never contains the value)."""

    model_config = ConfigDict(validate_assignment=True, defer_build=True)

    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None
    rotation_days: int = Field(default=90, ge=1, le=365)
    last_rotated: datetime | None = None
    version: int = Field(default=1, ge=1)
    created_by: str = "system"
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    service: str | None = None
    environment: str = "development"

    @field_validator("created_at", "updated_at", "expires_at", "last_rotated")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return as_utc(value)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def days_remaining(self) -> int | None:
        """Whole days until ``expires_at`` (negative once past); None when it never expires."""
        if self.expires_at is None:
            return None
        return (self.expires_at - utcnow()).days

    @property
    def rotation_due_at(self) -> datetime:
        """When the rotation interval, counted from the last rotation or creation, ends."""
        from datetime import timedelta

        return (self.last_rotated or self.created_at) + timedelta(days=self.rotation_days)


class SecretRecord(Model):
    """A secret record stored in the vault: ciphertext and metadata, never plaintext."""

    id: str
    name: str
    secret_type: SecretType
    status: SecretStatus = SecretStatus.ACTIVE
    encrypted_value: bytes = Field(default=b"", repr=False)
    nonce: bytes = Field(default=b"", repr=False)
    salt: bytes = Field(default=b"", repr=False)
    metadata: SecretMetadata = Field(default_factory=SecretMetadata)
    backend: BackendType = BackendType.LOCAL
    key_id: str = ""
    deleted_at: datetime | None = None
    purge_after: datetime | None = None

    @property
    def is_expired(self) -> bool:
        """True once ``expires_at`` has passed, whatever the stored status says."""
        exp = self.metadata.expires_at
        return self.status == SecretStatus.EXPIRED or (exp is not None and exp <= utcnow())


class SecretVersionInfo(Model):
    """One immutable version of a secret, as ``history`` lists it (no value)."""

    version: int
    created_at: datetime
    created_by: str
    stage: str = ""
    key_id: str = ""


class RotationResult(Model):
    """Outcome of ``rotate_secret``: what changed, whether it was verified or rolled back."""

    secret_name: str
    success: bool
    old_version: int | None = None
    new_version: int | None = None
    verified: bool = False
    rolled_back: bool = False
    error: str | None = None
    rotated_at: datetime = Field(default_factory=utcnow)


class AccessLogEntry(Model):
    """One audit entry: who did what to which secret, and whether it was allowed."""

    seq: int = 0
    timestamp: datetime = Field(default_factory=utcnow)
    user: str = "system"
    action: str
    secret_id: str | None = None
    secret_name: str | None = None
    source_ip: str | None = None
    success: bool = True
    reason: str | None = None
    prev_hash: str = ""
    entry_hash: str = ""


class AccessLog(Model):
    """The audit trail of one secret (``get_access_log``)."""

    secret_name: str
    total_accesses: int
    failed_accesses: int
    entries: list[AccessLogEntry]


class SecretFinding(Model):
    """One hardcoded secret found by the scanner. Identity = file + fingerprint + type."""

    file_path: str
    line_number: int
    column: int = 1
    end_column: int | None = None
    secret_type: SecretType
    severity: Severity
    confidence: float = Field(ge=0.0, le=1.0)
    rule_id: str
    description: str = ""
    match: str = Field(default="", description="redacted match, never the raw secret")
    fingerprint: str = ""
    commit: str | None = None
    author: str | None = None
    date: datetime | None = None
    known_secret: str | None = Field(
        default=None, description="name of the vault secret whose value this is"
    )


class SecretScanReport(Model):
    """Result of a scan: counts by severity and the findings."""

    repository_path: str
    files_scanned: int = 0
    bytes_scanned: int = 0
    findings: list[SecretFinding] = Field(default_factory=list)
    scanned_at: datetime = Field(default_factory=utcnow)
    duration_seconds: float = 0.0
    engine: str = ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_findings(self) -> int:
        """Number of findings."""
        return len(self.findings)

    def _count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def critical_count(self) -> int:
        """Findings of CRITICAL severity."""
        return self._count(Severity.CRITICAL)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def high_count(self) -> int:
        """Findings of HIGH severity."""
        return self._count(Severity.HIGH)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def medium_count(self) -> int:
        """Findings of MEDIUM severity."""
        return self._count(Severity.MEDIUM)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def low_count(self) -> int:
        """Findings of LOW severity."""
        return self._count(Severity.LOW)
