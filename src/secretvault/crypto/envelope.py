"""Per-version envelope encryption. The crypto decisions, written down once:

- DEK = HKDF-SHA256(master key, salt = 16 random bytes, info = LABEL + secret id), 32 bytes.
- AES-256-GCM with a random 12-byte nonce; a fresh salt per version means a fresh DEK per
  version, so nonce reuse across versions is harmless even in theory.
- Associated data = ``secret id | version | key id``: a ciphertext copied to another secret, another
  version or re-labelled with another key id fails authentication instead of decrypting to a
  wrong value.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from secretvault.crypto.keys import MasterKey
from secretvault.errors import SecretDecryptionError, SecretEncryptionError

LABEL = b"secretvault/v1/dek|"
SALT_BYTES = 16
NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class Envelope:
    """What is stored for one version: ciphertext (with GCM tag), nonce, salt, key id."""

    ciphertext: bytes = field(repr=False)
    nonce: bytes = field(repr=False)
    salt: bytes = field(repr=False)
    key_id: str

    def to_json(self) -> str:
        """Text form, for envelopes kept in a text column (the wrapped audit key)."""
        b64 = base64.b64encode
        return json.dumps(
            {
                "ct": b64(self.ciphertext).decode(),
                "nonce": b64(self.nonce).decode(),
                "salt": b64(self.salt).decode(),
                "key_id": self.key_id,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Envelope:
        """Inverse of ``to_json``."""
        d = json.loads(text)
        b64d = base64.b64decode
        return cls(b64d(d["ct"]), b64d(d["nonce"]), b64d(d["salt"]), d["key_id"])


@lru_cache(maxsize=4096)
def _dek(master: MasterKey, salt: bytes, secret_id: str) -> AESGCM:
    """The version's data key. Cached per (key, salt, id): HKDF is a third of an uncached read,
    and the cache holds nothing the process does not already hold (the master key)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=LABEL + secret_id.encode())
    return AESGCM(hkdf.derive(master.material))


def forget_data_keys() -> None:
    """Drop every cached data key (a vault's shutdown). The cache is per process, so another
    vault still open here derives its keys again on its next reads. Python cannot overwrite
    the key bytes an ``AESGCM`` object holds; dropping the last reference is what it offers."""
    _dek.cache_clear()


def associated_data(secret_id: str, version: int, key_id: str) -> bytes:
    """The bytes GCM authenticates alongside the ciphertext."""
    return f"{secret_id}|{version}|{key_id}".encode()


def encrypt_value(master: MasterKey, secret_id: str, version: int, plaintext: str) -> Envelope:
    """Encrypt one version's value under ``master``."""
    try:
        salt = os.urandom(SALT_BYTES)
        nonce = os.urandom(NONCE_BYTES)
        aad = associated_data(secret_id, version, master.key_id)
        ct = _dek(master, salt, secret_id).encrypt(nonce, plaintext.encode("utf-8"), aad)
    except Exception as exc:  # never chain: the exception could carry the plaintext
        raise SecretEncryptionError(f"encryption failed ({type(exc).__name__})") from None
    return Envelope(ct, nonce, salt, master.key_id)


def decrypt_value(master: MasterKey, secret_id: str, version: int, env: Envelope) -> str:
    """Decrypt and authenticate one version; any mismatch raises SecretDecryptionError."""
    if env.key_id != master.key_id:
        raise SecretDecryptionError(
            f"version {version} is encrypted under key {env.key_id}, not the loaded key "
            f"{master.key_id}",
            hint="load the master key this vault was created with (see `secretvault doctor`)",
        )
    try:
        aad = associated_data(secret_id, version, env.key_id)
        data = _dek(master, env.salt, secret_id).decrypt(env.nonce, env.ciphertext, aad)
        return data.decode("utf-8")
    except (InvalidTag, ValueError, UnicodeDecodeError):
        raise SecretDecryptionError(
            f"failed to decrypt secret version {version}: the data was altered or corrupted",
            hint="restore from a backup (`secretvault restore`) or re-set the secret",
        ) from None
