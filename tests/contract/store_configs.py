"""The store configurations the contract suite runs against (see ``conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from secretvault.backends.local import LocalBackend
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


STORE_CONFIGS: dict[str, Callable[..., tuple[SecretsConfig, Stores]]] = {
    "local": _local,
    "local-split": _local_split,
}
