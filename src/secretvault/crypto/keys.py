"""Master keys and where they come from: a key file (default), base64 in the environment or
settings, or a passphrase stretched with Argon2id.

A key file is 32 raw bytes, mode 0400, in a 0700 directory; like ssh, a key readable by group or
other is refused. A key is never generated over existing data: the vault decides whether a new
key may be created (no database yet) and calls ``create_key_file`` only then.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from secretvault.errors import MasterKeyError

KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class MasterKey:
    """32 bytes of key material plus a public id (a hash, safe to store and show)."""

    material: bytes = field(repr=False)
    source: str = "file"
    key_id: str = field(init=False)

    def __post_init__(self) -> None:
        if len(self.material) != KEY_BYTES:
            raise MasterKeyError(
                f"master key must be {KEY_BYTES} bytes, got {len(self.material)}",
                hint="generate one with `secretvault init` or `os.urandom(32)`",
            )
        # First 16 hex chars of SHA-256 over a label and the key: identifies, never reveals.
        digest = hashlib.sha256(b"secretvault/key-id|" + self.material).hexdigest()[:16]
        object.__setattr__(self, "key_id", digest)

    @classmethod
    def generate(cls) -> MasterKey:
        """A fresh random key."""
        return cls(os.urandom(KEY_BYTES), source="generated")


def check_key_permissions(path: Path) -> None:
    """Refuse a key file that group or other can read or write (as ssh does)."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise MasterKeyError(
            f"master key {path} is accessible by others (mode {stat.S_IMODE(mode):04o})",
            hint=f"run `chmod 400 {path}`",
        )


def read_key_file(path: Path) -> MasterKey:
    """Load a key file: 32 raw bytes, or the base64 of 32 bytes on one line."""
    if not path.exists():
        raise MasterKeyError(
            f"Master key not found: {path}",
            hint="restore it from your key backup, set master_key_path, or run "
            "`secretvault init` for a new vault",
        )
    check_key_permissions(path)
    try:
        data = path.read_bytes()
    except PermissionError:
        raise MasterKeyError(
            f"cannot read master key {path}", hint="run as the key's owner"
        ) from None
    if len(data) != KEY_BYTES:
        data = decode_b64_key(data.strip(), str(path))
    return MasterKey(data, source=f"file:{path}")


def decode_b64_key(text: bytes | str, where: str) -> bytes:
    """Decode a base64 master key, with an error that names where it came from."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise MasterKeyError(
            f"master key from {where} is not {KEY_BYTES} bytes of base64",
            hint='generate one with: python -c "import os,base64;'
            'print(base64.b64encode(os.urandom(32)).decode())"',
        )
    return raw


def create_key_file(path: Path, key: MasterKey | None = None) -> MasterKey:
    """Write a new key file with mode 0400 in a 0700 directory; never overwrite one."""
    key = key or MasterKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    except FileExistsError:
        raise MasterKeyError(
            f"refusing to overwrite existing master key {path}",
            hint="move it away first if you really mean to replace it",
        ) from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.material)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, 0o400)
    return MasterKey(key.material, source=f"file:{path}")


def passphrase_key(passphrase: str, salt: bytes) -> MasterKey:
    """Derive a key with Argon2id (RFC 9106 second recommended profile: 64 MiB, t=3, p=4)."""
    from argon2.low_level import Type, hash_secret_raw

    material = hash_secret_raw(
        passphrase.encode("utf-8"),
        salt,
        time_cost=3,
        memory_cost=65536,
        parallelism=4,
        hash_len=KEY_BYTES,
        type=Type.ID,
    )
    return MasterKey(material, source="passphrase")


def load_master_key(
    key_path: Path,
    *,
    encryption_key: str | None = None,
    passphrase: str | None = None,
    kdf_salt: bytes | None = None,
) -> MasterKey:
    """Pick the configured source: base64 setting, then passphrase, then the key file."""
    if encryption_key:
        return MasterKey(decode_b64_key(encryption_key, "settings storage.encryption_key"), "env")
    if passphrase:
        if kdf_salt is None:
            raise MasterKeyError("passphrase given but the vault has no KDF salt yet")
        return passphrase_key(passphrase, kdf_salt)
    return read_key_file(key_path)
