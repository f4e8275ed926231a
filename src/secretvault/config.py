"""``SecretsConfig`` (the guide's "Configuration Schema") and its layered loading.

Layers, highest first (the guide's "Oneiric Layer System"):

1. environment: ``{APP}_SECRETS_MANAGEMENT__FIELD`` (nested with ``__``)
2. ``settings/local.yaml`` (gitignored)
3. ``settings/{app}.yaml`` (committed)
4. model defaults

Each layer is its own pydantic-settings source class (``settings_sources.py``); the order lives
in one place, ``AppSettings.settings_customise_sources``. When no layer is present the
defaults are used directly. ``${VAR}`` / ``${VAR:-default}`` in YAML expand from
the environment; an unset variable with no default drops the key so the lower layer applies.
The separate ``{APP}_SECRETS__{NAME}`` environment layer holds plain secrets and is read by
``EnvSecretsSource`` as a fallback (the guide's "Accessing Secrets via Oneiric").

The pieces that need no pydantic (layer discovery, ``${VAR}`` expansion, section folding)
live in ``settings_layers.py``, with the lean loader the CLI's fast ``get`` uses.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from secretvault.errors import ConfigurationError
from secretvault.models import AccessLevel, BackendType
from secretvault.settings_layers import (
    DEFAULT_APP,
    DEFAULT_SCAN_PATTERNS,
    ROTATION_FIELDS,
    SCANNING_FIELDS,
    env_prefix,
    expand_env,
    fold_sections,
    layers_present,
)

__all__ = [
    "DEFAULT_APP",
    "DEFAULT_SCAN_PATTERNS",
    "EnvSecretsSource",
    "RotationConfig",
    "ScanningConfig",
    "SecretsConfig",
    "StorageConfig",
    "describe_validation_error",
    "expand_env",
    "fold_sections",
    "layers_in_effect",
    "load_config",
]


class RotationConfig(BaseModel):
    """Automatic rotation settings (the nested ``rotation:`` YAML section)."""

    enabled: bool = True
    rotation_days: int = Field(default=90, ge=1, le=365)
    rotate_before_expiry_days: int = Field(default=7, ge=0)
    verify_after_rotation: bool = True
    rollback_on_failure: bool = True
    # Rotators, verifiers, value policies and scheduling (docs/rotation.md); the entries are
    # checked, with the offending key named, by ``secretvault.rotation.matching.load_rules``.
    rotators: list[dict[str, Any]] = Field(default_factory=list)
    verifiers: list[dict[str, Any]] = Field(default_factory=list)
    policies: dict[str, dict[str, Any]] = Field(default_factory=dict)
    scheduler_interval_seconds: int = Field(default=3600, ge=1)
    expiry_warning_days: int = Field(default=14, ge=0)
    webhook_url: str | None = None


class ScanningConfig(BaseModel):
    """Scanner settings (the nested ``scanning:`` YAML section)."""

    enabled: bool = True
    scan_on_write: bool = True
    scan_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_SCAN_PATTERNS))


class StorageConfig(BaseModel):
    """Alternative master-key sources (``…__STORAGE__ENCRYPTION_KEY`` in the guide).

    ``encryption_key`` is the base64 of 32 bytes; ``passphrase`` derives the key with Argon2id.
    Either replaces the key file when set.
    """

    encryption_key: str | None = Field(default=None, repr=False)
    passphrase: str | None = Field(default=None, repr=False)


class SecretsConfig(BaseModel):
    """Configuration for the secrets management system (the guide's fields and defaults)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    enabled: bool = True

    # Master encryption
    master_key_path: str = "data/secrets/master.key"

    # Storage backend selection
    default_backend: BackendType = BackendType.LOCAL
    storage_path: str = "data/secrets/vault.db"

    # Vault configuration
    vault_addr: str | None = None
    vault_token: str | None = Field(default=None, repr=False)
    vault_mount: str = "secret"
    # Vault auth beyond a token (docs/backends.md): AppRole (else VAULT_ROLE_ID/VAULT_SECRET_ID)
    # or Kubernetes (role + service-account JWT). None picks: token, AppRole, Kubernetes.
    vault_auth_method: str | None = Field(default=None, pattern="^(token|approle|kubernetes)$")
    vault_role_id: str | None = None
    vault_secret_id: str | None = Field(default=None, repr=False)
    vault_approle_mount: str = "approle"
    vault_kubernetes_role: str | None = None
    vault_kubernetes_jwt_path: str = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    vault_kubernetes_mount: str = "kubernetes"
    # Vault TLS: a CA bundle to trust, verification on/off (never off in production), and a
    # client certificate for mutual TLS.
    vault_ca_cert: str | None = None
    vault_tls_verify: bool = True
    vault_client_cert: str | None = None
    vault_client_key: str | None = Field(default=None, repr=False)

    # PostgreSQL (default_backend: postgres): one database shared by many hosts
    postgres_dsn: str | None = Field(default=None, repr=False)
    postgres_schema: str = "secretvault"
    postgres_pool_size: int = Field(default=10, ge=1)
    # rows of secrets this process read (ciphertext and metadata, never a value), so a repeat
    # read is one round trip, checked at commit; 0: every read asks the database first
    postgres_row_cache: int = Field(default=4096, ge=0)

    # AWS Secrets Manager
    aws_region: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = Field(default=None, repr=False)
    aws_session_token: str | None = Field(default=None, repr=False)
    aws_endpoint_url: str | None = None  # else AWS_ENDPOINT_URL, else the AWS default
    aws_secret_prefix: str = "mahavishnu/"  # secret `name` is AWS `<prefix><name>`

    # Server-backed stores (vault, aws): store our envelope instead of the plain value, so the
    # server never sees plaintext (docs/backends.md, "Client-side encryption").
    client_side_encryption: bool = False
    # Per-request timeout and bounded retries (with backoff) of transient failures.
    backend_timeout_seconds: float = Field(default=5.0, gt=0)
    backend_retries: int = Field(default=2, ge=0, le=10)

    # Azure Key Vault
    azure_vault_url: str | None = None
    azure_tenant_id: str | None = None
    azure_client_id: str | None = None
    azure_client_secret: str | None = Field(default=None, repr=False)
    # Passed through to the Azure SDK (docs/backends-azure.md): SecretClient keyword arguments
    # (connection_verify, verify_challenge_resource, api_version, retry_total, …) and credential
    # keyword arguments (authority, disable_instance_discovery, connection_verify, …).
    azure_client_options: dict[str, Any] = Field(default_factory=dict)
    azure_credential_options: dict[str, Any] = Field(default_factory=dict, repr=False)

    # Rotation
    rotation_enabled: bool = True
    rotation_days: int = Field(default=90, ge=1, le=365)
    rotate_before_expiry_days: int = Field(default=7, ge=0)
    verify_after_rotation: bool = True
    rollback_on_failure: bool = True
    rotators: list[dict[str, Any]] = Field(default_factory=list)
    rotation_verifiers: list[dict[str, Any]] = Field(default_factory=list)
    rotation_policies: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rotation_scheduler_interval_seconds: int = Field(default=3600, ge=1)
    rotation_expiry_warning_days: int = Field(default=14, ge=0)
    rotation_webhook_url: str | None = None

    # Scanning
    scan_enabled: bool = True
    scan_on_write: bool = True
    scan_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_SCAN_PATTERNS))

    # Access logging
    access_log_enabled: bool = True
    access_log_retention_days: int = Field(default=90, ge=1)

    # RBAC
    rbac_enabled: bool = False
    default_access_level: AccessLevel = AccessLevel.READ

    # Nested views of the flat fields (the guide's YAML and Data Models sections)
    rotation: RotationConfig = Field(default_factory=RotationConfig)
    scanning: ScanningConfig = Field(default_factory=ScanningConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)

    # Performance tuning (the guide's "Performance Tuning")
    cache_enabled: bool = False
    cache_ttl_seconds: int = Field(default=300, ge=0)
    vault_max_connections: int = Field(default=10, ge=1)

    # Where a store without a control role of its own (Vault, AWS, Azure) keeps the audit
    # trail, grants and key ring: local (the SQLite file at storage_path) or postgres (shared)
    audit_backend: BackendType = BackendType.LOCAL

    # Named backends for `secretvault sync`/`drift`: name -> settings overriding these
    backends: dict[str, dict[str, Any]] = Field(default_factory=dict)

    # Lifecycle and storage details (docs/architecture.md, "Lifecycle and versions")
    environment: str = "development"
    max_versions: int = Field(default=10, ge=0, description="0 keeps every version")
    recovery_window_days: int = Field(default=30, ge=0)
    backup_retention: int = Field(default=10, ge=1)
    busy_timeout_ms: int = Field(default=15000, ge=0)
    durability: str = Field(default="normal", pattern="^(normal|full)$")

    @model_validator(mode="before")
    @classmethod
    def _fold_sections(cls, data: Any) -> Any:
        return fold_sections(data)

    @model_validator(mode="after")
    def _build_views(self) -> SecretsConfig:
        self.rotation = RotationConfig(
            **{inner: getattr(self, flat) for flat, inner in ROTATION_FIELDS.items()}
        )
        self.scanning = ScanningConfig(
            **{inner: getattr(self, flat) for flat, inner in SCANNING_FIELDS.items()}
        )
        return self


