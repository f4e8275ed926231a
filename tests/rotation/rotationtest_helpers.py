"""Helpers for the rotation tests: the PostgreSQL test server and vault settings.

``scripts/test.sh`` starts the server (``scripts/postgres.sh``) and points
``SECRETVAULT_PG_ENV_FILE`` at its credentials file (mode 0600). The variable is read at import
time: the suite-wide fixture clears every ``SECRETVAULT_*`` variable before each test.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from secretvault import SecretsConfig

_ENV_FILE = os.environ.get("SECRETVAULT_PG_ENV_FILE") or str(
    Path(__file__).resolve().parents[2] / ".services" / "postgres" / "env"
)


def _pg_env() -> dict[str, str] | None:
    path = Path(_ENV_FILE)
    if not path.is_file():
        return None
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs}


class Pg:
    """The test server: superuser DSN, and helpers to make roles and try logins."""

    def __init__(self, env: dict[str, str]) -> None:
        self.host = env["SECRETVAULT_PG_HOST"]
        self.port = int(env["SECRETVAULT_PG_PORT"])
        self.dsn = env["SECRETVAULT_PG_DSN"]
        self.log = Path(env.get("SECRETVAULT_PG_LOG", ""))
        self.roles: list[str] = []

    def uri(self, user: str, password: str) -> str:
        return f"postgresql://{user}:{password}@{self.host}:{self.port}/postgres"

    def make_role(self, login: bool = True) -> tuple[str, str]:
        """A fresh role with a random password; dropped after the test."""
        user, password = f"app_{secrets.token_hex(4)}", secrets.token_urlsafe(18)
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} {} PASSWORD {}").format(
                    sql.Identifier(user),
                    sql.SQL("LOGIN" if login else "NOLOGIN"),
                    sql.Literal(password),
                )
            )
        self.roles.append(user)
        return user, password

    def can_login(self, user: str, password: str) -> bool:
        try:
            with psycopg.connect(
                host=self.host,
                port=self.port,
                user=user,
                password=password,
                dbname="postgres",
                connect_timeout=5,
            ) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def password_hash(self, user: str) -> str | None:
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute(
                "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (user,)
            ).fetchone()
        return row[0] if row else None

    def drop_roles(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            for role in self.roles:
                for name in (role + "_clone", role):
                    conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def rotation_config(tmp_path: Path, **extra: Any) -> SecretsConfig:
    """Settings for a vault under ``tmp_path`` (every version kept)."""
    return SecretsConfig(
        storage_path=str(tmp_path / "vault.db"),
        master_key_path=str(tmp_path / "master.key"),
        max_versions=0,
        **extra,
    )
