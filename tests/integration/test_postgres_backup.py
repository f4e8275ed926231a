"""Backup and restore of a vault in PostgreSQL with the real pg_dump and pg_restore: values come
back, nothing is lost (the state before a restore is saved), the audit chain verifies across
the restore, a dump holds no plaintext and is mode 0600, a dump the master key at hand cannot
read is refused before anything changes, a dump from before a rekey is brought under the
current key, and the password never appears on the tools' command lines.

Needs the test PostgreSQL that ``scripts/test.sh`` starts (SECRETVAULT_TEST_POSTGRES_DSN).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

import pgtest
import pytest

from secretvault import SecretsConfig, SecretType, SecretVault
from secretvault.crypto.keys import MasterKey, create_key_file
from secretvault.errors import (
    ConfigurationError,
    MasterKeyMismatchError,
    SecretDecryptionError,
    SecretNotFoundError,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_config(tmp_path: Path) -> SecretsConfig:
    pgtest.require_postgres()
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        if os.environ.get("CI"):
            pytest.fail("pg_dump/pg_restore are not installed (Debian: postgresql-client)")
        pytest.skip("pg_dump/pg_restore are not installed (Debian: postgresql-client)")
    return pgtest.pg_config(tmp_path, "b", max_versions=0)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _value(tag: str) -> str:
    return f"plain-{tag}-" + os.urandom(10).hex()


async def _drop_schema(config: SecretsConfig) -> None:
    import psycopg

    assert config.postgres_dsn is not None
    async with await psycopg.AsyncConnection.connect(config.postgres_dsn, autocommit=True) as c:
        await c.execute(f"DROP SCHEMA {config.postgres_schema} CASCADE")


async def test_backup_change_restore_brings_the_values_back_and_the_chain_verifies(
    pg_config: SecretsConfig, tmp_path: Path
) -> None:
    values = {name: _value(name) for name in ("alpha", "beta", "gamma")}
    vault = SecretVault(pg_config)
    await vault.initialize()
    try:
        for name, value in values.items():
            await vault.store_secret(SecretType.API_KEY, name, value)
        await vault.update_secret("alpha", values["alpha"] + "-v2")
        values["alpha"] += "-v2"

        backup = await vault.backup(user="ops")
        assert backup.parent == tmp_path / "host" / "backups"
        assert backup.name.startswith("vault-") and backup.suffix == ".pgdump"
        assert _mode(backup) == 0o600 and _mode(backup.parent) == 0o700
        dump = backup.read_bytes()
        assert dump.startswith(b"PGDMP")  # pg_dump's custom format
        for value in values.values():
            assert value.encode() not in dump
        assert b"plain-" not in dump

        # after the backup: one value changed, one deleted for good, one new secret
        later = _value("delta")
        await vault.update_secret("alpha", _value("changed"))
        await vault.delete_secret("beta")
        await vault.store_secret(SecretType.API_KEY, "delta", later)

        safety = await vault.restore(backup, user="ops")
        assert safety != backup and safety.suffix == ".pgdump" and _mode(safety) == 0o600
        for name, value in values.items():
            assert (await vault.get_secret(name))[0] == value
        assert [v.version for v in await vault.history("alpha")] == [2, 1]
        with pytest.raises(SecretNotFoundError):  # the backup predates it
            await vault.get_secret("delta")
        report = await vault.verify_audit()
        assert report.ok, report
        entries = (await vault.get_access_log()).entries
        [restore] = [e for e in entries if e.action == "restore"]
        assert restore.user == "ops"
        assert backup.name in (restore.reason or "") and safety.name in (restore.reason or "")
        assert "delete" not in [e.action for e in entries]  # the trail is the backup's again

        # nothing was lost: the state before the restore comes back from the safety copy
        await vault.restore(safety)
        assert (await vault.get_secret("delta"))[0] == later
        with pytest.raises(SecretNotFoundError):
            await vault.get_secret("beta")
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()

    # another host opening the vault afterwards reads it and verifies the same chain
    other = SecretVault(pg_config)
    await other.initialize()
    try:
        assert (await other.get_secret("gamma"))[0] == values["gamma"]
        assert (await other.verify_audit()).ok
    finally:
        await other.shutdown()


async def test_a_host_with_a_cache_sees_the_restore_without_a_restart(
    pg_config: SecretsConfig,
) -> None:
    first, second = _value("first"), _value("second")
    writer = SecretVault(pg_config)
    reader = SecretVault(pg_config.model_copy(update={"cache_enabled": True}))
    await writer.initialize()
    await reader.initialize()
    try:
        await writer.store_secret(SecretType.API_KEY, "shared", first)
        await writer.store_secret(SecretType.API_KEY, "other", _value("other"))
        backup = await writer.backup()
        for k in range(3):
            await writer.update_secret("shared", f"{second}-{k}")
        await writer.update_secret("shared", second)
        assert (await reader.get_secret("shared"))[0] == second  # cached now
        cached_at = await writer.ops.stores.secrets.generation()
        await writer.restore(backup)
        # Changes elsewhere after the restore: had the restore brought the dump's older change
        # counter back as it was, these would bring it to the value the reader's cache entry
        # carries, and the reader would go on serving the value from before the restore.
        while await writer.ops.stores.secrets.generation() < cached_at:
            await writer.update_secret("other", _value("other"))
        assert (await reader.get_secret("shared"))[0] == first
        # changes after the restore are seen too (the change counter moved past both histories)
        await writer.update_secret("shared", second + "-again")
        assert (await reader.get_secret("shared"))[0] == second + "-again"
        assert (await reader.verify_audit()).ok
    finally:
        await reader.shutdown()
        await writer.shutdown()


async def test_backups_in_the_default_folder_keep_backup_retention(
    pg_config: SecretsConfig, tmp_path: Path
) -> None:
    vault = SecretVault(pg_config.model_copy(update={"backup_retention": 2}))
    await vault.initialize()
    try:
        made = [await vault.backup() for _ in range(4)]
        folder = tmp_path / "host" / "backups"
        assert sorted(folder.glob("vault-*.pgdump")) == made[-2:]
        explicit = tmp_path / "elsewhere" / "snap.pgdump"
        assert await vault.backup(explicit) == explicit and _mode(explicit) == 0o600
        assert sorted(folder.glob("vault-*.pgdump")) == made[-2:]  # not counted there
        actions = [e.action for e in (await vault.get_access_log()).entries]
        assert actions.count("backup") == 5
    finally:
        await vault.shutdown()


async def test_after_losing_the_database_init_then_restore_brings_the_vault_back(
    pg_config: SecretsConfig,
) -> None:
    value = _value("dr")
    vault = SecretVault(pg_config)
    await vault.initialize()
    await vault.store_secret(SecretType.API_KEY, "dr", value)
    backup = await vault.backup()
    await vault.shutdown()
    await _drop_schema(pg_config)  # the database is gone; the dump and the key file are kept

    fresh = SecretVault(pg_config)
    await fresh.initialize()  # `secretvault init`: an empty schema, under the same key
    try:
        with pytest.raises(SecretNotFoundError):
            await fresh.get_secret("dr")
        await fresh.restore(backup)
        assert (await fresh.get_secret("dr"))[0] == value
        assert (await fresh.verify_audit()).ok
    finally:
        await fresh.shutdown()


async def test_a_dump_under_another_master_key_is_refused_before_anything_changes(
    pg_config: SecretsConfig, tmp_path: Path
) -> None:
    # a vault in this schema under one key, dumped; then a new vault in the same schema under
    # another key (as after a re-init with a lost key file)
    first = SecretVault(pg_config)
    await first.initialize()
    await first.store_secret(SecretType.API_KEY, "old", _value("old"))
    foreign = await first.backup(tmp_path / "foreign.pgdump")
    foreign_key = first.key_id
    await first.shutdown()
    await _drop_schema(pg_config)

    other = pg_config.model_copy(
        update={
            "master_key_path": str(tmp_path / "other" / "master.key"),
            "storage_path": str(tmp_path / "other" / "vault.db"),
        }
    )
    create_key_file(Path(other.master_key_path), MasterKey.generate())
    mine = _value("mine")
    vault = SecretVault(other)
    await vault.initialize()
    try:
        await vault.store_secret(SecretType.API_KEY, "mine", mine)
        with pytest.raises(MasterKeyMismatchError) as info:
            await vault.restore(foreign)
        text = str(info.value) + (info.value.hint or "")
        assert foreign_key in text and vault.key_id in text and "Nothing was changed" in text
        assert (await vault.get_secret("mine"))[0] == mine
        assert not (tmp_path / "other" / "backups").exists()  # not even a safety copy
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()

    # loaded behind secretvault's back (pg_restore by hand), the next open is refused with the
    # "wrong master key" error, naming the key the data expects, before anything is read
    from secretvault.backends.pg_backup import restore_schema

    assert other.postgres_dsn is not None
    restore_schema(other.postgres_dsn, other.postgres_schema, foreign)
    with pytest.raises(MasterKeyMismatchError) as refused:
        await SecretVault(other).initialize()
    assert f"it expects {foreign_key}" in str(refused.value)
    assert refused.value.hint is not None and "master_key_path" in refused.value.hint


async def test_a_dump_from_before_a_rekey_is_brought_under_the_current_key(
    pg_config: SecretsConfig,
) -> None:
    value = _value("k")
    vault = SecretVault(pg_config)
    await vault.initialize()
    try:
        await vault.store_secret(SecretType.API_KEY, "k", value)
        backup = await vault.backup()
        old_id = vault.key_id
        new_id = await vault.rekey()
        await vault.store_secret(SecretType.API_KEY, "k2", _value("k2"))
        await vault.restore(backup)  # its key is in backups/ (rekey keeps retired keys there)
        actions = [(e.action, e.reason) for e in (await vault.get_access_log()).entries]
        assert actions[-2] == ("rekey", f"{old_id} -> {new_id}")  # the re-wrap, on record
        assert actions[-1][0] == "restore"
        assert vault.key_id == new_id
        assert (await vault.get_secret("k"))[0] == value
        assert {v.key_id for v in await vault.history("k")} == {new_id}
        with pytest.raises(SecretNotFoundError):
            await vault.get_secret("k2")
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()
    again = SecretVault(pg_config)  # a host starting afterwards with the current key
    await again.initialize()
    try:
        assert (await again.get_secret("k"))[0] == value
    finally:
        await again.shutdown()


async def test_a_file_that_is_no_dump_of_this_vault_is_refused(
    pg_config: SecretsConfig, tmp_path: Path
) -> None:
    vault = SecretVault(pg_config)
    await vault.initialize()
    other_schema = pg_config.model_copy(
        update={"postgres_schema": pgtest.schema_for(tmp_path, "b", "other")}
    )
    elsewhere = SecretVault(other_schema)
    await elsewhere.initialize()
    try:
        await vault.store_secret(SecretType.API_KEY, "kept", "kept-value-123456")
        of_another_schema = await elsewhere.backup(tmp_path / "elsewhere.pgdump")
        junk = tmp_path / "junk.pgdump"
        junk.write_bytes(b"SQLite format 3\x00" + os.urandom(64))
        with pytest.raises(SecretDecryptionError, match="not a secretvault backup"):
            await vault.restore(junk)
        with pytest.raises(SecretDecryptionError, match="postgres_schema"):
            await vault.restore(of_another_schema)
        with pytest.raises(SecretNotFoundError):
            await vault.restore(tmp_path / "missing.pgdump")
        assert not (tmp_path / "host" / "backups").exists()  # no safety copy was needed
        assert (await vault.get_secret("kept"))[0] == "kept-value-123456"
    finally:
        await elsewhere.shutdown()
        await vault.shutdown()


# Wraps the real tool: records argv and the PG* environment, then runs the real one.
RECORDER = """#!{python}
import json, os, sys
with open({record!r}, "a") as fh:
    env = {{k: v for k, v in os.environ.items() if k.startswith("PG")}}
    fh.write(json.dumps({{"argv": sys.argv, "env": env}}) + "\\n")
