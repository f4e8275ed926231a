"""The store configurations the contract suite runs against (see ``conftest.py``).

``vault`` and ``aws`` are the real servers (``scripts/services.sh``): each test gets its own
KV mount (OpenBao) or name prefix (moto), derived from its tmp_path so that a second vault
instance in the same test sees the same secrets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from remote_services import AWS_ENDPOINT, VAULT_TOKEN, namespace, need

from secretvault.backends.local import LocalBackend
from secretvault.backends.stores import Stores
from secretvault.config import SecretsConfig
from secretvault.models import BackendType


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


def vault_config(root: Path, **overrides: Any) -> SecretsConfig:
    """Settings for a vault on the test OpenBao server, in a mount of this test's own."""
    settings: dict[str, Any] = {
        "default_backend": BackendType.VAULT,
        "vault_addr": need("vault"),
        "vault_token": VAULT_TOKEN,
        "vault_mount": namespace(str(root)),
        "backend_retries": 1,
    }
    settings.update(overrides)
    return _config(root, **settings)


def aws_config(root: Path, **overrides: Any) -> SecretsConfig:
    """Settings for a vault on the test moto server, under a name prefix of this test's own."""
    settings: dict[str, Any] = {
        "default_backend": BackendType.AWS_SECRETS_MANAGER,
        "aws_endpoint_url": need("aws") and AWS_ENDPOINT,
        "aws_region": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "aws_secret_prefix": namespace(str(root)) + "/",
        "backend_retries": 1,
    }
    settings.update(overrides)
    return _config(root, **settings)


def _remote(build: Callable[..., SecretsConfig]) -> Callable[..., tuple[SecretsConfig, Stores]]:
    def make(root: Path, **overrides: Any) -> tuple[SecretsConfig, Stores]:
        from secretvault.backends.registry import build_stores

        config = build(root, **overrides)
        return config, build_stores(config)

    return make


STORE_CONFIGS: dict[str, Callable[..., tuple[SecretsConfig, Stores]]] = {
    "local": _local,
    "local-split": _local_split,
    "vault": _remote(vault_config),
    "aws": _remote(aws_config),
}
