"""At-rest protection: altered or moved ciphertexts never decrypt, plaintext never reaches disk or
logs, files are private (docs/architecture.md, "Encryption")."""

from __future__ import annotations

import base64
import logging
import os
import stat
from pathlib import Path

import pytest
from vaulttest_helpers import distinctive, raw_db

from secretvault import SecretDecryptionError, SecretType, SecretVault, SecretVaultError
from secretvault.models import secret_id_for


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _exec(vault: SecretVault, *statements: tuple[str, tuple]) -> None:
    conn = raw_db(vault)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for sql, args in statements:
            conn.execute(sql, args)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _envelope(vault: SecretVault, name: str, version: int) -> tuple[bytes, bytes, bytes]:
    conn = raw_db(vault)
    try:
        return conn.execute(
            "SELECT ciphertext, nonce, salt FROM versions WHERE secret_id = ? AND version = ?",
            (secret_id_for(name), version),
        ).fetchone()
    finally:
        conn.close()


def _set_envelope(vault: SecretVault, name: str, version: int, **cols: bytes) -> None:
    sets = ", ".join(f"{c} = ?" for c in cols)
    _exec(
        vault,
        (
            f"UPDATE versions SET {sets} WHERE secret_id = ? AND version = ?",
            (*cols.values(), secret_id_for(name), version),
        ),
    )


async def _expect_refused(vault: SecretVault, name: str, forbidden: list[str], **kw) -> None:
    with pytest.raises(SecretDecryptionError) as info:
        await vault.get_secret(name, **kw)
    for value in forbidden:
        assert value not in str(info.value)


