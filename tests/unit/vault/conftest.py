"""Fixtures for the vault unit tests: real SQLite files and key files under tmp_path."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from vaulttest_helpers import make_config

from secretvault import SecretVault
from secretvault.config import SecretsConfig


@pytest.fixture
def config_factory(tmp_path: Path) -> Callable[..., SecretsConfig]:
    def factory(**overrides: Any) -> SecretsConfig:
        return make_config(tmp_path, **overrides)

    return factory


@pytest.fixture
async def open_vault(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Open vaults on tmp_path's store; every vault opened is shut down after the test."""
    opened: list[SecretVault] = []

    async def opener(**overrides: Any) -> SecretVault:
        vault = SecretVault(make_config(tmp_path, **overrides))
        await vault.initialize()
        opened.append(vault)
        return vault

    yield opener
    for vault in opened:
        await vault.shutdown()


@pytest.fixture
async def vault(open_vault: Callable[..., Any]) -> SecretVault:
    return await open_vault()


@pytest.fixture(autouse=True)
def _clean_app_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No stray MAHAVISHNU_*/OTHER_* variables from the developer's shell reach the tests."""
    for key in list(os.environ):
        if key.startswith(("MAHAVISHNU_", "OTHER_")):
            monkeypatch.delenv(key)
