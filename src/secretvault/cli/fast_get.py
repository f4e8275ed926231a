"""The plain ``secretvault get NAME``, without pydantic, pydantic-settings, typer, rich or
structlog: what a shell loop's ``$(secretvault get NAME)`` runs, where start-up is the latency.

It takes only the case such a call meets nearly always — the local store, RBAC off, no
rotators or verifiers configured, no rotation left half-done, the secret ACTIVE and not
expired, the version present — and does it with the parts the vault itself is made of:
``settings_layers.load_lean`` (the same layers as ``load_config``), ``LocalBackend``,
``KeyManager`` (the key is checked against the key ring as on every open) and ``AuditWriter``
(the read's audit entry commits before the value is printed, as always).

Anything else answers ``None`` before anything is written — and so does every error — and
``cli.entry`` runs the command through the full CLI, which gives the proper result, the error
message and exit code, and the audit entry of a failure. So this module never decides what a
read means; it only recognises the case where the answer is plain.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from secretvault.backends.base import STAGE_PENDING
from secretvault.backends.local import LocalBackend, stored_from_row
from secretvault.backends.rows import SECRET_COLUMNS
from secretvault.backends.stores import Stores
from secretvault.core.audit import AuditWriter
from secretvault.core.keys import KeyManager
from secretvault.errors import SecretVaultError
from secretvault.settings_layers import LeanSettings, load_lean
from secretvault.validation import validate_name

#: Column positions in ``LocalTransaction.read_row`` (``SECRET_COLUMNS``, then the version).
_ID, _STATUS, _METADATA = (SECRET_COLUMNS.index(c) for c in ("id", "status", "metadata"))


def plain_get(flags: dict[str, str], name: str, user: str, version: int | None) -> str | None:
    """The value of ``name`` read and audited, or None: take the full path (module docstring).

    ``flags``: the global options as given (``--app``, ``--settings-dir``, ``--vault-dir``).
    """
    from secretvault.aio import run_inline

    settings = _settings(flags)
    if settings is None or not _plain_settings(settings):
        return None
    try:
        validate_name(name)
        return run_inline(_read(settings, name, user, version))
    except (SecretVaultError, sqlite3.Error, OSError, ValueError, TypeError):
        # The full path reports it (and audits a failed read). ValueError/TypeError: a row
        # altered at rest (metadata not JSON, a malformed date) — the full path's validation
        # says what is wrong instead of a traceback.
        return None


def _settings(flags: dict[str, str]) -> LeanSettings | None:
    overrides: dict[str, str] = {}
    vault_dir = flags.get("--vault-dir")
    if vault_dir:
        overrides["storage_path"] = str(Path(vault_dir) / "vault.db")
        overrides["master_key_path"] = str(Path(vault_dir) / "master.key")
    return load_lean(
        flags.get("--app", "mahavishnu"), flags.get("--settings-dir", "settings"), **overrides
    )


def _plain_settings(settings: LeanSettings) -> bool:
    """Local store, no RBAC, nothing configured that needs the loop or the rotation rules."""
    return (
        settings.default_backend == "local"
        and not settings.rbac_enabled
        and not settings.rotators
        and not settings.rotation_verifiers
        and Path(settings.storage_path).is_file()
    )


async def _read(settings: LeanSettings, name: str, user: str, version: int | None) -> str | None:
    store = LocalBackend(
        settings.storage_path,
        busy_timeout_ms=settings.busy_timeout_ms,
        durability=settings.durability,
    )
    await store.open(create=False)
    try:
        keys = KeyManager(settings)
        await keys.load(Stores.shared(store))
        audit = AuditWriter(store, enabled=settings.access_log_enabled, key=keys.audit_key)
        async with store.unit() as unit:
            if await unit.pending_versions():
                return None  # a rotation to recover first: the full open does that
            row = unit.read_row(name, version)
            stored = stored_from_row(row) if row is not None else None
            if row is None or stored is None or not _plainly_readable(row, stored.stage):
                return None
            value = keys.open_value(row[_ID], stored)
            await audit.append(unit, "read", user, name, secret_id=row[_ID])
        return value
    finally:
        await store.close()


def _plainly_readable(row: tuple[object, ...], stage: str) -> bool:
    """ACTIVE, not past its expiry, and not a pending version."""
    if row[_STATUS] != "active" or stage == STAGE_PENDING:
        return False
    expires = json.loads(str(row[_METADATA])).get("expires_at")
    return expires is None or datetime.fromisoformat(expires) > datetime.now(UTC)
