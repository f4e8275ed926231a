"""``KeyManager``: the master key in use, checked against the control store's key ring.

It creates the first key of an empty vault (never over existing data), loads and checks the
key on open, finishes a rekey hand-over a crashed process left behind (``crypto.keyring``),
seals new versions under the vault's *active* key, opens stored ones (following a rekey made
by another process without a restart), and re-encrypts everything for ``rekey``. It also
unwraps the audit chain's MAC key, which is stored encrypted under the master key.
"""

from __future__ import annotations

import base64
import os
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from secretvault.backends.base import NativeValue, StoredVersion, backups_folder
from secretvault.crypto.envelope import Envelope, decrypt_value, encrypt_value
from secretvault.crypto.keyring import KeyFiles, check_envelope, check_matches
from secretvault.crypto.keys import MasterKey, load_master_key
from secretvault.errors import MasterKeyError, SecretVaultError
from secretvault.models import utcnow

if TYPE_CHECKING:
    from secretvault.backends.base import ControlSession, Unit
    from secretvault.backends.stores import Stores
    from secretvault.core.operations import Operations

AUDIT_KEY_ID = "__audit__"  # envelope id of the wrapped audit MAC key


class KeySources(Protocol):
    """Where a master key may come from: ``storage.encryption_key``/``passphrase``."""

    @property
    def encryption_key(self) -> str | None: ...
    @property
    def passphrase(self) -> str | None: ...


class KeySettings(Protocol):
    """The settings ``KeyManager`` reads. ``SecretsConfig`` is one; the CLI's fast ``get``
    passes ``settings_layers.LeanSettings`` (no pydantic on that path)."""

    @property
    def master_key_path(self) -> str: ...
    @property
    def storage_path(self) -> str: ...
    @property
    def busy_timeout_ms(self) -> int: ...
    @property
    def storage(self) -> KeySources: ...