def load_config(
    app: str = DEFAULT_APP,
    settings_dir: str | Path = "settings",
    **overrides: Any,
) -> SecretsConfig:
    """Load ``SecretsConfig`` through every layer; ``overrides`` win over all of them."""
    if not layers_present(app, Path(settings_dir)):
        # Nothing to merge: the result is exactly the defaults plus overrides. Skipping the
        # settings machinery keeps short CLI commands fast (importing it costs ~30 ms).
        try:
            return SecretsConfig(**overrides)
        except ValidationError as exc:
            raise ConfigurationError(describe_validation_error(exc, f"settings ({app})")) from None
    from secretvault.settings_sources import settings_class

    cls = settings_class(app, str(settings_dir))
    init: dict[str, Any] = {"secrets_management": overrides} if overrides else {}
    try:
        config: SecretsConfig = cls(**init).secrets_management
        return config
    except ValidationError as exc:
        raise ConfigurationError(describe_validation_error(exc, f"settings ({app})")) from None


def describe_validation_error(exc: ValidationError, what: str) -> str:
    """One line per bad field, without echoing the input (it may be a token)."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}")
    return f"invalid {what}: " + "; ".join(parts)


def layers_in_effect(app: str = DEFAULT_APP, settings_dir: str | Path = "settings") -> list[str]:
    """Human-readable list of the layers that contribute, for ``secretvault doctor``."""
    folder = Path(settings_dir)
    prefix = env_prefix(app)
    env = sorted(k for k in os.environ if k.upper().startswith(prefix))
    layers = [f"environment: {', '.join(env)}" if env else "environment: (none)"]
    for name in ("local.yaml", f"{app}.yaml"):
        path = folder / name
        layers.append(f"{path}: {'present' if path.is_file() else 'absent'}")
    layers.append("defaults")
    return layers


class EnvSecretsSource:
    """Plain secrets from ``{APP}_SECRETS__{NAME}``: the fallback layer for names not in a vault.

    The name maps to the variable by upper-casing and turning ``-`` and ``.`` into ``_``, so
    ``openai-api-key`` reads ``MAHAVISHNU_SECRETS__OPENAI_API_KEY``.
    """

    def __init__(self, app: str = DEFAULT_APP) -> None:
        self.prefix = f"{app.upper()}_SECRETS__"

    def variable_for(self, name: str) -> str:
        """The environment variable that holds ``name``."""
        return self.prefix + re.sub(r"[-.]", "_", name).upper()

    def get(self, name: str) -> str | None:
        """The value, or None when the variable is unset."""
        return os.environ.get(self.variable_for(name))