os.execv({real!r}, [{real!r}, *sys.argv[1:]])
"""


async def test_the_password_never_reaches_the_tools_command_lines(
    pg_config: SecretsConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from psycopg.conninfo import conninfo_to_dict

    assert pg_config.postgres_dsn is not None
    password = str(conninfo_to_dict(pg_config.postgres_dsn)["password"])
    record = tmp_path / "calls.jsonl"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("pg_dump", "pg_restore"):
        real = shutil.which(name)
        assert real is not None
        tool = bin_dir / name
        tool.write_text(
            RECORDER.format(python=sys.executable, record=str(record), real=real),
            encoding="utf-8",
        )
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("PGPASSWORD", raising=False)

    vault = SecretVault(pg_config)
    await vault.initialize()
    try:
        await vault.store_secret(SecretType.API_KEY, "k", "value-123456789")
        backup = await vault.backup()
        await vault.restore(backup)
        assert (await vault.get_secret("k"))[0] == "value-123456789"
    finally:
        await vault.shutdown()

    calls = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    # backup; restore: --list, key ring, safety dump, the restore itself
    assert [Path(c["argv"][0]).name for c in calls] == [
        "pg_dump",
        "pg_restore",
        "pg_restore",
        "pg_dump",
        "pg_restore",
    ]
    for call in calls:
        assert not any(password in arg for arg in call["argv"]), call["argv"]
        connects = any(arg.startswith("--dbname=") for arg in call["argv"])
        assert call["env"].get("PGPASSWORD") == (password if connects else None)
    assert "--single-transaction" in calls[-1]["argv"]


async def test_without_the_client_tools_backup_and_restore_say_what_to_install(
    pg_config: SecretsConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = SecretVault(pg_config)
    await vault.initialize()
    try:
        await vault.store_secret(SecretType.API_KEY, "k", "value-123456789")
        backup = await vault.backup()
        empty = tmp_path / "empty-bin"
        empty.mkdir()
        monkeypatch.setenv("PATH", str(empty))
        with pytest.raises(ConfigurationError, match="pg_dump is not installed") as info:
            await vault.backup()
        assert info.value.hint is not None and "postgresql-client" in info.value.hint
        with pytest.raises(ConfigurationError, match="pg_restore is not installed"):
            await vault.restore(backup)
        assert [p.name for p in backup.parent.iterdir()] == [backup.name]
        actions = [e.action for e in (await vault.get_access_log()).entries]
        assert actions.count("backup") == 1  # the failed ones claim nothing
    finally:
        await vault.shutdown()
