"""Restoring the local vault from a backup — verified first, audited with the contents.

A restore never trusts the backup file: it is copied to a scratch database beside the live
one and opened there as a vault (integrity, schema, master key). A backup made before a
``rekey`` is brought under the current key with the retired key kept in ``backups/``. The
``restore`` audit entry is appended to the scratch copy, so it arrives in the same step as the
contents — a crash can leave the old contents or the new ones, never an unaudited restore.
Only then is the scratch copy put in place: through SQLite's backup API into the open database
(online), or by renaming it over a database that cannot be opened (its remains kept aside).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from secretvault.backends.local import DB_PARTS, active_key_id, copy_database, remove_database
from secretvault.config import SecretsConfig, StorageConfig
from secretvault.crypto.keys import MasterKey, load_master_key
from secretvault.errors import MasterKeyError, SecretDecryptionError, SecretNotFoundError
from secretvault.models import utcnow

if TYPE_CHECKING:
    from secretvault.vault import SecretVault


def _stamp() -> str:
    return utcnow().strftime("%Y%m%dT%H%M%S%fZ")


def _not_a_backup(source: Path, why: str) -> SecretDecryptionError:
    return SecretDecryptionError(
        f"{source} is not a secretvault backup ({why})", hint="pick another backup"
    )


def _backup_key_id(scratch: Path, source: Path) -> str:
    """The key id the backup's data is encrypted under; no key ring means not a vault."""
    key_id = active_key_id(scratch)
    if not key_id:
        raise _not_a_backup(source, "it has no key ring")
    return key_id


def _current_key(config: SecretsConfig) -> MasterKey:
    st = config.storage
    return load_master_key(
        Path(config.master_key_path), encryption_key=st.encryption_key, passphrase=None
    )


async def _open_backup(config: SecretsConfig, scratch: Path, source: Path, app: str) -> SecretVault:
    """Open the scratch copy as a vault under the current key (re-wrapping an old backup)."""
    from secretvault.vault import SecretVault

    old_id = _backup_key_id(scratch, source)
    probe = SecretVault(config.model_copy(update={"storage_path": str(scratch)}), app=app)
    try:
        await probe.initialize(create=False)
        return probe
    except MasterKeyError:
        retired = Path(config.storage_path).parent / "backups" / f"master.key.{old_id}"
        if not retired.exists():
            raise MasterKeyError(
                f"the backup was made under master key {old_id}, and its key file {retired} "
                "is not here",
                hint="put that key file in backups/ (rekey keeps retired keys there)",
            ) from None
    old_cfg = config.model_copy(
        update={
            "storage_path": str(scratch),
            "master_key_path": str(retired),
            "storage": StorageConfig(),
        }
    )
    probe = SecretVault(old_cfg, app=app)
    await probe.initialize(create=False)
    try:
        await probe.rewrap_to(_current_key(config), user="system")
    except BaseException:
        await probe.shutdown()
        raise
    return probe


async def prepare_restore(
    config: SecretsConfig, source: str | Path, *, user: str, note: str, app: str
) -> Path:
    """A verified copy of ``source`` under the current key, with its restore entry appended."""
    source, live = Path(source), Path(config.storage_path)
    if not source.is_file():
        raise SecretNotFoundError(f"backup {source} does not exist")
    live.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    scratch = live.with_name(f"{live.name}.restoring-{_stamp()}")
    try:
        try:
            copy_database(source, scratch)
        except sqlite3.DatabaseError:
            raise _not_a_backup(source, "not a database, or corrupt") from None
        probe = await _open_backup(config, scratch, source, app)
        try:
            await probe.record_restore(user, f"{source.name}; {note}")
        finally:
            await probe.shutdown()
    except BaseException:
        remove_database(scratch)
        raise
    return scratch


async def restore_unopenable_vault(
    config: SecretsConfig, source: str | Path, user: str = "system", app: str = "mahavishnu"
) -> Path | None:
    """Restore a vault whose database cannot be opened (corrupt or missing) from a backup.

    The damaged database and its WAL/SHM are kept as ``vault.db.damaged-<time>*``, never
    deleted — and moved aside even when only a stale WAL is left, which SQLite would otherwise
    replay onto the restored file. Returns the damaged database's new path (None if absent).
    """
    live = Path(config.storage_path)
    stamp = _stamp()
    damaged = live.with_name(f"{live.name}.damaged-{stamp}")
    scratch = await prepare_restore(
        config, source, user=user, note=f"previous database kept as {damaged.name}", app=app
    )
    moved = False
    for suffix in DB_PARTS:
        part = live.with_name(live.name + suffix)
        if part.exists():
            part.replace(damaged.with_name(damaged.name + suffix))
            moved = True
    scratch.replace(live)
    return damaged if moved else None
