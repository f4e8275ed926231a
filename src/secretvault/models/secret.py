"""A secret's record, metadata and versions, and rotation outcomes."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import ConfigDict, Field, computed_field, field_validator

from secretvault.models import (
    BackendType,
    SecretStatus,
    SecretType,
    as_utc,
    utcnow,
)
from secretvault.models.base import Model


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
    """Outcome of ``rotate_secret``: what changed, whether it was verified or rolled back.

    ``step`` is the last step reached (create, check, apply, verify, promote; docs/rotation.md)
    and ``failed_step`` the one that failed; ``rotator`` names the kind that applied the value to
    its target (None: only the stored value changed; ``target_untouched`` flags that for a
    credential another system checks); ``restored`` says, after a failure past
    apply, whether the previous credential was put back on the target."""

    secret_name: str
    success: bool
    old_version: int | None = None
    new_version: int | None = None
    verified: bool = False
    rolled_back: bool = False
    error: str | None = None
    rotated_at: datetime = Field(default_factory=utcnow)
    step: str | None = None
    failed_step: str | None = None
    rotator: str | None = None
    restored: bool | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)
    #: The secret names an external credential but no rotator told its target (store only).
    target_untouched: bool = False
