"""The vault as a pydantic-settings source and as an Oneiric-style ``config.get``."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers_inject import config_in, distinctive
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from secretvault import ConfigWithSecrets, SecretType, SecretVault, SecretVaultSettingsSource


class AppSettings(BaseSettings):
    openai_api_key: SecretStr
    db_password: SecretStr = Field(json_schema_extra={"secret": "postgres-password"})
    log_level: str = "info"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            SecretVaultSettingsSource(settings_cls),
            file_secret_settings,
        )


async def test_settings_filled_from_the_vault_with_env_precedence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tmp_path / "settings"
    settings.mkdir()
    cfg = config_in(tmp_path)
    (settings / "local.yaml").write_text(
        f"storage_path: {cfg.storage_path}\nmaster_key_path: {cfg.master_key_path}\n"
    )
    monkeypatch.chdir(tmp_path)
    key, pw = distinctive("k"), distinctive("p")
    vault = SecretVault(cfg)
    await vault.initialize()
    await vault.store_secret(SecretType.API_KEY, "openai-api-key", key)
    await vault.store_secret(SecretType.DATABASE_PASSWORD, "postgres-password", pw)
    await vault.shutdown()

    s = AppSettings()  # the source opens the vault from settings/ itself (inside this loop)
    assert s.openai_api_key.get_secret_value() == key
    assert s.db_password.get_secret_value() == pw
    assert key not in repr(s) and s.log_level == "info"

    override = distinctive("env")
    monkeypatch.setenv("OPENAI_API_KEY", override)
    assert AppSettings().openai_api_key.get_secret_value() == override  # env beats the vault


async def test_source_with_an_open_vault(vault: SecretVault) -> None:
    value = distinctive()
    await vault.store_secret(SecretType.API_KEY, "openai-api-key", value)

    class S(BaseSettings):
        openai_api_key: SecretStr
        missing: str = "default"

        @classmethod
        def settings_customise_sources(cls, settings_cls, **sources):  # type: ignore[no-untyped-def]
            return (SecretVaultSettingsSource(settings_cls, vault),)

    s = S()
    assert s.openai_api_key.get_secret_value() == value and s.missing == "default"


async def test_config_get_vault_then_layers(
    vault: SecretVault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_vault, in_env, in_yaml = distinctive("v"), distinctive("e"), distinctive("y")
    await vault.store_secret(SecretType.API_KEY, "openai-api-key", in_vault)
    settings = tmp_path / "settings"
    settings.mkdir()
    (settings / "mahavishnu.yaml").write_text(f"secrets:\n  yaml_only: {in_yaml}\nother:\n  x: 1\n")
    monkeypatch.setenv("MAHAVISHNU_SECRETS__ENV_ONLY", in_env)
    config = ConfigWithSecrets(vault, settings_dir=settings)
    assert config.get("secrets.openai_api_key") == in_vault
    assert config.get("secrets.env_only") == in_env
    assert config.get("secrets.yaml_only") == in_yaml
    assert config.get("secrets.nowhere", "d") == "d"
    assert config.get("other.x") == 1
    assert await config.get_secret("openai-api-key") == in_vault
    assert await config.get_secret("yaml_only") == in_yaml


def test_no_vault_leaves_fields_to_other_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no settings, no data/secrets: no vault here
    value = distinctive()
    monkeypatch.setenv("OPENAI_API_KEY", value)
    monkeypatch.setenv("DB_PASSWORD", value)
    s = AppSettings()
    assert s.openai_api_key.get_secret_value() == value
    assert not (tmp_path / "data").exists()  # the source did not create a vault
