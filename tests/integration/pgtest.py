"""The test PostgreSQL that ``scripts/test.sh`` starts, for the tests that need one: its DSN
(read at import, before a test clears the environment) and a vault configuration on a schema
of the test's own, so tests never see one another's data.

Without the server a test fails in CI (``CI`` set) and is skipped elsewhere: a suite that
silently skipped its PostgreSQL tests would pass without testing them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from secretvault import SecretsConfig

DSN = os.environ.get("SECRETVAULT_TEST_POSTGRES_DSN")


def require_postgres() -> str:
    """The test server's DSN; fails (CI) or skips the test without one."""
    if DSN is None:
        if os.environ.get("CI"):
            pytest.fail("SECRETVAULT_TEST_POSTGRES_DSN is not set: scripts/test.sh starts it")
        pytest.skip("no test PostgreSQL (run the suite through scripts/test.sh)")
    return DSN


def schema_for(tmp_path: Path, prefix: str, tag: str = "") -> str:
    """A schema name unique to the test (and ``tag``), starting with ``prefix``."""
    return prefix + "_" + hashlib.sha256(f"{tmp_path}{tag}".encode()).hexdigest()[:16]


def with_application_name(dsn: str, name: str) -> str:
    """``dsn`` with an application_name, so a test can find (and end) its own sessions."""
    return dsn + ("&" if "?" in dsn else "?") + f"application_name={name}"


def pg_config(tmp_path: Path, prefix: str, **settings: Any) -> SecretsConfig:
    """A vault in PostgreSQL on the test's own schema, its key file under ``tmp_path/host``;
    ``settings`` override (pool of two connections unless given)."""
    values: dict[str, Any] = {
        "default_backend": "postgres",
        "postgres_dsn": require_postgres(),
        "postgres_schema": schema_for(tmp_path, prefix),
        "postgres_pool_size": 2,
        "storage_path": str(tmp_path / "host" / "vault.db"),
        "master_key_path": str(tmp_path / "host" / "master.key"),
    }
    return SecretsConfig(**(values | settings))
