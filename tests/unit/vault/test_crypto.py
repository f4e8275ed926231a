"""Envelope encryption and master-key handling (docs/architecture.md, "Encryption")."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretvault.crypto.envelope import Envelope, decrypt_value, encrypt_value
from secretvault.crypto.keys import (
    MasterKey,
    create_key_file,
    load_master_key,
    passphrase_key,
    read_key_file,
)
from secretvault.errors import MasterKeyError, SecretDecryptionError
from secretvault.models import secret_id_for

KEY = MasterKey.generate()
OTHER = MasterKey.generate()
SID = secret_id_for("db-password")
SID2 = secret_id_for("other-secret")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(min_size=0, max_size=2000), version=st.integers(1, 10_000))
def test_round_trip_any_text(text: str, version: int) -> None:
    env = encrypt_value(KEY, SID, version, text)
    assert env.key_id == KEY.key_id
    assert len(env.nonce) == 12 and len(env.salt) == 16
    assert decrypt_value(KEY, SID, version, env) == text
    encoded = text.encode("utf-8")
    if len(encoded) >= 8:
        assert encoded not in env.ciphertext


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ünïcødé — 秘密 🔑 \u0000 \U0010ffff",
        "x" * (1 << 20),
        "🔑" * 100_000,
    ],
)
def test_round_trip_edge_texts(text: str) -> None:
    env = encrypt_value(KEY, SID, 1, text)
    assert decrypt_value(KEY, SID, 1, env) == text


def test_fresh_salt_and_nonce_every_time() -> None:
    a = encrypt_value(KEY, SID, 1, "same plaintext value")
    b = encrypt_value(KEY, SID, 1, "same plaintext value")
    assert a.nonce != b.nonce
    assert a.salt != b.salt
    assert a.ciphertext != b.ciphertext


def test_wrong_key_fails() -> None:
    env = encrypt_value(KEY, SID, 1, "top secret value 123")
    with pytest.raises(SecretDecryptionError):
        decrypt_value(OTHER, SID, 1, env)
    # even if the envelope is re-labelled with the other key's id, GCM refuses it
    relabelled = Envelope(env.ciphertext, env.nonce, env.salt, OTHER.key_id)
    with pytest.raises(SecretDecryptionError):
        decrypt_value(OTHER, SID, 1, relabelled)


def test_aad_binds_secret_id() -> None:
    env = encrypt_value(KEY, SID, 1, "value-of-secret-one")
    with pytest.raises(SecretDecryptionError):
        decrypt_value(KEY, SID2, 1, env)


def test_aad_binds_version() -> None:
    env = encrypt_value(KEY, SID, 1, "value-of-version-one")
    for other_version in (0, 2, 10):
        with pytest.raises(SecretDecryptionError):
            decrypt_value(KEY, SID, other_version, env)


def test_aad_binds_key_id_label() -> None:
    env = encrypt_value(KEY, SID, 1, "value-under-key")
    relabelled = Envelope(env.ciphertext, env.nonce, env.salt, "0123456789abcdef")
    with pytest.raises(SecretDecryptionError):
        decrypt_value(KEY, SID, 1, relabelled)


def test_swapped_envelopes_never_return_the_other_plaintext() -> None:
    a = encrypt_value(KEY, SID, 1, "alpha-value-aaaaaaaa")
    b = encrypt_value(KEY, SID2, 1, "bravo-value-bbbbbbbb")
    v2 = encrypt_value(KEY, SID, 2, "alpha-version-two-22")
    for env, sid, version in ((b, SID, 1), (a, SID2, 1), (v2, SID, 1), (a, SID, 2)):
        with pytest.raises(SecretDecryptionError):
            decrypt_value(KEY, sid, version, env)
    # mixing fields from two envelopes fails as well
    mixed = Envelope(a.ciphertext, b.nonce, a.salt, a.key_id)
    with pytest.raises(SecretDecryptionError):
        decrypt_value(KEY, SID, 1, mixed)
    mixed = Envelope(a.ciphertext, a.nonce, b.salt, a.key_id)
    with pytest.raises(SecretDecryptionError):
        decrypt_value(KEY, SID, 1, mixed)


@settings(max_examples=40, deadline=None)
@given(pos=st.integers(min_value=0), bit=st.integers(0, 7))
def test_any_bit_flip_is_detected(pos: int, bit: int) -> None:
    env = encrypt_value(KEY, SID, 3, "bit flip target value")
    ct = bytearray(env.ciphertext)
    ct[pos % len(ct)] ^= 1 << bit
    with pytest.raises(SecretDecryptionError):
        decrypt_value(KEY, SID, 3, Envelope(bytes(ct), env.nonce, env.salt, env.key_id))


def test_decryption_error_does_not_contain_plaintext() -> None:
    env = encrypt_value(KEY, SID, 1, "plaintext-that-must-not-leak")
    with pytest.raises(SecretDecryptionError) as info:
        decrypt_value(KEY, SID2, 1, env)
    assert "plaintext-that-must-not-leak" not in str(info.value)
    assert info.value.__cause__ is None


# -- key files ------------------------------------------------------------------------------------


def test_created_key_file_modes(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    key = create_key_file(path)
    assert mode(path) == 0o400
    assert mode(path.parent) == 0o700
    assert path.read_bytes() == key.material
    assert len(key.material) == 32
    assert read_key_file(path).key_id == key.key_id


def test_create_key_file_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    key = create_key_file(path)
    with pytest.raises(MasterKeyError):
        create_key_file(path)
    assert path.read_bytes() == key.material


@pytest.mark.parametrize("bad_mode", [0o440, 0o404, 0o444, 0o644, 0o600 | 0o020, 0o402])
def test_group_or_other_accessible_key_refused(tmp_path: Path, bad_mode: int) -> None:
    path = tmp_path / "master.key"
    create_key_file(path)
    os.chmod(path, bad_mode)
    with pytest.raises(MasterKeyError) as info:
        read_key_file(path)
    msg = str(info.value)
    assert f"chmod 400 {path}" in msg
    assert f"{bad_mode:04o}" in msg


@pytest.mark.parametrize("ok_mode", [0o400, 0o600])
def test_owner_only_key_accepted(tmp_path: Path, ok_mode: int) -> None:
    path = tmp_path / "master.key"
    key = create_key_file(path)
    os.chmod(path, ok_mode)
    assert read_key_file(path).material == key.material


async def test_vault_refuses_world_readable_key(tmp_path: Path, open_vault) -> None:
    vault = await open_vault()
    await vault.shutdown()
    key_path = Path(vault.config.master_key_path)
    os.chmod(key_path, 0o644)
    with pytest.raises(MasterKeyError, match="chmod 400"):
        await open_vault()


def _write_key(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    os.chmod(path, 0o400)


@pytest.mark.parametrize("suffix", [b"", b"\n", b"\r\n", b"  \n"])
def test_base64_key_file_accepted(tmp_path: Path, suffix: bytes) -> None:
    raw = os.urandom(32)
    path = tmp_path / "master.key"
    _write_key(path, base64.b64encode(raw) + suffix)
    assert read_key_file(path).material == raw


@pytest.mark.parametrize(
    "data",
    [
        b"",
        os.urandom(31),
        os.urandom(33),
        os.urandom(64),
        base64.b64encode(os.urandom(16)),
        base64.b64encode(os.urandom(48)) + b"\n",
        b"not base64 at all !!!",
    ],
)
def test_wrong_length_key_file_rejected(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "master.key"
    _write_key(path, data)
    with pytest.raises(MasterKeyError, match="32 bytes"):
        read_key_file(path)


@pytest.mark.parametrize("n", [0, 16, 31, 33])
def test_master_key_length_enforced(n: int) -> None:
    with pytest.raises(MasterKeyError):
        MasterKey(os.urandom(n))


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError, match="Master key not found"):
        read_key_file(tmp_path / "nope.key")


def test_base64_setting_source(tmp_path: Path) -> None:
    raw = os.urandom(32)
    key = load_master_key(tmp_path / "absent.key", encryption_key=base64.b64encode(raw).decode())
    assert key.material == raw
    with pytest.raises(MasterKeyError):
        load_master_key(tmp_path / "absent.key", encryption_key="c2hvcnQ=")


def test_passphrase_key_deterministic_per_salt() -> None:
    salt = b"0123456789abcdef"
    a = passphrase_key("correct horse battery staple", salt)
    b = passphrase_key("correct horse battery staple", salt)
    assert a.material == b.material
    assert a.key_id == b.key_id
    assert len(a.material) == 32
    assert a.material != b"correct horse battery staple"[:32].ljust(32, b"\0")


def test_passphrase_without_salt_refused(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError):
        load_master_key(tmp_path / "k", passphrase="pw")


def test_repr_has_no_key_material() -> None:
    key = MasterKey.generate()
    for text in (repr(key), str(key)):
        assert key.material.hex() not in text
        assert repr(key.material)[2:-1] not in text
        assert base64.b64encode(key.material).decode() not in text
    assert key.key_id not in key.material.hex()
    assert len(key.key_id) == 16
    env = encrypt_value(key, SID, 1, "repr-check-value")
    assert env.ciphertext.hex() not in repr(env)
    assert repr(env.ciphertext) not in repr(env)


def test_key_id_is_stable_and_distinct() -> None:
    raw = os.urandom(32)
    assert MasterKey(raw).key_id == MasterKey(raw).key_id
    assert MasterKey(raw).key_id != MasterKey(os.urandom(32)).key_id


async def test_shutdown_drops_the_cached_data_keys(open_vault) -> None:
    """Per-version data keys are cached for speed while a vault is open, dropped at shutdown."""
    from secretvault.crypto import envelope

    vault = await open_vault()
    await vault.store_secret("api_key", "cached-key-test", "value-1234567890")
    await vault.get_secret("cached-key-test")
    assert envelope._dek.cache_info().currsize > 0
    await vault.shutdown()
    assert envelope._dek.cache_info().currsize == 0
