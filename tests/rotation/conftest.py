"""Fixtures for the rotation tests: a real PostgreSQL with password authentication.

Without the server the PostgreSQL tests skip locally and FAIL when ``CI`` is set, so CI can
never pass without having rotated a real password.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rotationtest_helpers import _ENV_FILE, Pg, _pg_env, rotation_config

from secretvault import SecretVault


@pytest.fixture
def pg() -> Iterator[Pg]:
    env = _pg_env()
    if env is None:
        message = (
            f"PostgreSQL is not running (no {_ENV_FILE}); run the suite with scripts/test.sh, "
            "which starts it with scripts/postgres.sh"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = Pg(env)
    yield server
    server.drop_roles()


@pytest.fixture
async def open_vault(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Open vaults on tmp_path's store; each is shut down after the test."""
    opened: list[SecretVault] = []

    async def opener(**extra: Any) -> SecretVault:
        vault = SecretVault(rotation_config(tmp_path, **extra))
        await vault.initialize()
        opened.append(vault)
        return vault

    yield opener
    for vault in opened:
        await vault.shutdown()
