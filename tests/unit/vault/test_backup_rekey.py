"""Backup, restore, master-key rotation (rekey) and what happens with missing/wrong keys or a
corrupt store (the guide's "Recovery Procedures" and "Troubleshooting"; docs/architecture.md,
"Encryption")."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from vaulttest_helpers import distinctive, make_config, raw_db

from secretvault import (
    BackendUnavailableError,
    MasterKeyError,
    SecretDecryptionError,
    SecretNotFoundError,
    SecretType,
    SecretVault,
    SecretVaultError,
)
from secretvault.crypto.keyring import KeyFiles
from secretvault.crypto.keys import MasterKey, create_key_file, read_key_file


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _paths(vault: SecretVault) -> tuple[Path, Path, Path]:
    db = Path(vault.config.storage_path)
    return db, Path(vault.config.master_key_path), db.parent / "backups"


# -- backup / restore ----------------------------------------------------------------------------


async def test_backup_location_and_retention(open_vault, tmp_path: Path) -> None:
    vault = await open_vault(backup_retention=3)
    await vault.store_secret(SecretType.API_KEY, "b", "value-1234567890")
    made = [await vault.backup() for _ in range(5)]
    folder = tmp_path / "data" / "secrets" / "backups"
    for path in made:
        assert path.parent == folder
        assert path.name.startswith("vault-") and path.suffix == ".db"
    remaining = sorted(folder.glob("vault-*.db"))
    assert remaining == sorted(made[-3:])
    assert _mode(folder) == 0o700


async def test_backup_to_explicit_destination(vault: SecretVault, tmp_path: Path) -> None:
    await vault.store_secret(SecretType.API_KEY, "b", "value-1234567890")
    target = tmp_path / "elsewhere" / "copy.db"
    assert await vault.backup(target) == target
    assert target.is_file() and _mode(target) == 0o600


async def test_backup_never_overwrites_destination(vault: SecretVault, tmp_path: Path) -> None:
    await vault.store_secret(SecretType.API_KEY, "b", "value-1234567890")
    target = tmp_path / "copy.db"
    target.write_bytes(b"precious other file")
    with pytest.raises(SecretVaultError):
        await vault.backup(target)
    assert target.read_bytes() == b"precious other file"


async def test_restore_brings_back_deleted_secret(open_vault) -> None:
    vault = await open_vault()
    keep, later = distinctive("keep"), distinctive("later")
    await vault.store_secret(SecretType.API_KEY, "precious", keep)
    backup = await vault.backup()
    assert await vault.delete_secret("precious") is True
    await vault.store_secret(SecretType.API_KEY, "after-backup", later)

    safety = await vault.restore(backup)
    assert safety != backup and safety.is_file()
    assert (await vault.get_secret("precious"))[0] == keep
    with pytest.raises(SecretNotFoundError):  # the backup predates it
        await vault.get_secret("after-backup")
    assert (await vault.verify_audit()).ok
    actions = [e.action for e in (await vault.get_access_log()).entries]
    assert actions.count("restore") == 1
    assert "delete" not in actions  # the audit trail is the backup's, plus the restore

    # the state before the restore was saved first: restoring the safety copy brings it back
    await vault.restore(safety)
    assert (await vault.get_secret("after-backup"))[0] == later
    with pytest.raises(SecretNotFoundError):
        await vault.get_secret("precious")


async def test_restore_is_seen_by_other_instance_with_cache(open_vault) -> None:
    a = await open_vault()
    b = await open_vault(cache_enabled=True)
    v1, v2 = distinctive("one"), distinctive("two")
    await a.store_secret(SecretType.API_KEY, "c", v1)
    backup = await a.backup()
    await a.update_secret("c", v2)
    assert (await b.get_secret("c"))[0] == v2
    assert (await b.get_secret("c"))[0] == v2
    await a.restore(backup)
    assert (await b.get_secret("c"))[0] == v1


def _snapshot(vault: SecretVault) -> tuple:
    conn = raw_db(vault)
    try:
        return (
            conn.execute("SELECT * FROM secrets ORDER BY id").fetchall(),
            conn.execute("SELECT * FROM versions ORDER BY secret_id, version").fetchall(),
            conn.execute("SELECT count(*) FROM audit").fetchone(),
        )
    finally:
        conn.close()


@pytest.mark.parametrize("kind", ["random", "text", "truncated", "foreign-sqlite"])
async def test_restore_corrupt_file(vault: SecretVault, tmp_path: Path, kind: str) -> None:
    import sqlite3

    await vault.store_secret(SecretType.API_KEY, "s", "value-1234567890")
    good = await vault.backup()
    bad = tmp_path / f"bad-{kind}.db"
    if kind == "random":
        bad.write_bytes(os.urandom(8192))
    elif kind == "text":
        bad.write_text("this is not a database\n" * 100)
    elif kind == "truncated":
        bad.write_bytes(good.read_bytes()[:1500])
    else:
        conn = sqlite3.connect(bad)
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
        conn.close()
    before = _snapshot(vault)
    backups_before = sorted(good.parent.iterdir())
    with pytest.raises(SecretVaultError) as info:
        await vault.restore(bad)
    assert str(bad) in str(info.value)
    assert _snapshot(vault) == before
    assert sorted(good.parent.iterdir()) == backups_before  # not even a safety copy
    assert (await vault.get_secret("s"))[0] == "value-1234567890"


async def test_restore_missing_file(vault: SecretVault, tmp_path: Path) -> None:
    with pytest.raises(SecretNotFoundError):
        await vault.restore(tmp_path / "nope.db")


async def test_restore_backup_made_under_another_key(tmp_path: Path, open_vault) -> None:
    other = SecretVault(make_config(tmp_path / "other"))
    await other.initialize()
    await other.store_secret(SecretType.API_KEY, "foreign", "value-1234567890")
    foreign_backup = await other.backup()
    other_key_id = other.key_id
    await other.shutdown()

    vault = await open_vault()
    await vault.store_secret(SecretType.API_KEY, "mine", "value-mine-12345678")
    before = _snapshot(vault)
    with pytest.raises(MasterKeyError) as info:
        await vault.restore(foreign_backup)
    assert other_key_id in str(info.value)
    assert _snapshot(vault) == before
    with pytest.raises(SecretNotFoundError):
        await vault.get_secret("foreign")


async def test_after_losing_the_database_init_then_restore_keeps_the_chain_verifiable(
    tmp_path: Path,
) -> None:
    # The re-created vault has an audit MAC key of its own; the restored one brings its own
    # back, and entries written after the restore must be sealed with that one.
    cfg = make_config(tmp_path)
    vault = SecretVault(cfg)
    await vault.initialize()
    await vault.store_secret(SecretType.API_KEY, "dr", "value-dr-1234567890")
    backup = await vault.backup(tmp_path / "kept.db")
    await vault.shutdown()
    for part in ("", "-wal", "-shm"):
        Path(cfg.storage_path + part).unlink(missing_ok=True)

    fresh = SecretVault(cfg)
    await fresh.initialize()  # `secretvault init`: an empty vault under the same key file
    try:
        await fresh.restore(backup)
        assert (await fresh.get_secret("dr"))[0] == "value-dr-1234567890"
        report = await fresh.verify_audit()
        assert report.ok, report
    finally:
        await fresh.shutdown()


async def test_a_server_vault_is_never_restored_by_replacing_a_local_file(
    tmp_path: Path,
) -> None:
    from secretvault.errors import ConfigurationError
    from secretvault.restore import restore_unopenable_vault

    source = tmp_path / "vault.pgdump"
    source.write_bytes(b"PGDMP")
    cfg = make_config(tmp_path, default_backend="postgres", postgres_dsn="postgresql://h/db")
    with pytest.raises(ConfigurationError, match="only a local vault file"):
        await restore_unopenable_vault(cfg, source)
    assert not Path(cfg.storage_path).parent.exists()  # no SQLite vault appeared in its place


# -- rekey -------------------------------------------------------------------------------------


async def test_rekey(open_vault) -> None:
    a = await open_vault(max_versions=0)
    values = {f"s{i}": [distinctive(f"s{i}v{j}") for j in range(3)] for i in range(3)}
    for name, vs in values.items():
        await a.store_secret(SecretType.API_KEY, name, vs[0])
        for v in vs[1:]:
            await a.update_secret(name, v)
    b = await open_vault()  # opened before the rekey
    assert (await b.get_secret("s0"))[0] == values["s0"][2]
    _db, key_path, backups = _paths(a)
    old_key = read_key_file(key_path)

    new_id = await a.rekey()

    assert new_id != old_key.key_id and a.key_id == new_id
    new_key = read_key_file(key_path)
    assert new_key.key_id == new_id
    assert _mode(key_path) == 0o400
    retired = backups / f"master.key.{old_key.key_id}"
    assert retired.read_bytes() == old_key.material
    assert not key_path.with_name(key_path.name + ".next").exists()
    for name, vs in values.items():
        for version, v in enumerate(vs, start=1):
            assert (await a.get_secret(name, version=version))[0] == v
    conn = raw_db(a)
    try:
        assert {r[0] for r in conn.execute("SELECT DISTINCT key_id FROM versions")} == {new_id}
    finally:
        conn.close()
    assert (await a.verify_audit()).ok
    assert "rekey" in [e.action for e in (await a.get_access_log()).entries]

    # the instance opened before the rekey keeps reading (it picks up the new key file)
    for name, vs in values.items():
        assert (await b.get_secret(name))[0] == vs[2]
        assert (await b.get_secret(name, version=1))[0] == vs[0]
    assert (await b.verify_audit()).ok

    # a fresh instance opens with the new key
    await a.shutdown()
    await b.shutdown()
    c = await open_vault()
    assert (await c.get_secret("s1", version=2))[0] == values["s1"][1]


async def test_instance_opened_before_rekey_can_write_after_it(open_vault) -> None:
    a = await open_vault()
    await a.store_secret(SecretType.API_KEY, "w", "value-1234567890")
    b = await open_vault()
    await a.rekey()
    fresh = distinctive("after-rekey")
    await b.update_secret("w", fresh)  # b has not read anything since the rekey
    await b.store_secret(SecretType.API_KEY, "w2", fresh)
    assert (await a.get_secret("w"))[0] == fresh
    assert (await a.get_secret("w2"))[0] == fresh


async def test_backup_from_before_rekey_is_brought_under_the_current_key(open_vault) -> None:
    a = await open_vault()
    await a.store_secret(SecretType.API_KEY, "k", "value-1234567890")
    backup = await a.backup()
    await a.rekey()
    new_id = a.key_id
    await a.store_secret(SecretType.API_KEY, "k2", "value-2234567890")
    await a.restore(backup)  # the retired key is in backups/: the backup is re-wrapped
    assert (await a.get_secret("k"))[0] == "value-1234567890"
    with pytest.raises(SecretNotFoundError):
        await a.get_secret("k2")
    assert a.key_id == new_id
    assert {v.key_id for v in await a.history("k")} == {new_id}
    assert (await a.verify_audit()).ok


async def test_backup_under_a_key_that_is_not_kept_is_refused(open_vault) -> None:
    a = await open_vault()
    await a.store_secret(SecretType.API_KEY, "k", "value-1234567890")
    old_id = a.key_id
    backup = await a.backup()
    await a.rekey()
    _, _, backups = _paths(a)
    (backups / f"master.key.{old_id}").unlink()
    before = _snapshot(a)
    with pytest.raises(MasterKeyError) as info:
        await a.restore(backup)
    assert old_id in str(info.value) and "backups" in str(info.value)
    assert _snapshot(a) == before


async def test_old_key_after_rekey_is_refused_as_retired(open_vault) -> None:
    a = await open_vault()
    await a.store_secret(SecretType.API_KEY, "r", "value-1234567890")
    _, key_path, backups = _paths(a)
    old_id = a.key_id
    await a.rekey()
    await a.shutdown()
    key_path.unlink()
    shutil.copy(backups / f"master.key.{old_id}", key_path)
    os.chmod(key_path, 0o400)
    with pytest.raises(MasterKeyError, match="retired"):
        await open_vault()


async def test_rekey_crash_after_commit_is_completed(
    open_vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = await open_vault()
    value = distinctive()
    await a.store_secret(SecretType.API_KEY, "k", value)
    _, key_path, backups = _paths(a)
    old = read_key_file(key_path)

    real_retire, crashed = KeyFiles.retire, []

    def crash(self: KeyFiles, old: MasterKey) -> None:
        if not crashed:  # only the rekeying process dies; the next opener completes the swap
            crashed.append(True)
            raise SystemExit("killed between commit and key swap")
        real_retire(self, old)

    monkeypatch.setattr(KeyFiles, "retire", crash)
    with pytest.raises(SystemExit):
        await a.rekey()
    nxt = key_path.with_name(key_path.name + ".next")
    assert nxt.exists() and read_key_file(key_path).key_id == old.key_id  # the crash state
    new_id = read_key_file(nxt).key_id
    await a.stores.close()

    b = await open_vault()
    assert b.key_id == new_id
    assert not nxt.exists()
    assert read_key_file(key_path).key_id == new_id
    assert _mode(key_path) == 0o400
    assert (backups / f"master.key.{old.key_id}").read_bytes() == old.material
    assert (await b.get_secret("k"))[0] == value
    assert (await b.verify_audit()).ok


async def test_rekey_crash_before_commit_keeps_old_key(open_vault) -> None:
    a = await open_vault()
    value = distinctive()
    await a.store_secret(SecretType.API_KEY, "k", value)
    old_id = a.key_id
    await a.shutdown()
    _, key_path, _ = _paths(a)
    nxt = key_path.with_name(key_path.name + ".next")
    create_key_file(nxt)  # written, but the transaction never committed
    b = await open_vault()
    assert b.key_id == old_id
    assert not nxt.exists()
    assert read_key_file(key_path).key_id == old_id
    assert (await b.get_secret("k"))[0] == value


# -- missing / wrong key, corrupt store --------------------------------------------------------


async def test_missing_key_with_existing_data(open_vault) -> None:
    a = await open_vault()
    await a.store_secret(SecretType.API_KEY, "k", "value-1234567890")
    await a.shutdown()
    _, key_path, _ = _paths(a)
    key_path.unlink()
    with pytest.raises(MasterKeyError, match="Master key not found"):
        await open_vault()
    assert not key_path.exists()
    assert not key_path.with_name(key_path.name + ".next").exists()


async def test_missing_key_for_empty_vault_is_created(open_vault) -> None:
    a = await open_vault()
    _, key_path, _ = _paths(a)
    assert key_path.exists() and _mode(key_path) == 0o400


async def test_wrong_key(open_vault) -> None:
    a = await open_vault()
    await a.store_secret(SecretType.API_KEY, "k", "value-1234567890")
    await a.shutdown()
    _, key_path, _ = _paths(a)
    original = key_path.read_bytes()
    key_path.unlink()
    create_key_file(key_path, MasterKey.generate())
    with pytest.raises(MasterKeyError, match="does not match") as info:
        await open_vault()
    # The guide documents a changed key as a decryption failure: code catching
    # SecretDecryptionError must catch it too, with the same message and exit code.
    assert isinstance(info.value, SecretDecryptionError)
    assert info.value.exit_code == MasterKeyError.exit_code == 9
    key_path.unlink()
    key_path.write_bytes(original)
    os.chmod(key_path, 0o400)
    b = await open_vault()
    assert (await b.get_secret("k"))[0] == "value-1234567890"


async def test_the_guides_decryption_check_catches_a_changed_master_key(open_vault) -> None:
    """The guide's "Failed to decrypt secret" troubleshooting code, as written, with a key that
    is not the vault's: its ``except`` sees the failure (the vault refuses at initialize)."""
    a = await open_vault()
    await a.store_secret(SecretType.API_KEY, "test-secret", "value-1234567890")
    await a.shutdown()
    _, key_path, _ = _paths(a)
    key_path.unlink()
    create_key_file(key_path, MasterKey.generate())
    outcome = ""
    try:
        vault = SecretVault(a.config)
        await vault.initialize()
        value, _ = await vault.get_secret("test-secret")
        outcome = f"ok {value[:10]}"
    except SecretDecryptionError as e:
        outcome = f"Decryption failed: {e}"
    assert outcome.startswith("Decryption failed: master key")


