"""Envelope encryption and master-key handling (docs/architecture.md, "Encryption")."""

from secretvault.crypto.envelope import Envelope, decrypt_value, encrypt_value
from secretvault.crypto.keys import MasterKey, load_master_key

__all__ = ["Envelope", "MasterKey", "decrypt_value", "encrypt_value", "load_master_key"]
