"""Values for the injection tests: random, and hostile to every file syntax we quote for."""

from __future__ import annotations

import secrets
from pathlib import Path

from secretvault import SecretsConfig


def distinctive(prefix: str = "val") -> str:
    """A random value nobody else would write."""
    return f"{prefix}-{secrets.token_hex(12)}"


def hostile() -> str:
    """Quotes of both kinds, a newline, template braces, a shell expansion, a backslash,
    a dotenv comment marker and non-ASCII — plus randomness so it is unique."""
    return f"a'b\"c\nd {{{{ 7*7 }}}} $HOME `id` \\n # é {secrets.token_hex(6)}"


def config_in(root: Path, **overrides: object) -> SecretsConfig:
    """Settings for a vault under ``root/data/secrets`` (scan_on_write off unless asked)."""
    base = root / "data" / "secrets"
    overrides.setdefault("scan_on_write", False)
    return SecretsConfig(
        storage_path=str(base / "vault.db"), master_key_path=str(base / "master.key"), **overrides
    )
