"""The store contract: one suite, run against every registered store configuration.

``STORE_CONFIGS`` (``store_configs.py``) maps a name to a builder
``(tmp_path) -> (SecretsConfig, Stores)``. The remote-store and PostgreSQL work adds its
stores there (``vault``, ``aws``, ``azure``, ``postgres``); every test in this folder then runs
against them with the same inputs and the same expected results and errors. Today:

* ``local`` — the embedded SQLite store in both roles (one transaction per operation);
* ``local-split`` — the secret role and the control role in two separate SQLite files, which
  exercises the two-store unit of work (secret side commits first, audit second) that remote
  stores will use;
* ``azure`` — Azure Key Vault through the real SDK against the HTTPS test server
  (``tests/support/azure_kv_server.py``), with the local control store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from store_configs import STORE_CONFIGS

from secretvault.backends.stores import Stores
from secretvault.vault import SecretVault


@pytest.fixture(params=sorted(STORE_CONFIGS))
def store_kind(request: pytest.FixtureRequest) -> str:
    """The name of the store configuration under test (starting its test server)."""
    if request.param == "azure":
        request.getfixturevalue("azure_kv")
    return str(request.param)


@pytest.fixture
async def stores(store_kind: str, tmp_path: Path) -> AsyncIterator[Stores]:
    """Opened stores of the configuration under test (no vault on top)."""
    _, pair = STORE_CONFIGS[store_kind](tmp_path)
    await pair.open(create=True)
    try:
        yield pair
    finally:
        await pair.close()


@pytest.fixture
async def open_vault(store_kind: str, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """``await open_vault(**settings)``: a SecretVault over the configuration under test;
    each call opens another instance on the same stores (another process, in effect)."""
    opened: list[SecretVault] = []

    async def opener(**overrides: Any) -> SecretVault:
        config, pair = STORE_CONFIGS[store_kind](tmp_path, **overrides)
        vault = SecretVault(config, stores=pair)
        await vault.initialize()
        opened.append(vault)
        return vault

    yield opener
    for vault in opened:
        await vault.shutdown()
