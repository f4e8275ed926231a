"""Suite-wide test environment: no user configuration leaks in, git works without a profile."""

from __future__ import annotations

import os

import pytest


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