async def test_corrupt_database_file(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    db = Path(cfg.storage_path)
    db.parent.mkdir(parents=True, mode=0o700)
    junk = os.urandom(16384)
    db.write_bytes(junk)
    vault = SecretVault(cfg)
    with pytest.raises(BackendUnavailableError) as info:
        await vault.initialize()
    assert "restore" in str(info.value)
    assert db.read_bytes() == junk  # nothing was changed
    assert not Path(cfg.master_key_path).exists()


# -- master keys from settings -------------------------------------------------------------------


async def test_vault_with_base64_key_setting(tmp_path: Path) -> None:
    import base64

    raw = os.urandom(32)
    b64 = base64.b64encode(raw).decode()
    cfg = make_config(tmp_path, storage={"encryption_key": b64})
    vault = SecretVault(cfg)
    await vault.initialize()
    await vault.store_secret(SecretType.API_KEY, "k", "value-1234567890")
    await vault.shutdown()
    assert not Path(cfg.master_key_path).exists()  # no key file when the key comes from settings
    assert MasterKey(raw).key_id == vault.key_id
    again = SecretVault(make_config(tmp_path, storage={"encryption_key": b64}))
    await again.initialize()
    try:
        assert (await again.get_secret("k"))[0] == "value-1234567890"
        with pytest.raises(SecretVaultError):
            await again.rekey()
    finally:
        await again.shutdown()
    other = base64.b64encode(os.urandom(32)).decode()
    wrong = SecretVault(make_config(tmp_path, storage={"encryption_key": other}))
    with pytest.raises(MasterKeyError):
        await wrong.initialize()


async def test_vault_with_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The vault's passphrase plumbing (salt stored once, same key on reopen, wrong phrase
    refused). Argon2id itself is exercised at full cost in test_crypto; here it runs with a
    small memory cost so three derivations stay fast."""
    import argon2.low_level

    real = argon2.low_level.hash_secret_raw
    calls: list[bytes] = []

    def cheap(secret: bytes, salt: bytes, **kw: object) -> bytes:
        calls.append(salt)
        kw.update(memory_cost=1024, time_cost=1)
        return real(secret, salt, **kw)

    monkeypatch.setattr(argon2.low_level, "hash_secret_raw", cheap)
    cfg = make_config(tmp_path, storage={"passphrase": "correct horse battery staple"})
    vault = SecretVault(cfg)
    await vault.initialize()
    await vault.store_secret(SecretType.API_KEY, "k", "value-1234567890")
    await vault.shutdown()
    assert not Path(cfg.master_key_path).exists()
    assert "correct horse" not in Path(cfg.storage_path).read_bytes().decode("latin-1")
    again = SecretVault(
        make_config(tmp_path, storage={"passphrase": "correct horse battery staple"})
    )
    await again.initialize()
    try:
        assert again.key_id == vault.key_id  # same passphrase + stored salt -> same key
        assert (await again.get_secret("k"))[0] == "value-1234567890"
    finally:
        await again.shutdown()
    wrong = SecretVault(make_config(tmp_path, storage={"passphrase": "Tr0ub4dor&3"}))
    with pytest.raises(MasterKeyError):
        await wrong.initialize()
    assert len(calls) == 3 and len(set(calls)) == 1  # one salt, created once and stored
    assert len(calls[0]) == 16
