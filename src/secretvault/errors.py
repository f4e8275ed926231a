"""Exception hierarchy. Every error the user can meet derives from ``SecretVaultError``.

Messages say what went wrong and what to do; they never contain a secret value.
``exit_code`` is what the CLI exits with (documented in the README).
"""

from __future__ import annotations


class SecretVaultError(Exception):
    """Base class of every secretvault error."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} — {self.hint}" if self.hint else base


class ConfigurationError(SecretVaultError):
    """Settings are invalid or inconsistent (bad YAML, unknown backend, bad path)."""

    exit_code = 3


class InvalidSecretNameError(SecretVaultError, ValueError):
    """Name is empty, too long, or has characters outside letters, digits, ``-``, ``_``, ``.``."""

    exit_code = 2


class InvalidArgumentError(SecretVaultError, ValueError):
    """An argument is out of range or of the wrong kind (rotation_days, secret type, dates)."""

    exit_code = 2


class InvalidSecretValueError(SecretVaultError, ValueError):
    """The value is empty, not text, or larger than the limit."""

    exit_code = 2


class SecretNotFoundError(SecretVaultError, KeyError):
    """No secret (or no such version) by that name."""

    exit_code = 4

    def __str__(self) -> str:  # KeyError would quote the message
        return SecretVaultError.__str__(self)


class SecretAlreadyExistsError(SecretVaultError):
    """``store_secret`` on a name that exists (use ``update_secret``)."""

    exit_code = 5


class AuthorizationError(SecretVaultError, PermissionError):
    """RBAC denied the operation (the denial is audited)."""

    exit_code = 6


class SecretExpiredError(SecretVaultError):
    """The secret is past ``expires_at``; reads are denied until it is updated or rotated."""

    exit_code = 7


class SecretRevokedError(SecretVaultError):
    """The secret was revoked; reads are denied."""

    exit_code = 7


class SecretPendingDeletionError(SecretVaultError):
    """The secret is soft-deleted; ``restore`` it within the recovery window to use it."""

    exit_code = 7


class SecretEncryptionError(SecretVaultError):
    """Encrypting a value failed."""

    exit_code = 8


class SecretDecryptionError(SecretVaultError):
    """Ciphertext did not authenticate: wrong master key, or data altered/corrupted."""

    exit_code = 8


class MasterKeyError(SecretVaultError):
    """The master key is missing, malformed, too widely readable, or not the one the data uses."""

    exit_code = 9


class MasterKeyMismatchError(MasterKeyError, SecretDecryptionError):
    """The master key loaded is not the one the vault's data is encrypted under.

    It is a ``MasterKeyError`` (exit code 9, the message names both key ids) and also a
    ``SecretDecryptionError``, because the guide documents a changed master key as "Failed to
    decrypt secret" and tells code to catch ``SecretDecryptionError`` for it."""


class BackendUnavailableError(SecretVaultError):
    """The store cannot be reached or opened (dead server, unreadable or corrupt file)."""

    exit_code = 10


class VersionConflictError(SecretVaultError):
    """A compare-and-set write lost: another writer changed the secret since it was read."""

    exit_code = 14


class AuditError(SecretVaultError):
    """The audit trail could not be written or does not verify."""

    exit_code = 11


class RotationError(SecretVaultError):
    """A rotation could not be started (rotation outcomes are reported in RotationResult)."""

    exit_code = 12


class InjectionError(SecretVaultError):
    """A secret could not be injected (bad template, target, path or permissions)."""

    exit_code = 13


class ScanError(SecretVaultError):
    """A scan could not run (bad path, bad baseline, git failure). Exit code 2 as scanners use."""

    exit_code = 2
