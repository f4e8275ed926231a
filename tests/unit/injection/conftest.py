"""Fixtures for the injection tests: a real vault under tmp_path, values made at test time."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers_inject import config_in

from secretvault import SecretVault


@pytest.fixture
async def vault(tmp_path: Path) -> AsyncIterator[SecretVault]:
    v = SecretVault(config_in(tmp_path))
    await v.initialize()
    yield v
    await v.shutdown()


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in tmp_path (the guide's examples use SecretVault() with the default paths)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(autouse=True)
def _restore_environ() -> object:
    """ENV_VAR injection sets variables in this process; put the environment back."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
