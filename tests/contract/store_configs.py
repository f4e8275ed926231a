"""The store configurations the contract suite runs against (see ``conftest.py``).

``vault`` and ``aws`` are the real servers (``scripts/services.sh``): each test gets its own
KV mount (OpenBao) or name prefix (moto), derived from its tmp_path so that a second vault
instance in the same test sees the same secrets.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import azure_kv_server
from remote_services import AWS_ENDPOINT, VAULT_TOKEN, namespace, need

from secretvault.backends.local import LocalBackend
from secretvault.backends.registry import build_stores
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


def _azure(root: Path, **overrides: Any) -> tuple[SecretsConfig, Stores]:
    """Azure Key Vault (the real SDK against the HTTPS test server, emptied per test) with the
    local control store, paired by the registry as in production."""
    server = azure_kv_server.fresh_for(root)
    config = _config(root, **azure_kv_server.settings(server), **overrides)
    return config, build_stores(config)


STORE_CONFIGS: dict[str, Callable[..., tuple[SecretsConfig, Stores]]] = {
    "local": _local,
    "local-split": _local_split,
    "vault": _remote(vault_config),
    "aws": _remote(aws_config),
    "azure": _azure,  # needs the session fixture azure_kv (conftest.py requests it)
}


# Read at import: the suite's autouse fixture clears SECRETVAULT_* variables for each test.
_POSTGRES_DSN = os.environ.get("SECRETVAULT_TEST_POSTGRES_DSN")


def postgres_dsn() -> str | None:
    """The test PostgreSQL server (``scripts/test.sh`` starts one and exports this)."""
    return _POSTGRES_DSN


def _postgres(root: Path, **overrides: Any) -> tuple[SecretsConfig, Stores]:
    """A PostgreSQL store in a schema of its own (named after the test's folder)."""
    import hashlib

    from secretvault.backends.postgres import PostgresBackend

    dsn = postgres_dsn()
    if dsn is None:
        import pytest

        if os.environ.get("CI"):
            pytest.fail("SECRETVAULT_TEST_POSTGRES_DSN is not set: scripts/test.sh starts it")
        pytest.skip("no test PostgreSQL (run the suite through scripts/test.sh)")
    schema = "t_" + hashlib.sha256(str(root).encode()).hexdigest()[:16]
    config = _config(root, postgres_dsn=dsn, postgres_schema=schema, **overrides)
    return config, Stores.shared(PostgresBackend(dsn, schema=schema, pool_size=4))


STORE_CONFIGS["postgres"] = _postgres


def _local_with_postgres_audit(root: Path, **overrides: Any) -> tuple[SecretsConfig, Stores]:
    """The secret role in a SQLite file, the control role (audit, grants, key ring) in
    PostgreSQL: how a remote secret store with ``audit_backend: postgres`` is paired."""
    config, pg = _postgres(root, **overrides)
    secrets = LocalBackend(Path(config.storage_path).with_name("secrets.db"))
    return config, Stores(secrets, pg.control)


STORE_CONFIGS["local+postgres-audit"] = _local_with_postgres_audit
