"""Suite-wide test environment: no user configuration leaks in, git works without a profile."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from azure_kv_server import ServerProcess, start_shared, stop_shared


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clear secretvault/mahavishnu settings from the caller's environment; give git an identity
    (CI machines have no ~/.gitconfig) and never let it read the user's global config."""
    for key in list(os.environ):
        if key.startswith(("MAHAVISHNU_", "SECRETVAULT_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Author")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "author@example.com")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture(scope="session")
def azure_kv() -> Iterator[ServerProcess]:
    """The Azure Key Vault test server (a child process, HTTPS on a free port;
    ``tests/support/azure_kv_server.py``), one per test run."""
    server = start_shared()
    yield server
    stop_shared()
