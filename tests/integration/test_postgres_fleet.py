"""Many processes ("hosts") on one PostgreSQL store: no lost update, no version assigned
twice, one audit entry per operation in one chain that verifies, a wrong key refused, no
plaintext in a dump, and a writer killed mid-transaction leaves nothing half-written.

Needs the test PostgreSQL that ``scripts/test.sh`` starts (SECRETVAULT_TEST_POSTGRES_DSN).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pgtest
import pytest
from procs import clean_env

from secretvault import SecretsConfig, SecretType, SecretVault
from secretvault.crypto.keys import MasterKey, create_key_file
from secretvault.errors import MasterKeyMismatchError, SecretDecryptionError

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_config(tmp_path: Path) -> SecretsConfig:
    return pgtest.pg_config(tmp_path, "f", max_versions=0)


CHILD = r"""
import asyncio, json, sys
from secretvault import SecretsConfig, SecretVault

async def main(cfg_json, me, n, names, out):
    vault = SecretVault(SecretsConfig.model_validate_json(cfg_json))
    await vault.initialize()
    done = []
    try:
        for k in range(n):
            name = names[k % len(names)]
            if k % 3 == 2:
                value, record = await vault.get_secret(name, user=me)
                done.append(["read", name, record.metadata.version, value])
            else:
                value = f"{me}-{k}-value"
                record = await vault.update_secret(name, value, user=me)
                done.append(["update", name, record.metadata.version, value])
    finally:
        await vault.shutdown()
    with open(out, "w") as fh:
        json.dump(done, fh)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(","), sys.argv[5]))
"""


async def test_four_hosts_no_lost_update_no_duplicate_version_one_chain(
    pg_config: SecretsConfig, tmp_path: Path
) -> None:
    names = [f"shared-{i}" for i in range(3)]
    first = SecretVault(pg_config)
    await first.initialize()
    for name in names:
        await first.store_secret(SecretType.API_KEY, name, f"{name}-initial-value")
    await first.shutdown()

    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    per_child, procs = 30, []
    for i in range(4):
        out = tmp_path / f"out-{i}.json"
        procs.append(
            (
                f"p{i}",
                out,
                subprocess.Popen(
                    [
                        sys.executable,
                        str(script),
                        pg_config.model_dump_json(),
                        f"p{i}",
                        str(per_child),
                        ",".join(names),
                        str(out),
                    ],
                    env=clean_env(),
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
        )
    results: dict[str, list[list[object]]] = {}
    for me, out, proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
        results[me] = json.loads(out.read_text())

    vault = SecretVault(pg_config)
    await vault.initialize()
    try:
        acknowledged = [
            (name, version, value)
            for ops in results.values()
            for kind, name, version, value in ops
            if kind == "update"
        ]
        # every acknowledged write is there, under the version it was acknowledged with
        for name, version, value in acknowledged:
            assert (await vault.get_secret(str(name), version=int(version)))[0] == value  # type: ignore[call-overload]
        # versions per secret: 1..N with no gap and no duplicate
        for name in names:
            versions = sorted(v.version for v in await vault.history(name))
            assert versions == list(range(1, len(versions) + 1))
            updates = sorted(int(v) for n, v, _ in acknowledged if n == name)  # type: ignore[call-overload]
            assert updates == versions[1:]
        # exactly one audit entry per operation, in one chain that verifies
        log = await vault.get_access_log()
        for me, ops in results.items():
            mine = [e for e in log.entries if e.user == me]
            assert len(mine) == len(ops) == per_child
            assert all(e.success for e in mine)
        report = await vault.verify_audit()
        assert report.ok, report
    finally:
        await vault.shutdown()


async def test_a_host_with_another_master_key_is_refused(
    pg_config: SecretsConfig, tmp_path: Path
) -> None:
    vault = SecretVault(pg_config)
    await vault.initialize()
    await vault.store_secret(SecretType.API_KEY, "k", "value-of-the-first-host-1")
    await vault.shutdown()
    other = pg_config.model_copy(update={"master_key_path": str(tmp_path / "other" / "key")})
    create_key_file(Path(other.master_key_path), MasterKey.generate())
    with pytest.raises(MasterKeyMismatchError, match="does not match") as info:
        await SecretVault(other).initialize()
    assert isinstance(info.value, SecretDecryptionError)


async def test_a_dump_of_the_database_holds_no_plaintext(
    pg_config: SecretsConfig, tmp_path: Path
) -> None:
    pg_dump = shutil.which("pg_dump") or "/usr/lib/postgresql/15/bin/pg_dump"
    value = "plaintext-" + os.urandom(12).hex()
    vault = SecretVault(pg_config)
    await vault.initialize()
    try:
        await vault.store_secret(SecretType.DATABASE_PASSWORD, "db", value)
        await vault.update_secret("db", value + "-v2")
        await vault.get_secret("db")
    finally:
        await vault.shutdown()
    dump = subprocess.run(
        [pg_dump, "--dbname", str(pg_config.postgres_dsn), "--schema", pg_config.postgres_schema],
        capture_output=True,
        check=True,
    ).stdout
    assert b"INSERT" in dump or b"COPY" in dump
    assert value.encode() not in dump
    assert b"plaintext-" not in dump


KILLED = r"""
import asyncio, os, signal, sys
from secretvault import SecretsConfig, SecretVault

