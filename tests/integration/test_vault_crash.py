"""Crash safety of the local vault: SIGKILL a real writer process mid-run, then reopen.

A writer acknowledges an operation only after the vault call returned, by appending
``name<TAB>version<TAB>value`` to an ack file and fsyncing it. After the kill, every acknowledged
write must be in the database with its value; at most the one write in flight at the moment of
the kill may additionally have committed. A rotation killed during verification must be rolled
back on the next open.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from procs import clean_env, run_until_killed, vault_config

from secretvault import SecretStatus, SecretType, SecretVault

WRITER = textwrap.dedent(
    """
    import asyncio, os, random, sys
    from secretvault import SecretsConfig, SecretVault, SecretType

    vault_dir, prefix, ack_path = sys.argv[1], sys.argv[2], sys.argv[3]
    cfg = SecretsConfig(
        storage_path=os.path.join(vault_dir, "vault.db"),
        master_key_path=os.path.join(vault_dir, "master.key"),
        max_versions=0,
    )

    async def main():
        vault = SecretVault(cfg)
        await vault.initialize()
        rng = random.Random()
        mine = []
        fd = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        i = 0
        while True:  # until SIGKILL
            if not mine or rng.random() < 0.3:
                name = f"{prefix}-{i}"
                value = f"v|{name}|1|{rng.getrandbits(64):016x}"
                await vault.store_secret(SecretType.API_KEY, name, value, created_by=prefix)
                mine.append(name)
                version = 1
            else:
                name = rng.choice(mine)
                value = f"v|{name}|{i}|{rng.getrandbits(64):016x}"
                version = (await vault.update_secret(name, value, user=prefix)).metadata.version
            os.write(fd, f"{name}\\t{version}\\t{value}\\n".encode())
            os.fsync(fd)
            i += 1

    asyncio.run(main())
    """
)


def _acks(path: Path) -> list[tuple[str, int, str]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        name, version, value = line.split("\t")
        out.append((name, int(version), value))
    return out


def _run_and_kill(script: Path, vault_dir: Path, prefix: str, ack: Path, min_acks: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(script), str(vault_dir), prefix, str(ack)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    try:
        deadline = time.monotonic() + 30
        while len(_acks(ack)) < min_acks:
            if proc.poll() is not None:
                pytest.fail(f"writer exited early: {proc.stderr.read().decode()[-2000:]}")
            assert time.monotonic() < deadline, "writer too slow"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


@pytest.mark.timeout(120)
async def test_sigkill_writer_loses_no_acknowledged_write(tmp_path: Path) -> None:
    vault_dir = tmp_path / "vault"
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    rng = random.Random(7)
    all_acks: dict[str, list[tuple[str, int, str]]] = {}

    # Several rounds on the same files: each kill lands at a different point of a write.
    for rnd in range(3):
        prefix = f"w{rnd}"
        ack = tmp_path / f"acks-{rnd}.tsv"
        _run_and_kill(script, vault_dir, prefix, ack, 50 + rng.randrange(40))
        all_acks[prefix] = acks = _acks(ack)
        assert len(acks) >= 50

        # No plaintext on disk: not in the database, nor in the WAL the kill left behind.
        on_disk = b"".join(p.read_bytes() for p in vault_dir.iterdir() if p.is_file())
        assert (vault_dir / "vault.db-wal").exists()
        for _, _, value in acks:
            assert value.encode() not in on_disk

        await _check_acknowledged(vault_dir, all_acks)


async def _check_acknowledged(
    vault_dir: Path, all_acks: dict[str, list[tuple[str, int, str]]]
) -> None:
    """After kills: the file is sound, every acknowledged write is there with its value, at most
    the one call in flight per writer committed unacknowledged, and the audit chain verifies."""
    conn = sqlite3.connect(vault_dir / "vault.db")  # before anything else touches the file
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()

    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize(create=False)
    try:
        entries = (await vault.get_access_log()).entries
        names = {r.name for r in await vault.list_secrets()}
        for pfx, pfx_acks in all_acks.items():
            latest: dict[str, tuple[int, str]] = {}
            for name, version, value in pfx_acks:
                got, _ = await vault.get_secret(name, version=version)
                assert got == value, (name, version)
                if version >= latest.get(name, (0, ""))[0]:
                    latest[name] = (version, value)
            in_flight = 0
            for name, (version, value) in latest.items():
                got, rec = await vault.get_secret(name)
                assert rec.status == SecretStatus.ACTIVE
                assert rec.metadata.version in (version, version + 1), name
                if rec.metadata.version == version:
                    assert got == value, name
                else:
                    in_flight += 1
            unacked = [n for n in names if n.startswith(f"{pfx}-") and n not in latest]
            # Only the single call in flight at the kill may have committed unacknowledged.
            assert in_flight + len(unacked) <= 1, (pfx, in_flight, unacked)
            n_writer = sum(1 for e in entries if e.user == pfx)
            assert n_writer - len(pfx_acks) in (0, 1), (pfx, n_writer, len(pfx_acks))
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()


def _start_writer(script: Path, vault_dir: Path, prefix: str, ack: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(script), str(vault_dir), prefix, str(ack)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )


def _wait_for_acks(procs: dict[str, subprocess.Popen], acks: dict[str, Path], want: int) -> None:
    deadline = time.monotonic() + 40
    while not all(len(_acks(acks[p])) >= want for p in procs):
        for prefix, proc in procs.items():
            if proc.poll() is not None:  # a writer raised (e.g. "database is locked")
                pytest.fail(f"writer {prefix} died: {proc.stderr.read().decode()[-2000:]}")
        assert time.monotonic() < deadline, {p: len(_acks(acks[p])) for p in procs}
        time.sleep(0.01)


@pytest.mark.timeout(120)
async def test_killing_one_writer_does_not_disturb_the_others(tmp_path: Path) -> None:
    """SIGKILL one of three concurrent writers (possibly holding the write lock): the survivors
    keep going without an error, a restarted writer joins them, nothing acknowledged is lost."""
    vault_dir = tmp_path / "vault"
    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize()
    await vault.shutdown()
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    acks = {p: tmp_path / f"acks-{p}.tsv" for p in ("a", "b", "c", "d")}
    procs = {p: _start_writer(script, vault_dir, p, acks[p]) for p in ("a", "b", "c")}
    try:
        _wait_for_acks(procs, acks, 20)
        victim = procs.pop("a")
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        victim.stderr.close()
        before = {p: len(_acks(acks[p])) for p in procs}
        _wait_for_acks(procs, acks, max(before.values()) + 40)  # survivors make progress
        procs["d"] = _start_writer(script, vault_dir, "d", acks["d"])  # a restart joins in
        _wait_for_acks(procs, acks, 20)
        _wait_for_acks({"d": procs["d"]}, acks, 40)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stderr.close()
    await _check_acknowledged(vault_dir, {p: _acks(path) for p, path in acks.items()})


ROTATE_AND_HANG = textwrap.dedent(
    """
    import asyncio, os, sys, time
    from secretvault import SecretsConfig, SecretVault

    vault_dir = sys.argv[1]
    cfg = SecretsConfig(
        storage_path=os.path.join(vault_dir, "vault.db"),
        master_key_path=os.path.join(vault_dir, "master.key"),
    )

    def slow_verifier(value, record):
        fd = os.open(os.path.join(vault_dir, "verifying"), os.O_WRONLY | os.O_CREAT, 0o600)
        os.fsync(fd)
        os.close(fd)
        time.sleep(60)  # killed here
        return True

    async def main():
        vault = SecretVault(cfg)
        await vault.initialize(create=False)
        vault.register_verifier("rot", slow_verifier)
        await vault.rotate_secret("rot", new_value="new-value", user="rotator")

    asyncio.run(main())
    """
)


@pytest.mark.timeout(60)
async def test_sigkill_during_rotation_is_rolled_back_on_next_open(tmp_path: Path) -> None:
    vault_dir = tmp_path / "vault"
    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize()
    await vault.store_secret(SecretType.API_KEY, "rot", "old-value")
    await vault.shutdown()

    script = tmp_path / "rotate.py"
    script.write_text(ROTATE_AND_HANG, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(vault_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    try:
        deadline = time.monotonic() + 30
        while not (vault_dir / "verifying").exists():
            if proc.poll() is not None:
                pytest.fail(f"rotator exited early: {proc.stderr.read().decode()[-2000:]}")
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()

    # The kill left the rotation half-done on disk: a pending version and status ROTATING.
    conn = sqlite3.connect(vault_dir / "vault.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT status FROM secrets WHERE name='rot'").fetchone()[0] == (
            "rotating"
        )
        assert conn.execute("SELECT count(*) FROM versions WHERE stage='pending'").fetchone()[0]
    finally:
        conn.close()

    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize(create=False)
    try:
        value, record = await vault.get_secret("rot")
        assert value == "old-value"
        assert record.status == SecretStatus.ACTIVE
        assert record.metadata.version == 1
        history = await vault.history("rot")
        assert [v.version for v in history] == [1]
        assert all(v.stage != "pending" for v in history)
        entries = (await vault.get_access_log("rot")).entries
        recovered = [e for e in entries if e.action == "rotate_recovered"]
        assert len(recovered) == 1
        assert recovered[0].secret_name == "rot"
        assert [e.action for e in entries].count("rotate_start") == 1
        assert "rotate" not in [e.action for e in entries]  # never promoted
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()

    # Recovery is done once; the secret rotates normally afterwards.
    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize(create=False)
    try:
        entries = (await vault.get_access_log("rot")).entries
        assert [e.action for e in entries].count("rotate_recovered") == 1
        result = await vault.rotate_secret("rot", new_value="newer-value")
        assert result.success and result.new_version == 2
        value, record = await vault.get_secret("rot")
        assert (value, record.metadata.version) == ("newer-value", 2)
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()


REKEY_AND_DIE = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    import secretvault.backends.local as local
    import secretvault.crypto.keyring as keyring
    import secretvault.vault as sv

    vault_dir, point = sys.argv[1], sys.argv[2]

    def die(*_a, **_k):
        os.kill(os.getpid(), signal.SIGKILL)

    if point == "inside-transaction":  # while re-wrapping versions: nothing committed
        local.LocalTransaction.rewrap = die
    elif point == "after-commit":  # committed, key files not swapped yet
        keyring.KeyFiles.retire = die
    elif point == "after-retire":  # old key copied to backups/, new key still master.key.next
        retire = keyring.KeyFiles.retire

        def retire_then_die(self, old):
            retire(self, old)
            die()

        keyring.KeyFiles.retire = retire_then_die

    async def main():
        vault = sv.SecretVault(
            sv.SecretsConfig(
                storage_path=os.path.join(vault_dir, "vault.db"),
                master_key_path=os.path.join(vault_dir, "master.key"),
            )
        )
        await vault.initialize(create=False)
        await vault.rekey(user="rekeyer")

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("point", ["inside-transaction", "after-commit", "after-retire"])
@pytest.mark.timeout(60)
async def test_sigkill_during_rekey_recovers_on_next_open(tmp_path: Path, point: str) -> None:
    """A rekey killed at any point leaves a vault that opens and reads every version."""
    vault_dir = tmp_path / "vault"
    values = {("a", 1): "a-one", ("a", 2): "a-two", ("b", 1): "b-one"}
    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize()
    await vault.store_secret(SecretType.API_KEY, "a", "a-one")
    await vault.update_secret("a", "a-two")
    await vault.store_secret(SecretType.API_KEY, "b", "b-one")
    old_id = vault.key_id
    await vault.shutdown()
    key_file = vault_dir / "master.key"
    old_key = key_file.read_bytes()

    run_until_killed(tmp_path, "rekey.py", REKEY_AND_DIE, str(vault_dir), point)
    committed = point != "inside-transaction"
    assert (vault_dir / "master.key.next").exists()

    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize(create=False)
    try:
        assert (vault.key_id != old_id) is committed
        for (name, version), value in values.items():
            got, _ = await vault.get_secret(name, version=version)
            assert got == value, (name, version)
        actions = [e.action for e in (await vault.get_access_log()).entries]
        assert ("rekey" in actions) is committed
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()

    # The key files end up consistent: no leftover .next, master.key 0400 is the key in use,
    # and after a committed rekey the old key is kept in backups/ (older backups need it).
    assert not (vault_dir / "master.key.next").exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o400
    retired = vault_dir / "backups" / f"master.key.{old_id}"
    if committed:
        assert key_file.read_bytes() != old_key
        assert retired.read_bytes() == old_key
    else:
        assert key_file.read_bytes() == old_key
        assert not retired.exists()


ADMIN_OP_AND_DIE = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from datetime import timedelta
    import secretvault.backends.local as local
    import secretvault.vault as sv

    vault_dir, op = sys.argv[1], sys.argv[2]

    def die_after(fn):
        def wrapper(*args, **kwargs):
            result = fn(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)  # the change is committed; nothing after runs
            return result
        return wrapper

    if op == "audit-purge":
        real_now = sv.utcnow
        sv.utcnow = lambda: real_now() + timedelta(days=30)  # this run happens a month later
        local.LocalTransaction.purge_audit_before = die_after(
            local.LocalTransaction.purge_audit_before
        )
    else:
        local.LocalBackend.restore_from = die_after(local.LocalBackend.restore_from)

    async def main():
        vault = sv.SecretVault(
            sv.SecretsConfig(
                storage_path=os.path.join(vault_dir, "vault.db"),
                master_key_path=os.path.join(vault_dir, "master.key"),
            )
        )
        await vault.initialize(create=False)
        if op == "audit-purge":
            await vault.purge_audit(7, user="admin")
        else:
            await vault.restore(os.path.join(vault_dir, "snap.db"), user="admin")

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("op", ["audit-purge", "restore"])
@pytest.mark.timeout(60)
async def test_sigkill_after_an_admin_change_leaves_it_audited(tmp_path: Path, op: str) -> None:
    """Every change is audited in the same transaction as the change (docs/architecture.md).
    Kill the process right after the change commits: the change must not be there without its
    audit entry."""
    vault_dir = tmp_path / "vault"
    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize()
    await vault.store_secret(SecretType.API_KEY, "s", "one")
    await vault.backup(vault_dir / "snap.db")
    await vault.update_secret("s", "two")
    before = len((await vault.get_access_log()).entries)
    await vault.shutdown()

    run_until_killed(tmp_path, "admin_op.py", ADMIN_OP_AND_DIE, str(vault_dir), op)

    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize(create=False)
    try:
        entries = (await vault.get_access_log()).entries
        actions = [e.action for e in entries]
        assert (await vault.verify_audit()).ok
        if op == "audit-purge":
            purged = len(entries) < before
            assert not purged or "audit_purge" in actions, (before, actions)
        else:
            value, _ = await vault.get_secret("s")
            restored = value == "one"
            assert not restored or any(
                e.action == "restore" and "snap.db" in (e.reason or "") for e in entries
            ), actions
    finally:
        await vault.shutdown()
