"""Models and enums match the guide's "API Reference"; SecretsConfig and its layered loading."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from secretvault import (
    AccessLevel,
    BackendType,
    ConfigurationError,
    EnvSecretsSource,
    InjectionType,
    RotationConfig,
    SecretMetadata,
    SecretRecord,
    SecretsConfig,
    SecretStatus,
    SecretType,
    create_vault,
    load_config,
)

# -- enums -------------------------------------------------------------------------------------

SPEC_SECRET_TYPES = [
    "API_KEY",
    "DATABASE_PASSWORD",
    "SSH_KEY",
    "TLS_CERTIFICATE",
    "OAUTH_TOKEN",
    "JWT_TOKEN",
    "ENVIRONMENT_VARIABLE",
    "SERVICE_ACCOUNT_KEY",
    "WEBHOOK_SECRET",
    "ENCRYPTION_KEY",
]
SPEC_STATUSES = ["ACTIVE", "ROTATING", "EXPIRED", "REVOKED", "PENDING_DELETION"]
SPEC_INJECTION = ["ENV_VAR", "FILE_MOUNT", "DYNAMIC_UPDATE", "TEMPLATE_REFERENCE"]
SPEC_BACKENDS = ["LOCAL", "VAULT", "AWS_SECRETS_MANAGER", "AZURE_KEY_VAULT"]


@pytest.mark.parametrize(
    ("enum", "names"),
    [
        (SecretType, SPEC_SECRET_TYPES),
        (SecretStatus, SPEC_STATUSES),
        (InjectionType, SPEC_INJECTION),
        (BackendType, SPEC_BACKENDS),
    ],
)
def test_spec_enum_members_exist(enum: type, names: list[str]) -> None:
    assert set(names) <= set(enum.__members__)
    # Values are the lower-case member names (the guide's YAML says
    # `default_backend: aws_secrets_manager`, update_metadata uses status="pending_deletion").
    for n in names:
        assert enum[n].value == n.lower()
        assert enum(n.lower()) is enum[n]


def test_spec_yaml_backend_strings_parse() -> None:
    for text in ("local", "vault", "aws_secrets_manager", "azure_key_vault"):
        assert SecretsConfig(default_backend=text).default_backend == BackendType(text)


def test_secret_type_auto_rotation_column() -> None:
    no = {"SSH_KEY", "TLS_CERTIFICATE", "SERVICE_ACCOUNT_KEY", "ENCRYPTION_KEY"}
    for n in SPEC_SECRET_TYPES:
        assert SecretType[n].auto_rotatable is (n not in no), n


def test_access_level_members() -> None:
    assert {m.name for m in AccessLevel} >= {"READ", "WRITE", "DELETE", "ADMIN"}


# -- models ------------------------------------------------------------------------------------


def test_secret_metadata_fields_and_defaults() -> None:
    md = SecretMetadata()
    for field in (
        "created_at",
        "updated_at",
        "expires_at",
        "rotation_days",
        "last_rotated",
        "version",
        "created_by",
        "description",
        "tags",
        "service",
        "environment",
    ):
        assert field in SecretMetadata.model_fields, field
    assert md.expires_at is None
    assert md.last_rotated is None
    assert md.version == 1
    assert md.tags == []
    assert md.service is None
    assert md.description == ""
    assert isinstance(md.environment, str)
    assert md.created_at.tzinfo is not None
    assert abs((md.created_at - datetime.now(UTC)).total_seconds()) < 60


def test_secret_metadata_spec_example() -> None:
    md = SecretMetadata(
        created_by="admin@company.com",
        description="OpenAI API key for GPT-4",
        tags=["openai", "llm"],
        service="openai",
        rotation_days=90,
    )
    assert (md.created_by, md.service, md.rotation_days) == ("admin@company.com", "openai", 90)
    assert md.tags == ["openai", "llm"]


@pytest.mark.parametrize("days", [0, 366, -1])
def test_rotation_days_range_enforced(days: int) -> None:
    with pytest.raises(ValidationError):
        SecretMetadata(rotation_days=days)


@pytest.mark.parametrize("days", [1, 365])
def test_rotation_days_bounds_accepted(days: int) -> None:
    assert SecretMetadata(rotation_days=days).rotation_days == days


def test_secret_record_fields_spec_example() -> None:
    record = SecretRecord(
        id="abc123",
        name="openai-api-key",
        secret_type=SecretType.API_KEY,
        status=SecretStatus.ACTIVE,
        encrypted_value=b"...",
        nonce=b"n",
        salt=b"s",
        metadata=SecretMetadata(created_by="admin@company.com", description="OpenAI API key"),
    )
    for field in (
        "id",
        "name",
        "secret_type",
        "status",
        "encrypted_value",
        "nonce",
        "salt",
        "metadata",
        "backend",
    ):
        assert field in SecretRecord.model_fields, field
    assert record.backend == BackendType.LOCAL
    assert record.metadata.created_by == "admin@company.com"


def test_days_remaining() -> None:
    assert SecretMetadata().days_remaining is None
    soon = datetime.now(UTC) + timedelta(days=10, hours=1)
    assert SecretMetadata(expires_at=soon).days_remaining == 10
    past = datetime.now(UTC) - timedelta(days=2, hours=1)
    assert SecretMetadata(expires_at=past).days_remaining == -3
    # naive datetimes (the guide: datetime.now() + timedelta(days=180)) are taken as local time
    naive = datetime.now() + timedelta(days=180, hours=1)
    assert SecretMetadata(expires_at=naive).days_remaining == 180


# -- SecretsConfig -------------------------------------------------------------------------------

SPEC_DEFAULTS = {
    "master_key_path": "data/secrets/master.key",
    "default_backend": BackendType.LOCAL,
    "storage_path": "data/secrets/vault.db",
    "vault_addr": None,
    "vault_token": None,
    "vault_mount": "secret",
    "aws_region": None,
    "aws_access_key_id": None,
    "aws_secret_access_key": None,
    "azure_vault_url": None,
    "azure_tenant_id": None,
    "azure_client_id": None,
    "azure_client_secret": None,
    "rotation_enabled": True,
    "rotation_days": 90,
    "rotate_before_expiry_days": 7,
    "verify_after_rotation": True,
    "rollback_on_failure": True,
    "scan_on_write": True,
    "scan_patterns": ["*.py", "*.js", "*.ts", "*.yaml", "*.yml", "*.json", "*.env", "*.sh"],
    "access_log_enabled": True,
    "access_log_retention_days": 90,
    "rbac_enabled": False,
    "default_access_level": AccessLevel.READ,
}


def test_secrets_config_defaults_equal_spec_schema() -> None:
    cfg = SecretsConfig()
    for field, expected in SPEC_DEFAULTS.items():
        assert getattr(cfg, field) == expected, field
    assert cfg.enabled is True
    assert isinstance(cfg.rotation, RotationConfig)
    assert cfg.rotation.enabled is True and cfg.rotation.rotation_days == 90


def test_scan_patterns_default_not_shared() -> None:
    a, b = SecretsConfig(), SecretsConfig()
    a.scan_patterns.append("*.toml")
    assert "*.toml" not in b.scan_patterns


def test_nested_sections_fold_into_flat_fields() -> None:
    cfg = SecretsConfig(
        rotation={"enabled": False, "rotation_days": 30, "verify_after_rotation": False},
        scanning={"enabled": False, "scan_on_write": False, "scan_patterns": ["*.go"]},
    )
    assert cfg.rotation_enabled is False
    assert cfg.rotation_days == 30
    assert cfg.verify_after_rotation is False
    assert cfg.rollback_on_failure is True
    assert cfg.scan_on_write is False
    assert cfg.scan_patterns == ["*.go"]
    assert cfg.rotation.rotation_days == 30 and cfg.rotation.enabled is False
    assert cfg.scanning.enabled is False


def test_spec_data_model_example_with_rotation_config() -> None:
    cfg = SecretsConfig(
        enabled=True,
        default_backend=BackendType.VAULT,
        vault_addr="https://vault.example.com:8200",
        vault_mount="mahavishnu",
        rotation=RotationConfig(enabled=True, rotation_days=45),
    )
    assert cfg.rotation_days == 45 and cfg.rotation.rotation_days == 45
    assert cfg.vault_mount == "mahavishnu"


def test_repr_hides_credentials() -> None:
    cfg = SecretsConfig(
        vault_token="s.vaulttoken-XYZZY-1111",
        aws_secret_access_key="awsSECRET-XYZZY-2222",
        azure_client_secret="azureSECRET-XYZZY-3333",
        storage={"encryption_key": "ZW5jcnlwdGlvbi1YWVpaWS00NDQ0", "passphrase": "pp-XYZZY-5555"},
    )
    for text in (repr(cfg), str(cfg)):
        assert "XYZZY" not in text
        assert "ZW5jcnlwdGlvbi1YWVpaWS00NDQ0" not in text
    assert cfg.vault_token == "s.vaulttoken-XYZZY-1111"


# -- layered loading --------------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_when_no_layers(in_tmp: Path) -> None:
    cfg = load_config()
    assert cfg == SecretsConfig()


def test_spec_committed_yaml_loads(in_tmp: Path) -> None:
    _write(
        in_tmp / "settings/mahavishnu.yaml",
        """
        secrets_management:
          enabled: true
          default_backend: local
          master_key_path: /var/lib/mahavishnu/secrets/master.key
          storage_path: /var/lib/mahavishnu/secrets/vault.db

          rotation:
            enabled: false
            rotation_days: 60
            verify_after_rotation: false

          scanning:
            enabled: true
            scan_on_write: false
        """,
    )
    cfg = load_config()
    assert cfg.storage_path == "/var/lib/mahavishnu/secrets/vault.db"
    assert cfg.master_key_path == "/var/lib/mahavishnu/secrets/master.key"
    assert cfg.rotation_enabled is False
    assert cfg.rotation_days == 60
    assert cfg.verify_after_rotation is False
    assert cfg.scan_on_write is False
    assert cfg.scan_enabled is True


def test_precedence_env_over_local_over_committed_over_defaults(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(
        in_tmp / "settings/mahavishnu.yaml",
        """
        secrets_management:
          vault_token: committed
          vault_mount: committed-mount
          vault_addr: https://committed
          rotation_days: 11
        """,
    )
    _write(
        in_tmp / "settings/local.yaml",
        """
        secrets_management:
          vault_token: local
          vault_mount: local-mount
          rotation_days: 22
        """,
    )
    monkeypatch.setenv("MAHAVISHNU_SECRETS_MANAGEMENT__VAULT_TOKEN", "s.1234567890")
    monkeypatch.setenv("MAHAVISHNU_SECRETS_MANAGEMENT__ROTATION_DAYS", "33")
    cfg = load_config()
    assert cfg.vault_token == "s.1234567890"  # env
    assert cfg.rotation_days == 33  # env
    assert cfg.vault_mount == "local-mount"  # local.yaml
    assert cfg.vault_addr == "https://committed"  # mahavishnu.yaml
    assert cfg.aws_region is None  # default
    assert cfg.rotation.rotation_days == 33


def test_overrides_beat_every_layer(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAHAVISHNU_SECRETS_MANAGEMENT__VAULT_MOUNT", "env")
    assert load_config(vault_mount="init").vault_mount == "init"


def test_nested_section_in_higher_layer_beats_flat_field_in_lower(in_tmp: Path) -> None:
    _write(
        in_tmp / "settings/mahavishnu.yaml",
        "secrets_management:\n  rotation_days: 60\n",
    )
    _write(
        in_tmp / "settings/local.yaml",
        "secrets_management:\n  rotation:\n    rotation_days: 30\n",
    )
    assert load_config().rotation_days == 30


def test_nested_env_var_for_rotation_section(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAHAVISHNU_SECRETS_MANAGEMENT__ROTATION__ROTATION_DAYS", "45")
    assert load_config().rotation_days == 45


def test_storage_encryption_key_env(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAHAVISHNU_SECRETS_MANAGEMENT__STORAGE__ENCRYPTION_KEY", "base64key")
    assert load_config().storage.encryption_key == "base64key"


def test_var_expansion(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(
        in_tmp / "settings/mahavishnu.yaml",
        """
        secrets_management:
          vault_token: committed-token
          vault_mount: ${MOUNT_UNSET_XYZ:-fallback-mount}
          vault_addr: https://${VAULT_HOST_XYZ}:8200
          aws_region: ${REGION_SET_XYZ}
        """,
    )
    _write(
        in_tmp / "settings/local.yaml",
        """
        secrets_management:
          vault_token: ${VAULT_TOKEN_UNSET_XYZ}
          azure_vault_url: ${AZ_UNSET_XYZ}
        """,
    )
    monkeypatch.delenv("MOUNT_UNSET_XYZ", raising=False)
    monkeypatch.delenv("VAULT_TOKEN_UNSET_XYZ", raising=False)
    monkeypatch.delenv("AZ_UNSET_XYZ", raising=False)
    monkeypatch.setenv("VAULT_HOST_XYZ", "vault.example.com")
    monkeypatch.setenv("REGION_SET_XYZ", "eu-west-1")
    cfg = load_config()
    assert cfg.vault_mount == "fallback-mount"
    assert cfg.vault_addr == "https://vault.example.com:8200"
    assert cfg.aws_region == "eu-west-1"
    # an unset ${VAR} drops the key: the lower layer (committed) applies, then the default
    assert cfg.vault_token == "committed-token"
    assert cfg.azure_vault_url is None


def test_var_expansion_default_ignored_when_set(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(
        in_tmp / "settings/mahavishnu.yaml",
        "secrets_management:\n  vault_mount: ${MOUNT_SET_XYZ:-fallback}\n",
    )
    monkeypatch.setenv("MOUNT_SET_XYZ", "from-env")
    assert load_config().vault_mount == "from-env"


def test_app_namespace_override(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(in_tmp / "settings/mahavishnu.yaml", "secrets_management:\n  vault_mount: mahav\n")
    _write(
        in_tmp / "settings/other.yaml",
        "secrets_management:\n  vault_mount: other-mount\n  vault_addr: https://other\n",
    )
    monkeypatch.setenv("MAHAVISHNU_SECRETS_MANAGEMENT__VAULT_TOKEN", "mahav-token")
    monkeypatch.setenv("OTHER_SECRETS_MANAGEMENT__VAULT_TOKEN", "other-token")
    cfg = load_config(app="other")
    assert cfg.vault_mount == "other-mount"
    assert cfg.vault_addr == "https://other"
    assert cfg.vault_token == "other-token"
    default = load_config()
    assert default.vault_mount == "mahav"
    assert default.vault_token == "mahav-token"
    assert default.vault_addr is None


def test_bad_yaml_names_file_and_line(in_tmp: Path) -> None:
    _write(
        in_tmp / "settings/local.yaml",
        "secrets_management:\n  vault_mount: ok\n  vault_addr: [unclosed\n  x: y\n",
    )
    with pytest.raises(ConfigurationError) as info:
        load_config()
    msg = str(info.value)
    assert "local.yaml" in msg
    assert "line " in msg
    line = int(msg.split("line ")[1].split(":")[0].split()[0])
    assert 3 <= line <= 5


def test_non_mapping_yaml_rejected(in_tmp: Path) -> None:
    _write(in_tmp / "settings/mahavishnu.yaml", "- just\n- a list\n")
    with pytest.raises(ConfigurationError, match=r"mahavishnu\.yaml"):
        load_config()


TOKEN = "ghp_Zq8XbT1vK3nR5mW7yP9sL2dF4hJ6gC0aE1uY"  # secretvault:allow (hand-typed, bad CRC)


@pytest.mark.parametrize(
    "var",
    [
        "MAHAVISHNU_SECRETS_MANAGEMENT__ROTATION_DAYS",
        "MAHAVISHNU_SECRETS_MANAGEMENT__DEFAULT_BACKEND",
        "MAHAVISHNU_SECRETS_MANAGEMENT__RBAC_ENABLED",
        "MAHAVISHNU_SECRETS_MANAGEMENT__DURABILITY",
    ],
)
def test_invalid_value_error_does_not_echo_input(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, var: str
) -> None:
    monkeypatch.setenv(var, TOKEN)
    with pytest.raises(ConfigurationError) as info:
        load_config()
    field = var.split("__", 1)[1].lower()
    assert field in str(info.value)
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(info.value)
    assert TOKEN[4:20] not in str(info.value)


def test_invalid_yaml_value_error_does_not_echo_input(in_tmp: Path) -> None:
    _write(in_tmp / "settings/local.yaml", f"secrets_management:\n  rotation_days: {TOKEN}\n")
    with pytest.raises(ConfigurationError) as info:
        load_config()
    assert "rotation_days" in str(info.value)
    assert TOKEN not in str(info.value)


def test_out_of_range_value_is_configuration_error(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAHAVISHNU_SECRETS_MANAGEMENT__ROTATION_DAYS", "366")
    with pytest.raises(ConfigurationError, match="rotation_days"):
        load_config()


# -- plain-secret env layer ---------------------------------------------------------------------


def test_env_secrets_source(monkeypatch: pytest.MonkeyPatch) -> None:
    src = EnvSecretsSource()
    assert src.variable_for("openai-api-key") == "MAHAVISHNU_SECRETS__OPENAI_API_KEY"
    assert src.variable_for("db.pass_word") == "MAHAVISHNU_SECRETS__DB_PASS_WORD"
    assert src.get("openai-api-key") is None
    monkeypatch.setenv("MAHAVISHNU_SECRETS__OPENAI_API_KEY", "sk-from-env")
    assert src.get("openai-api-key") == "sk-from-env"
    other = EnvSecretsSource("other")
    assert other.get("openai-api-key") is None
    monkeypatch.setenv("OTHER_SECRETS__OPENAI_API_KEY", "sk-other")
    assert other.get("openai-api-key") == "sk-other"


async def test_resolve_falls_back_to_env(vault, monkeypatch: pytest.MonkeyPatch) -> None:
    assert await vault.resolve("openai-api-key") is None
    monkeypatch.setenv("MAHAVISHNU_SECRETS__OPENAI_API_KEY", "sk-env-value")
    assert await vault.resolve("openai-api-key") == "sk-env-value"
    await vault.store_secret(SecretType.API_KEY, "openai-api-key", "sk-vault-value")
    assert await vault.resolve("openai-api-key") == "sk-vault-value"


async def test_create_vault_from_cwd_settings(in_tmp: Path) -> None:
    _write(
        in_tmp / "settings/mahavishnu.yaml",
        """
        secrets_management:
          storage_path: store/vault.db
          master_key_path: store/master.key
          rotation:
            rotation_days: 30
        """,
    )
    vault = await create_vault()
    try:
        assert vault.config.storage_path == "store/vault.db"
        assert vault.config.rotation_days == 30
        assert (in_tmp / "store/vault.db").is_file()
        assert (in_tmp / "store/master.key").is_file()
        await vault.store_secret(SecretType.API_KEY, "k", "value-1234567890abcdef")
        _, rec = await vault.get_secret("k")
        assert rec.metadata.rotation_days == 30
    finally:
        await vault.shutdown()


def test_trusted_record_matches_model_construct_and_validation() -> None:
    """``Model.trusted`` (the read path's constructor) builds the same instance state as
    ``model_construct`` and compares equal to a validated record."""
    meta = SecretMetadata(tags=["db"], description="primary", service="api")
    fields: dict[str, Any] = {
        "id": "abc",
        "name": "db-password",
        "secret_type": SecretType.DATABASE_PASSWORD,
        "status": SecretStatus.ACTIVE,
        "encrypted_value": b"ciphertext-bytes",
        "nonce": b"n",
        "salt": b"s",
        "metadata": meta,
        "backend": BackendType.LOCAL,
        "key_id": "k1",
        "deleted_at": None,
        "purge_after": None,
    }
    trusted = SecretRecord.trusted(dict(fields))
    constructed = SecretRecord.model_construct(**fields)
    assert trusted == constructed == SecretRecord.model_validate(fields)
    for attr in ("__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"):
        assert getattr(trusted, attr) == getattr(constructed, attr), attr
    assert trusted.model_dump() == constructed.model_dump()
    assert "ciphertext-bytes" not in repr(trusted)
    trusted.metadata.description = "changed"  # still a normal, validating model afterwards
    with pytest.raises(ValueError):
        trusted.metadata.rotation_days = 0


def test_metadata_shared_by_json_text_is_never_changed_through_a_record() -> None:
    """``rows.metadata_from_json`` shares validated field values between reads of the same
    row. A caller changing its record's metadata (assignment, or the one mutable field,
    ``tags``, in place) must not change what the next read returns."""
    from secretvault.backends.rows import metadata_from_json

    text = SecretMetadata(tags=["db"], description="primary").model_dump_json()
    first = metadata_from_json(text)
    second = metadata_from_json(text)  # served from the shared cache
    second.tags.append("mutated")
    second.description = "mutated"
    third = metadata_from_json(text)
    assert third.tags == ["db"] and third.description == "primary"
    assert first == third
    # The copy covers ``tags`` only: every other field must stay of an immutable type.
    mutable = {
        name
        for name, info in SecretMetadata.model_fields.items()
        if any(t in str(info.annotation) for t in ("list", "dict", "set"))
    }
    assert mutable == {"tags"}, "a new mutable field needs copying in rows.metadata_from_json"
