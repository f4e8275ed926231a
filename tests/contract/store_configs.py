"""The store configurations the contract suite runs against (see ``conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import azure_kv_server

from secretvault.backends.local import LocalBackend
from secretvault.backends.registry import build_stores
from secretvault.backends.stores import Stores
from secretvault.config import SecretsConfig


def _config(root: Path, **overrides: Any) -> SecretsConfig:
    base = root / "data" / "secrets"
    return SecretsConfig(
        storage_path=str(base / "vault.db"),
        master_key_path=str(base / "master.key"),
        **overrides,
    )


def _local(root: Path, **overrides: Any) -> tuple[SecretsConfig, Stores]:
    config = _config(root, **overrides)
    return config, Stores.shared(LocalBackend(config.storage_path))


def _local_split(root: Path, **overrides: Any) -> tuple[SecretsConfig, Stores]:
    config = _config(root, **overrides)
    secrets = LocalBackend(Path(config.storage_path).with_name("secrets.db"))
    return config, Stores(secrets, LocalBackend(config.storage_path))


def _azure(root: Path, **overrides: Any) -> tuple[SecretsConfig, Stores]:
    """Azure Key Vault (the real SDK against the HTTPS test server, emptied per test) with the
    local control store, paired by the registry as in production."""
    server = azure_kv_server.fresh_for(root)
    config = _config(root, **azure_kv_server.settings(server), **overrides)
    return config, build_stores(config)


STORE_CONFIGS: dict[str, Callable[..., tuple[SecretsConfig, Stores]]] = {
    "local": _local,
    "local-split": _local_split,
    "azure": _azure,  # needs the session fixture azure_kv (conftest.py requests it)
}