async def main(cfg_json, marker):
    vault = SecretVault(SecretsConfig.model_validate_json(cfg_json))
    await vault.initialize()

    async def change(unit, record):
        await unit.secrets.update(record)  # the row is locked and a change is in flight
        open(marker, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)

    from secretvault.models import AccessLevel
    await vault.ops.mutate("update", "victim", "killer", AccessLevel.WRITE, change)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_a_writer_killed_mid_transaction_leaves_nothing_and_blocks_nobody(
    pg_config: SecretsConfig, tmp_path: Path
) -> None:
    vault = SecretVault(pg_config)
    await vault.initialize()
    try:
        await vault.store_secret(SecretType.API_KEY, "victim", "victim-value-v1")
        script = tmp_path / "killed.py"
        script.write_text(KILLED, encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, str(script), pg_config.model_dump_json(), str(tmp_path / "m")],
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
        # the dead connection's lock is released by the server; this update goes through
        record = await vault.update_secret("victim", "victim-value-v2", user="survivor")
        assert record.metadata.version == 2
        log = await vault.get_access_log("victim")
        assert [e.user for e in log.entries] == ["system", "survivor"]
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()


async def test_sync_local_to_postgres_and_back_round_trips_500_secrets(
    pg_config: SecretsConfig, tmp_path: Path
) -> None:
    from secretvault.sync import drift, sync

    local_cfg = pg_config.model_copy(
        update={
            "default_backend": "local",
            "storage_path": str(tmp_path / "one" / "vault.db"),
            "master_key_path": str(tmp_path / "one" / "master.key"),
        }
    )
    back_cfg = local_cfg.model_copy(
        update={
            "storage_path": str(tmp_path / "two" / "vault.db"),
            "master_key_path": str(tmp_path / "two" / "master.key"),
        }
    )
    one, pg, two = SecretVault(local_cfg), SecretVault(pg_config), SecretVault(back_cfg)
    for vault in (one, pg, two):
        await vault.initialize()
    try:
        values = {f"svc-{i:03d}": f"value-{i}-{os.urandom(6).hex()}" for i in range(500)}
        for i, (name, value) in enumerate(values.items()):
            await one.store_secret(
                SecretType.API_KEY, name, value, tags=[f"g{i % 7}"], service=f"s{i % 3}"
            )
        assert len((await sync(one, pg, [], "ops")).created) == 500
        assert len((await sync(pg, two, [], "ops")).created) == 500
        for name in ("svc-000", "svc-250", "svc-499"):
            got, record = await two.get_secret(name)
            assert got == values[name]
            assert record.metadata.tags == (await one.get_secret(name))[1].metadata.tags
        assert await drift(one, two, [], "ops") == []
        await pg.update_secret("svc-123", "a-planted-different-value")
        found = await drift(one, pg, [], "ops")
        assert [(d.name, d.kind) for d in found] == [("svc-123", "value")]
    finally:
        for vault in (one, pg, two):
            await vault.shutdown()


def _exported(output: str, name: str) -> str:
    """The value of ``export NAME=value`` in scripts/postgres.sh's output."""
    return next(line.split("=", 1)[1] for line in output.splitlines() if f" {name}=" in line)


async def test_a_database_restart_is_a_clear_error_then_recovers_without_a_restart(
    tmp_path: Path,
) -> None:
    """A private server (not the shared one): stop it under a live vault, see a clean
    BackendUnavailableError within the timeout, start it, and the same vault works again."""
    if pgtest.DSN is None and not os.environ.get("CI"):
        pytest.skip("no test PostgreSQL (run the suite through scripts/test.sh)")
    script = Path(__file__).resolve().parents[2] / "scripts" / "postgres.sh"
    with socket.socket() as probe:  # a free port: a fixed one collides with a parallel run
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {
        **clean_env(),
        "SECRETVAULT_TEST_PG_PORT": str(port),
        # directly under /tmp: the postgres OS user must be able to reach it
        "SECRETVAULT_TEST_PG_DIR": f"/tmp/secretvault-test-pg-restart-{os.getpid()}",
    }
    started = subprocess.run(
        [str(script), "start"], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    dsn = _exported(started.stdout, "SECRETVAULT_TEST_POSTGRES_DSN")
    config = SecretsConfig(
        default_backend="postgres",
        postgres_dsn=dsn,
        postgres_pool_size=2,
        storage_path=str(tmp_path / "host" / "vault.db"),
        master_key_path=str(tmp_path / "host" / "master.key"),
    )
    vault = SecretVault(config)
    try:
        await vault.initialize()
        await vault.store_secret(SecretType.API_KEY, "survivor", "value-before-restart-1")
        subprocess.run([str(script), "halt"], env=env, check=True, timeout=60)
        import time

        from secretvault.errors import BackendUnavailableError

        t0 = time.monotonic()
        with pytest.raises(BackendUnavailableError, match="not reachable") as info:
            await vault.get_secret("survivor")
        assert time.monotonic() - t0 < 30
        assert f"127.0.0.1:{port}" in str(info.value) and dsn.split(":")[2] not in str(info.value)
        subprocess.run([str(script), "resume"], env=env, check=True, timeout=60)
        assert (await vault.get_secret("survivor"))[0] == "value-before-restart-1"
        await vault.update_secret("survivor", "value-after-restart-2")
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()
        subprocess.run([str(script), "stop"], env=env, timeout=60)
