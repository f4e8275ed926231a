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


async def stage_pending_rotation(
    vault: SecretVault, name: str, value: str, owner: str | None = None
) -> int:
    """Do what ``rotate_secret`` does before verification (stage a pending version, mark the
    secret ROTATING) and stop there, as a process killed mid-rotation would."""
    from secretvault.models import AccessLevel
    from secretvault.rotation.staged import rotation_lease

    staged: dict[str, int] = {}

    async def stage(unit: Any, record: Any) -> None:
        new = await vault.rotation.stage(unit, record, value, "crash")
        staged["new"] = new
        # the owner record rotate_secret leaves, naming a process that no longer exists
        await unit.control.lease_put(rotation_lease(record.id, new), owner or dead_owner())

    await vault.ops.mutate("rotate_start", name, "crash", AccessLevel.WRITE, stage)
    return staged["new"]


def all_columns_text(path: Path | str, table: str) -> str:
    """Every row of ``table`` as text (for leak checks)."""
    conn = sqlite3.connect(path)
    try:
        return "\n".join(repr(r) for r in conn.execute(f"SELECT * FROM {table}"))
    finally:
        conn.close()


def dead_owner() -> str:
    """A rotation-owner record (host, pid) of a process that has exited."""
    import json
    import socket
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return json.dumps({"host": socket.gethostname(), "pid": proc.pid})


def live_owner() -> str:
    """A rotation-owner record naming this (running) test process."""
    import json
    import os
    import socket

    return json.dumps({"host": socket.gethostname(), "pid": os.getpid()})