@pytest.mark.parametrize("where", ["first", "middle", "last"])
async def test_bit_flip_in_ciphertext(vault: SecretVault, where: str) -> None:
    value = distinctive()
    await vault.store_secret(SecretType.API_KEY, "flip", value)
    ct = bytearray(_envelope(vault, "flip", 1)[0])
    pos = {"first": 0, "middle": len(ct) // 2, "last": len(ct) - 1}[where]
    ct[pos] ^= 0x01
    _set_envelope(vault, "flip", 1, ciphertext=bytes(ct))
    await _expect_refused(vault, "flip", [value])
    # the refused read is audited as a failure, and the audit chain itself is intact
    last = (await vault.get_access_log("flip")).entries[-1]
    assert (last.action, last.success) == ("read", False)
    assert "SecretDecryptionError" in (last.reason or "")
    assert (await vault.verify_audit()).ok


@pytest.mark.parametrize("column", ["nonce", "salt"])
async def test_bit_flip_in_nonce_or_salt(vault: SecretVault, column: str) -> None:
    value = distinctive()
    await vault.store_secret(SecretType.API_KEY, "flip", value)
    _ct, nonce, salt = _envelope(vault, "flip", 1)
    blob = bytearray(nonce if column == "nonce" else salt)
    blob[3] ^= 0x80
    _set_envelope(vault, "flip", 1, **{column: bytes(blob)})
    await _expect_refused(vault, "flip", [value])


async def test_truncated_ciphertext(vault: SecretVault) -> None:
    value = distinctive()
    await vault.store_secret(SecretType.API_KEY, "trunc", value)
    ct = _envelope(vault, "trunc", 1)[0]
    _set_envelope(vault, "trunc", 1, ciphertext=ct[:-1])
    await _expect_refused(vault, "trunc", [value])
    _set_envelope(vault, "trunc", 1, ciphertext=b"")
    await _expect_refused(vault, "trunc", [value])


@pytest.mark.parametrize(
    "columns",
    [("ciphertext",), ("ciphertext", "nonce"), ("ciphertext", "nonce", "salt")],
)
async def test_swap_between_secrets(vault: SecretVault, columns: tuple[str, ...]) -> None:
    va, vb = distinctive("alpha"), distinctive("bravo")
    await vault.store_secret(SecretType.API_KEY, "alpha", va)
    await vault.store_secret(SecretType.API_KEY, "bravo", vb)
    ea = dict(zip(("ciphertext", "nonce", "salt"), _envelope(vault, "alpha", 1), strict=True))
    eb = dict(zip(("ciphertext", "nonce", "salt"), _envelope(vault, "bravo", 1), strict=True))
    _set_envelope(vault, "alpha", 1, **{c: eb[c] for c in columns})
    _set_envelope(vault, "bravo", 1, **{c: ea[c] for c in columns})
    await _expect_refused(vault, "alpha", [va, vb])
    await _expect_refused(vault, "bravo", [va, vb])


async def test_move_whole_version_row_to_another_secret(vault: SecretVault) -> None:
    va, vb = distinctive("alpha"), distinctive("bravo")
    await vault.store_secret(SecretType.API_KEY, "alpha", va)
    await vault.store_secret(SecretType.API_KEY, "bravo", vb)
    a, b = secret_id_for("alpha"), secret_id_for("bravo")
    _exec(
        vault,
        ("UPDATE versions SET secret_id = 'tmp' WHERE secret_id = ?", (a,)),
        ("UPDATE versions SET secret_id = ? WHERE secret_id = ?", (a, b)),
        ("UPDATE versions SET secret_id = ? WHERE secret_id = 'tmp'", (b,)),
    )
    await _expect_refused(vault, "alpha", [va, vb])
    await _expect_refused(vault, "bravo", [va, vb])


async def test_swap_versions_of_one_secret(vault: SecretVault) -> None:
    v1, v2 = distinctive("one"), distinctive("two")
    await vault.store_secret(SecretType.API_KEY, "ver", v1)
    await vault.update_secret("ver", v2)
    _exec(
        vault,
        (
            "UPDATE versions SET version = -1 WHERE secret_id = ? AND version = 1",
            (secret_id_for("ver"),),
        ),
        (
            "UPDATE versions SET version = 1 WHERE secret_id = ? AND version = 2",
            (secret_id_for("ver"),),
        ),
        (
            "UPDATE versions SET version = 2 WHERE secret_id = ? AND version = -1",
            (secret_id_for("ver"),),
        ),
    )
    await _expect_refused(vault, "ver", [v1, v2])
    await _expect_refused(vault, "ver", [v1, v2], version=1)
    await _expect_refused(vault, "ver", [v1, v2], version=2)


async def test_swap_version_envelopes_of_one_secret(vault: SecretVault) -> None:
    v1, v2 = distinctive("one"), distinctive("two")
    await vault.store_secret(SecretType.API_KEY, "ver", v1)
    await vault.update_secret("ver", v2)
    e1, e2 = _envelope(vault, "ver", 1), _envelope(vault, "ver", 2)
    names = ("ciphertext", "nonce", "salt")
    _set_envelope(vault, "ver", 1, **dict(zip(names, e2, strict=True)))
    _set_envelope(vault, "ver", 2, **dict(zip(names, e1, strict=True)))
    await _expect_refused(vault, "ver", [v1, v2])
    await _expect_refused(vault, "ver", [v1, v2], version=1)


async def test_relabelled_key_id(vault: SecretVault) -> None:
    value = distinctive()
    await vault.store_secret(SecretType.API_KEY, "kid", value)
    _exec(vault, ("UPDATE versions SET key_id = '0123456789abcdef'", ()))
    with pytest.raises(SecretVaultError) as info:
        await vault.get_secret("kid")
    assert value not in str(info.value)


# -- plaintext never at rest -------------------------------------------------------------------


def _encodings(value: str) -> list[bytes]:
    raw = value.encode("utf-8")
    return [
        raw,
        value.encode("utf-16-le"),
        value.encode("utf-16-be"),
        base64.b64encode(raw),
        base64.urlsafe_b64encode(raw),
        raw.hex().encode(),
        raw[4:20],  # a 16-byte fragment
    ]


def _assert_absent(blob: bytes, values: list[str], where: str) -> None:
    for value in values:
        for enc in _encodings(value):
            assert enc not in blob, f"{value!r} found in {where} ({enc[:12]!r}...)"


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


async def test_no_plaintext_on_disk_or_in_logs(
    open_vault,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    vault = await open_vault(max_versions=2)
    values = [distinctive(f"s{i}") + os.urandom(8).hex() for i in range(8)]
    for i, value in enumerate(values[:5]):
        await vault.store_secret(SecretType.API_KEY, f"secret-{i}", value, tags=["t"])
    # updates: the superseded and the pruned versions must not leave plaintext behind either
    await vault.update_secret("secret-0", values[5])
    await vault.update_secret("secret-0", values[6])
    await vault.update_secret("secret-0", values[7])
    await vault.rotate_secret("secret-1")
    for i in range(5):
        await vault.get_secret(f"secret-{i}")
    await vault.soft_delete_secret("secret-2")
    await vault.delete_secret("secret-3")
    backup = await vault.backup()

    data_dir = tmp_path / "data"
    db = Path(vault.config.storage_path)
    assert db.with_name(db.name + "-wal").exists()  # WAL mode: the log must be checked too
    for path in _files_under(data_dir):  # while the vault is still open
        _assert_absent(path.read_bytes(), values, f"{path} (open)")
    await vault.shutdown()
    checked = _files_under(data_dir)
    assert db in checked and backup in checked
    for path in checked:
        _assert_absent(path.read_bytes(), values, f"{path} (closed)")
    out = capsys.readouterr()
    logs = caplog.text + out.out + out.err
    _assert_absent(logs.encode(), values, "logs/stdout/stderr")


async def test_sanity_the_leak_check_can_fail(vault: SecretVault) -> None:
    """The absence checks above would see a value that *is* on disk (names are stored plainly)."""
    marker = distinctive("name")
    await vault.store_secret(SecretType.API_KEY, marker, "value-1234567890")
    blob = b"".join(p.read_bytes() for p in _files_under(Path(vault.config.storage_path).parent))
    with pytest.raises(AssertionError):
        _assert_absent(blob, [marker], "db")


async def test_file_modes(open_vault, tmp_path: Path) -> None:
    vault = await open_vault()
    await vault.store_secret(SecretType.API_KEY, "m", "value-1234567890")
    backup = await vault.backup()
    db = Path(vault.config.storage_path)
    key = Path(vault.config.master_key_path)
    assert _mode(db) == 0o600
    assert _mode(key) == 0o400
    assert _mode(db.parent) == 0o700
    assert _mode(backup) == 0o600
    assert _mode(backup.parent) == 0o700
    for suffix in ("-wal", "-shm"):
        side = db.with_name(db.name + suffix)
        if side.exists():
            assert _mode(side) & 0o077 == 0, side


async def test_key_in_separate_directory_gets_0700(tmp_path: Path) -> None:
    from vaulttest_helpers import make_config

    cfg = make_config(tmp_path)
    cfg.master_key_path = str(tmp_path / "keys" / "nested" / "master.key")
    vault = SecretVault(cfg)
    await vault.initialize()
    try:
        assert _mode(tmp_path / "keys" / "nested") == 0o700
        assert _mode(Path(cfg.master_key_path)) == 0o400
    finally:
        await vault.shutdown()


@pytest.mark.parametrize("metadata", ["{not json", '{"rotation_days": 0}', "[]"])
async def test_damaged_metadata_is_a_clear_error(vault: SecretVault, metadata: str) -> None:
    """A metadata column changed at rest is reported as a damaged store with what to do, not
    as a validation traceback; the row is never quoted."""
    from secretvault import BackendUnavailableError

    await vault.store_secret(SecretType.API_KEY, "meta-victim", "value-1234567890")
    _exec(vault, ("UPDATE secrets SET metadata = ? WHERE name = ?", (metadata, "meta-victim")))
    with pytest.raises(BackendUnavailableError) as info:
        await vault.get_secret("meta-victim")
    assert "damaged" in str(info.value) and "restore --from-backup" in (info.value.hint or "")
    assert metadata not in str(info.value)
