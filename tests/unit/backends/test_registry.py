"""The backend registry: stores built by BackendType, lazily, with errors that say what to do."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from secretvault.backends import registry
from secretvault.backends.registry import BackendSpec, build_stores, register, spec_for
from secretvault.config import SecretsConfig
from secretvault.errors import ConfigurationError
from secretvault.models import BackendType


@pytest.fixture
def restore_registry() -> Iterator[None]:
    saved = dict(registry._REGISTRY)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)


def _config(tmp_path: Path, backend: BackendType) -> SecretsConfig:
    return SecretsConfig(
        default_backend=backend,
        storage_path=str(tmp_path / "vault.db"),
        master_key_path=str(tmp_path / "master.key"),
    )


def test_local_plays_both_roles(tmp_path: Path) -> None:
    stores = build_stores(_config(tmp_path, BackendType.LOCAL))
    assert stores.is_shared and stores.secrets is stores.control
    assert spec_for(BackendType.LOCAL).inline_io


def test_an_unregistered_backend_names_the_available_ones(
    tmp_path: Path, restore_registry: None
) -> None:
    registry.unregister(BackendType.AWS_SECRETS_MANAGER)
    with pytest.raises(ConfigurationError) as info:
        build_stores(_config(tmp_path, BackendType.AWS_SECRETS_MANAGER))
    assert "not available in this build" in str(info.value)
    assert info.value.hint is not None and "local" in info.value.hint


def test_the_server_backends_are_registered_with_their_extras() -> None:
    for backend, extra in ((BackendType.VAULT, "vault"), (BackendType.AWS_SECRETS_MANAGER, "aws")):
        spec = spec_for(backend)
        assert spec.extra == extra and not spec.inline_io and not spec.control


def test_a_missing_sdk_names_the_extra_to_install(
    tmp_path: Path, restore_registry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "needs_sdk_store.py"
    module.write_text("import sdk_that_is_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    register(BackendType.VAULT, BackendSpec("needs_sdk_store", "factory", extra="vault"))
    with pytest.raises(ConfigurationError) as info:
        build_stores(_config(tmp_path, BackendType.VAULT))
    assert "sdk_that_is_not_installed" in str(info.value)
    assert info.value.hint == "pip install 'secretvault[vault]'"
    sys.modules.pop("needs_sdk_store", None)


def test_a_registered_store_without_a_control_role_gets_the_local_control_store(
    tmp_path: Path, restore_registry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "plugin_store.py").write_text(
        "from pathlib import Path\n"
        "from secretvault.backends.local import LocalBackend\n"
        "def factory(config):\n"
        "    return LocalBackend(Path(config.storage_path).with_name('remote.db'))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.unregister(BackendType.VAULT)  # the built-in entry (restored after the test)
    previous = register(BackendType.VAULT, BackendSpec("plugin_store", "factory"))
    assert previous is None
    stores = build_stores(_config(tmp_path, BackendType.VAULT))
    assert not stores.is_shared
    assert Path(stores.control.path).name == "vault.db"  # type: ignore[attr-defined]
    assert Path(stores.secrets.path).name == "remote.db"  # type: ignore[attr-defined]
    registry.unregister(BackendType.VAULT)
    assert BackendType.VAULT not in registry.registered()
    sys.modules.pop("plugin_store", None)


def test_audit_backend_chooses_the_control_store_of_a_store_without_one(
    tmp_path: Path, restore_registry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "plugin_store2.py").write_text(
        "from pathlib import Path\n"
        "from secretvault.backends.local import LocalBackend\n"
        "def factory(config):\n"
        "    return LocalBackend(Path(config.storage_path).with_name('remote.db'))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    register(BackendType.VAULT, BackendSpec("plugin_store2", "factory"))
    cfg = _config(tmp_path, BackendType.VAULT).model_copy(
        update={"audit_backend": BackendType.POSTGRES, "postgres_dsn": "postgresql://h:1/db"}
    )
    stores = build_stores(cfg)
    assert type(stores.control).__name__ == "PostgresBackend"
    assert "h:1/db" in repr(stores.control)
    with pytest.raises(ConfigurationError, match="cannot keep the audit trail"):
        build_stores(cfg.model_copy(update={"audit_backend": BackendType.AZURE_KEY_VAULT}))
    sys.modules.pop("plugin_store2", None)


def test_control_backend_names_where_the_key_ring_and_audit_trail_live(tmp_path: Path) -> None:
    def where(backend: BackendType, audit: BackendType = BackendType.LOCAL) -> BackendType:
        cfg = _config(tmp_path, backend).model_copy(update={"audit_backend": audit})
        return registry.control_backend(cfg)

    assert where(BackendType.LOCAL) == BackendType.LOCAL
    assert where(BackendType.POSTGRES) == BackendType.POSTGRES  # plays both roles
    assert where(BackendType.POSTGRES, BackendType.LOCAL) == BackendType.POSTGRES
    assert where(BackendType.VAULT) == BackendType.LOCAL
    assert where(BackendType.AWS_SECRETS_MANAGER, BackendType.POSTGRES) == BackendType.POSTGRES