class KeyManager:
    """The master key and the audit MAC key of one open vault."""

    def __init__(self, config: KeySettings, *, native: bool = False) -> None:
        """``native``: the secret store encrypts values itself, so versions are stored as
        ``NativeValue`` (our envelope would make them unreadable to other tools)."""
        self.config = config
        self.native = native
        self._key: MasterKey | None = None
        self.audit_key = b""

    # -- open ---------------------------------------------------------------------------------

    @property
    def key(self) -> MasterKey:
        """The master key in use; an error before ``load``."""
        if self._key is None:
            raise SecretVaultError("the vault is not initialized; call initialize() first")
        return self._key

    @property
    def key_id(self) -> str:
        """Id of the master key in use."""
        return self.key.key_id

    @property
    def uses_key_file(self) -> bool:
        """False when the key comes from settings (``storage.encryption_key``/passphrase)."""
        storage = self.config.storage
        return not (storage.encryption_key or storage.passphrase)

    def key_files(self) -> KeyFiles:
        """The key file, its ``.next`` sibling and the retired-key folder."""
        return KeyFiles(
            Path(self.config.master_key_path),
            backups_folder(self.config.storage_path),
            self.config.busy_timeout_ms / 1000,
        )

    async def load(self, stores: Stores) -> None:
        """Load (or, for an empty key ring, create) the master key and the audit key."""
        files = self.key_files()
        with files.locked() if self.uses_key_file else nullcontext():
            async with stores.control.transaction() as ctl:
                ring = await ctl.keys()
                salt = await self._kdf_salt(ctl)
                if not ring:
                    key = files.create_first() if self.uses_key_file else self._read_key(salt)
                    await ctl.add_key(key.key_id, check_envelope(key))
                    self._key = key
            if ring:
                if self.uses_key_file:
                    files.complete_interrupted(ring[0].key_id)
                key = self._read_key(salt)
                check_matches(key, ring)
                self._key = key
        async with stores.control.transaction() as ctl:
            wrapped = await ctl.meta_get("audit_key")
            if wrapped is None:
                raw = os.urandom(32)
                await ctl.meta_set("audit_key", wrap_audit_key(self.key, raw))
                self.audit_key = raw
                return
        env = Envelope.from_json(wrapped)
        self.audit_key = bytes.fromhex(decrypt_value(self.key, AUDIT_KEY_ID, 0, env))

    async def _kdf_salt(self, ctl: ControlSession) -> bytes | None:
        """The passphrase KDF salt, kept in the vault (created with the vault)."""
        if not self.config.storage.passphrase:
            return None
        salt = await ctl.meta_get("kdf_salt")
        if salt is None:
            salt = base64.b64encode(os.urandom(16)).decode()
            await ctl.meta_set("kdf_salt", salt)
        return base64.b64decode(salt)

    def _read_key(self, kdf_salt: bytes | None) -> MasterKey:
        storage = self.config.storage
        return load_master_key(
            Path(self.config.master_key_path),
            encryption_key=storage.encryption_key,
            passphrase=storage.passphrase,
            kdf_salt=kdf_salt,
        )

    def _follow_rekey(self, wanted: str) -> MasterKey:
        """Another process rekeyed the vault: pick up the new key file without a restart."""
        try:
            key = self._read_key(None)
        except SecretVaultError:
            return self.key
        if key.key_id == wanted:
            self._key = key
        return self.key

    # -- values -------------------------------------------------------------------------------

    async def seal(
        self, ctl: ControlSession, secret_id: str, version: int, value: str, user: str, stage: str
    ) -> StoredVersion:
        """A new version of ``value``, encrypted under the vault's *active* key (another
        process may have run ``rekey`` since this one loaded its key: follow it, never write
        under a retired key)."""
        if self.native:
            return StoredVersion(version, NativeValue(value), utcnow(), user, stage)
        active = await ctl.active_key_id()
        if active != self.key.key_id and self._follow_rekey(active).key_id != active:
            raise MasterKeyError(
                f"the vault's active master key is {active}; this process holds "
                f"{self.key_id} and cannot load the new key file",
                hint="restart the process with the current master key",
            )
        envelope = encrypt_value(self.key, secret_id, version, value)
        return StoredVersion(version, envelope, utcnow(), user, stage)

    def open_value(self, secret_id: str, stored: StoredVersion) -> str:
        """The plaintext of a stored version (``SecretDecryptionError`` when it was altered)."""
        payload = stored.payload
        if isinstance(payload, NativeValue):
            return payload.value
        key = self.key
        if payload.key_id != key.key_id:
            key = self._follow_rekey(payload.key_id)
        return decrypt_value(key, secret_id, stored.version, payload)

    # -- rekey --------------------------------------------------------------------------------

    async def rewrap(self, unit: Unit, new: MasterKey) -> None:
        """Re-encrypt every version and the audit key under ``new`` and make it the active
        key, inside ``unit`` (the caller audits and commits). The in-memory key is switched
        by ``adopt`` once the unit committed."""
        old = self.key
        for secret_id, version, env in await unit.secrets.envelopes():
            plain = decrypt_value(old, secret_id, version, env)
            await unit.secrets.rewrap(
                secret_id, version, encrypt_value(new, secret_id, version, plain)
            )
        await unit.control.meta_set("audit_key", wrap_audit_key(new, self.audit_key))
        await unit.control.add_key(new.key_id, check_envelope(new))

    def adopt(self, key: MasterKey) -> None:
        """Use ``key`` from now on (after a committed rewrap)."""
        self._key = key


def wrap_audit_key(master: MasterKey, raw: bytes) -> str:
    """The audit MAC key, encrypted under the master key (text for the meta table)."""
    return encrypt_value(master, AUDIT_KEY_ID, 0, raw.hex()).to_json()


async def rewrap_vault(ops: Operations, new: MasterKey, user: str) -> None:
    """Re-encrypt everything under ``new`` and audit it in one unit; then use ``new``."""
    old_id = ops.keys.key_id
    async with ops.unit() as unit:
        await ops.keys.rewrap(unit, new)
        await ops.audit.append(
            unit.control, "rekey", user, None, reason=f"{old_id} -> {new.key_id}"
        )
    ops.keys.adopt(new)
