"""secretvault: secrets management for Python services.

Everything the guide imports from ``mahavishnu.integrations.secrets_management`` is importable
from here under the same name (docs/architecture.md says what the guide is). Attributes load
lazily (PEP 562) so ``import secretvault`` and the CLI start fast; ``from secretvault import
SecretVault`` works as usual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from secretvault._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "models": (
        "AccessLevel",
        "AccessLog",
        "AccessLogEntry",
        "BackendType",
        "InjectionType",
        "RotationResult",
        "SecretFinding",
        "SecretMetadata",
        "SecretRecord",
        "SecretScanReport",
        "SecretStatus",
        "SecretType",
        "SecretVersionInfo",
        "Severity",
    ),
    "errors": (
        "AuditError",
        "AuthorizationError",
        "BackendUnavailableError",
        "ConfigurationError",
        "InjectionError",
        "InvalidArgumentError",
        "InvalidSecretNameError",
        "InvalidSecretValueError",
        "MasterKeyError",
        "MasterKeyMismatchError",
        "RotationError",
        "ScanError",
        "SecretAlreadyExistsError",
        "SecretDecryptionError",
        "SecretEncryptionError",
        "SecretExpiredError",
        "SecretNotFoundError",
        "SecretPendingDeletionError",
        "SecretRevokedError",
        "SecretVaultError",
    ),
    "config": (
        "EnvSecretsSource",
        "RotationConfig",
        "ScanningConfig",
        "SecretsConfig",
        "StorageConfig",
        "load_config",
    ),
    "vault": ("SecretVault", "create_vault"),
    "injection.settings_source": ("ConfigWithSecrets", "SecretVaultSettingsSource"),
    "injection.reload": ("Subscription",),
    "access.rbac": ("DEFAULT_ROLES",),
    "scanning": ("SECRET_PATTERNS",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


__getattr__ = lazy_exports("secretvault", _WHERE, globals())


if TYPE_CHECKING:  # pragma: no cover
    from secretvault.config import SecretsConfig as SecretsConfig
    from secretvault.models import SecretType as SecretType
    from secretvault.vault import SecretVault as SecretVault
    from secretvault.vault import create_vault as create_vault
