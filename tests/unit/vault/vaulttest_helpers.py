"""Helpers shared by the vault unit tests (imported by name: tests/ has no packages)."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path
from typing import Any

from secretvault import SecretVault
from secretvault.config import SecretsConfig


def make_config(root: Path, **overrides: Any) -> SecretsConfig:
    """A config whose store and key live under ``root/data/secrets``."""
    base = root / "data" / "secrets"
    return SecretsConfig(
        storage_path=str(base / "vault.db"),
        master_key_path=str(base / "master.key"),
        **overrides,
    )


def distinctive(prefix: str = "val") -> str:
    """A random value nobody else would ever write (>= 16 bytes)."""
    return f"{prefix}-{secrets.token_hex(16)}"


def db_path(vault: SecretVault) -> Path:
    return Path(vault.config.storage_path)


def raw_db(vault_or_path: SecretVault | Path | str) -> sqlite3.Connection:
    """A second, direct sqlite3 connection to the vault's database (for tampering)."""
    path = db_path(vault_or_path) if isinstance(vault_or_path, SecretVault) else Path(vault_or_path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn
