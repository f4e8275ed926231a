"""Restoring the local vault from a backup — verified first, audited with the contents.

A restore never trusts the backup file: it is copied to a scratch database beside the live
one and opened there with the vault's own parts (integrity, schema, master key against the
key ring). A backup made before a ``rekey`` is brought under the current key with the retired
key kept in ``backups/``. The ``restore`` audit entry is appended to the scratch copy, so it
arrives in the same step as the contents — a crash can leave the old contents or the new ones,
never an unaudited restore. Only then is the scratch copy put in place: through SQLite's backup
API into the open database (online, ``SecretVault.restore``), or by renaming it over a database
that cannot be opened (``restore_unopenable_vault``; its remains kept aside).

A vault a server keeps (``DumpableStore``: PostgreSQL) is restored from a dump of its schema
the same way in spirit: ``check_dump`` reads the dump's key ring before anything changes and
refuses a dump the master key at hand cannot read; ``load_dump`` loads it in one server
transaction (``pg_restore --single-transaction``), brings a dump made before a ``rekey`` under
the current key, and appends the ``restore`` entry to the restored audit trail. The server's
transaction cannot also hold our entry, so a crash between the two leaves the restored contents
without that entry; the ``backup`` entry of the safety copy, in the trail that was replaced,
still records it.

This module sits below the facade: it uses the stores and ``core`` parts, never ``SecretVault``.
"""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from secretvault.backends.base import backups_folder
from secretvault.backends.local import (
    DB_PARTS,
    active_key_id,
    copy_database,
    local_store,
    remove_database,
)
from secretvault.backends.registry import build_stores, control_backend
from secretvault.backends.stores import Stores
from secretvault.config import SecretsConfig, StorageConfig
from secretvault.core.access import AccessControl
from secretvault.core.audit import AuditWriter
from secretvault.core.cache import ReadCache
from secretvault.core.keys import KeyManager, rewrap_vault
from secretvault.core.operations import Operations
from secretvault.crypto.keyring import check_matches, retired_key_name
from secretvault.crypto.keys import MasterKey, load_master_key, read_key_file
from secretvault.errors import (
    ConfigurationError,
    MasterKeyError,
    MasterKeyMismatchError,
    SecretDecryptionError,
    SecretNotFoundError,
)
from secretvault.models import BackendType, utcnow

if TYPE_CHECKING:
    from secretvault.backends.base import DumpableStore


def _stamp() -> str:
    return utcnow().strftime("%Y%m%dT%H%M%S%fZ")


def _not_a_backup(source: Path, why: str) -> SecretDecryptionError:
    return SecretDecryptionError(
        f"{source} is not a secretvault backup ({why})", hint="pick another backup"
    )


def _current_key(config: SecretsConfig) -> MasterKey:
    st = config.storage
    return load_master_key(
        Path(config.master_key_path), encryption_key=st.encryption_key, passphrase=None
    )


async def _open_scratch(config: SecretsConfig) -> Operations:
    """The scratch copy opened as a vault under ``config``'s key (MasterKeyError if not)."""
    return await _open_ops(config, Stores.shared(local_store(config)))


async def _open_ops(config: SecretsConfig, stores: Stores) -> Operations:
    """``stores`` opened as a vault under ``config``'s key, without RBAC or cache."""
    await stores.open(create=False)
    try:
        native = stores.secrets.features.native_encryption and not config.client_side_encryption
        keys = KeyManager(config, native=native)
        await keys.load(stores)
    except BaseException:
        await stores.close()
        raise
    audit = AuditWriter(stores.control, enabled=config.access_log_enabled, key=keys.audit_key)
    access = AccessControl(stores.control, enabled=False)
    cache = ReadCache(stores.secrets, enabled=False, ttl_seconds=0)
    return Operations(stores, keys, audit, access, cache)


async def _open_backup(config: SecretsConfig, scratch: Path, source: Path) -> Operations:
    """Open the scratch copy under the current key, re-wrapping a pre-rekey backup."""
    old_id = active_key_id(scratch)
    if not old_id:
        raise _not_a_backup(source, "it has no key ring")
    try:
        return await _open_scratch(config.model_copy(update={"storage_path": str(scratch)}))
    except MasterKeyError:
        retired = backups_folder(config.storage_path) / retired_key_name(old_id)
        if not retired.exists():
            raise MasterKeyError(
                f"the backup was made under master key {old_id}, and its key file {retired} "
                "is not here",
                hint="put that key file in backups/ (rekey keeps retired keys there)",
            ) from None
    ops = await _open_scratch(
        config.model_copy(
            update={
                "storage_path": str(scratch),
                "master_key_path": str(retired),
                "storage": StorageConfig(),
            }
        )
    )
    try:
        await rewrap_vault(ops, _current_key(config), "system")
    except BaseException:
        await ops.stores.close()
        raise
    return ops


async def prepare_restore(
    config: SecretsConfig, source: str | Path, *, user: str, note: str
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
        ops = await _open_backup(config, scratch, source)
        try:
            async with ops.unit() as unit:
                await ops.audit.append(
                    unit.control, "restore", user, None, reason=f"{source.name}; {note}"
                )
        finally:
            await ops.stores.close()
    except BaseException:
        remove_database(scratch)
        raise
    return scratch


async def adopt_restored_keys(ops: Operations) -> None:
    """Load the keys of the contents a restore just put in place into the open vault.

    The audit chain continues from the backup's head under the backup's MAC key, which is
    another one when the backup comes from another vault under the same master key (a vault
    re-created with ``init`` after the database was lost): entries sealed, or a chain
    verified, with the key from before the restore would not verify."""
    await ops.keys.load(ops.stores)
    ops.audit.key = ops.keys.audit_key


def discard_scratch(scratch: Path) -> None:
    """Remove a scratch copy (with its WAL and shared-memory files) once it was used."""
    remove_database(scratch)


async def restore_unopenable_vault(
    config: SecretsConfig, source: str | Path, user: str = "system"
) -> Path | None:
    """Restore a vault whose database cannot be opened (corrupt or missing) from a backup.

    The damaged database and its WAL/SHM are kept as ``vault.db.damaged-<time>*``, never
    deleted — and moved aside even when only a stale WAL is left, which SQLite would otherwise
    replay onto the restored file. Returns the damaged database's new path (None if absent).
    Only for a vault that is a local file: a server's vault is restored while it is reachable.
    """
    if control_backend(config) != BackendType.LOCAL:
        raise ConfigurationError(
            "only a local vault file can be restored without opening the vault",
            hint="make the server reachable (and run `secretvault init` on an empty database), "
            "then restore again",
        )
    live = Path(config.storage_path)
    stamp = _stamp()
    damaged = live.with_name(f"{live.name}.damaged-{stamp}")
    scratch = await prepare_restore(
        config, source, user=user, note=f"previous database kept as {damaged.name}"
    )
    moved = False
    for suffix in DB_PARTS:
        part = live.with_name(live.name + suffix)
        if part.exists():
            part.replace(damaged.with_name(damaged.name + suffix))
            moved = True
    scratch.replace(live)
    return damaged if moved else None


# -- a vault a server keeps: restore from a dump (DumpableStore) -------------------------------


async def check_dump(
    config: SecretsConfig, store: DumpableStore, source: str | Path
) -> Path | None:
    """Check, before anything changes, that ``source`` is a dump of ``store``'s vault that the
    keys at hand can read. None: it was made under the current master key. A path: it was made
    before a ``rekey``, under the retired key kept in that file (``load_dump`` re-wraps it)."""
    source = Path(source)
    if not source.is_file():
        raise SecretNotFoundError(f"backup {source} does not exist")
    dumped = await store.read_dump_keys(source)
    if not dumped.ring:
        raise _not_a_backup(source, "it has no key ring")
    active = dumped.ring[0].key_id
    st = config.storage
    if st.passphrase and not dumped.kdf_salt:
        raise MasterKeyMismatchError(
            f"backup {source.name} was made under master key {active}, not under a passphrase",
            hint="restore it where that key is loaded; nothing was changed",
        )
    salt = base64.b64decode(dumped.kdf_salt) if st.passphrase and dumped.kdf_salt else None
    key = load_master_key(
        Path(config.master_key_path),
        encryption_key=st.encryption_key,
        passphrase=st.passphrase,
        kdf_salt=salt,
    )
    try:
        check_matches(key, dumped.ring)
        return None
    except SecretDecryptionError:
        pass
    retired = backups_folder(config.storage_path) / retired_key_name(active)
    if retired.exists() and not (st.encryption_key or st.passphrase):
        check_matches(read_key_file(retired), dumped.ring)  # a wrong file there is no way out
        return retired
    # Loaded, the dump would leave every host refused with "master key ... does not match";
    # saying so now leaves the vault as it is.
    raise MasterKeyMismatchError(
        f"backup {source.name} was made under master key {active}, and this vault's master key "
        f"is {key.key_id}: restored, it could not be read here",
        hint=f"restore it where master key {active} is loaded; if `secretvault rekey` retired "
        f"that key, put its file in {retired.parent} as {retired.name}. Nothing was changed",
    )


async def load_dump(
    config: SecretsConfig,
    ops: Operations,
    store: DumpableStore,
    source: Path,
    retired: Path | None,
    *,
    user: str,
    note: str,
) -> None:
    """Replace ``store``'s contents with the dump ``check_dump`` accepted, bring a pre-rekey
    dump under the current key, and append the ``restore`` entry to the restored trail."""
    await store.restore_dump(source)
    if retired is not None:
        # The loaded contents are under the retired key until this commits (other hosts'
        # reads fail meanwhile); a crash here is repaired by loading the retired key and
        # restoring again.
        under_retired = config.model_copy(
            update={"master_key_path": str(retired), "storage": StorageConfig()}
        )
        old = await _open_ops(under_retired, build_stores(under_retired))
        try:
            await rewrap_vault(old, ops.keys.key, user)
        finally:
            await old.stores.close()
    await adopt_restored_keys(ops)
    async with ops.unit() as unit:
        await ops.audit.append(unit.control, "restore", user, None, reason=f"{source.name}; {note}")
