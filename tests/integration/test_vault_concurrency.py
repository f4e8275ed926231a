"""Many real processes on ONE local vault (same vault.db + master.key).

Each child process is a separate interpreter running a small script written to ``tmp_path``. It
opens the vault once, waits on a start barrier, then performs its operations and records every
call that *returned* (an acknowledged operation) plus every exception it saw. The parent then
checks, from a fresh connection, that every acknowledged write is present with its value, that
each secret's current version is the latest acknowledged one, that every read returned a value
that was really written at that version, and that the audit chain verifies with exactly one entry
per acknowledged operation.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from itertools import pairwise
from pathlib import Path

import pytest
from procs import clean_env, spawn, vault_config, wait_for

from secretvault import SecretStatus, SecretType, SecretVault

N_PROCS = 4
N_OPS = 250
SEEDS_PER_PROC = 5

CHILD = textwrap.dedent(
    """
    import asyncio, json, os, random, sys, time
    from secretvault import SecretsConfig, SecretVault, SecretType

    vault_dir, idx, nops, seeds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    seeds = json.loads(seeds)
    cfg = SecretsConfig(
        storage_path=os.path.join(vault_dir, "vault.db"),
        master_key_path=os.path.join(vault_dir, "master.key"),
        max_versions=0,
        cache_enabled=sys.argv[5] == "cache",
    )
    # Without the cache: write-heavy. With it: read-heavy on a few hot names, so cache hits
    # happen between other processes' writes (which must invalidate them).
    create_p, update_p, read_p = (0.25, 0.60, 0.95) if sys.argv[5] != "cache" else (0.05, 0.2, 0.97)
    user = f"p{idx}"

    async def main():
        vault = SecretVault(cfg)
        await vault.initialize(create=False)
        open(os.path.join(vault_dir, f"ready-{idx}"), "w").close()
        go = os.path.join(vault_dir, "go")
        deadline = time.monotonic() + 30
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.002)
        rng = random.Random(1000 + idx)
        known = list(seeds)
        acks, errors = [], []
        t0, started = time.monotonic(), time.time()
        for n in range(nops):
            roll = rng.random()
            try:
                if roll < create_p:
                    name = f"c{idx}-{n}"
                    value = f"val|{name}|1|{idx}-{n}"
                    await vault.store_secret(SecretType.API_KEY, name, value, created_by=user)
                    known.append(name)
                    acks.append({"op": "create", "name": name, "version": 1, "value": value})
                elif roll < update_p:
                    name = rng.choice(known)
                    value = f"val|{name}|{idx}-{n}"
                    rec = await vault.update_secret(name, value, user=user)
                    acks.append(
                        {"op": "update", "name": name, "version": rec.metadata.version,
                         "value": value}
                    )
                elif roll < read_p:
                    name = rng.choice(known if roll < 0.8 or not cfg.cache_enabled else seeds[:3])
                    value, rec = await vault.get_secret(name, user=user)
                    acks.append(
                        {"op": "read", "name": name, "version": rec.metadata.version,
                         "value": value}
                    )
                else:
                    # Discover what the other processes created, to update/read theirs too.
                    names = [r.name for r in await vault.list_secrets(user=user)]
                    known.extend(x for x in names if x not in set(known))
                    acks.append({"op": "list", "count": len(names)})
            except BaseException as exc:  # everything a child saw is reported to the parent
                errors.append(f"{type(exc).__name__}: {exc}")
        elapsed, ended = time.monotonic() - t0, time.time()
        await vault.shutdown()
        out = {"acks": acks, "errors": errors, "elapsed": elapsed, "start": started, "end": ended}
        with open(os.path.join(vault_dir, f"out-{idx}.json"), "w") as fh:
            json.dump(out, fh)

    asyncio.run(main())
    """
)


async def _seed(vault_dir: Path) -> list[str]:
    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize()
    names = []
    try:
        for j in range(N_PROCS):
            for k in range(SEEDS_PER_PROC):
                name = f"p{j}-seed-{k}"
                await vault.store_secret(
                    SecretType.API_KEY, name, f"val|{name}|1|seed", created_by="seeder"
                )
                names.append(name)
    finally:
        await vault.shutdown()
    return names


async def _run_children(
    tmp_path: Path,
    vault_dir: Path,
    seeds: list[str],
    cache: bool,
    during: Callable[[], Awaitable[None]] | None = None,
) -> list[dict]:
    """Start the children, release them together, run ``during()`` while they work."""
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    procs = []
    for i in range(N_PROCS):
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(script),
                    str(vault_dir),
                    str(i),
                    str(N_OPS),
                    json.dumps(seeds),
                    "cache" if cache else "no-cache",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=clean_env(),
                cwd=tmp_path,
            )
        )
    try:
        deadline = time.monotonic() + 30
        while not all((vault_dir / f"ready-{i}").exists() for i in range(N_PROCS)):
            dead = [p for p in procs if p.poll() is not None]
            assert not dead, f"a child died before the barrier: {dead[0].communicate()}"
            assert time.monotonic() < deadline, "children did not reach the start barrier"
            time.sleep(0.01)
        (vault_dir / "go").touch()
        if during is not None:
            await during()
        results = []
        for i, p in enumerate(procs):
            _out, err = p.communicate(timeout=50)
            assert p.returncode == 0, f"child {i} exited {p.returncode}: {err[-2000:]}"
            assert "locked" not in err.lower(), f"child {i} stderr: {err[-2000:]}"
            results.append(json.loads((vault_dir / f"out-{i}.json").read_text()))
        return results
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.mark.parametrize("cache", [False, True], ids=["no-cache", "cache"])
@pytest.mark.timeout(120)
async def test_four_processes_one_vault_no_lost_writes_and_exact_audit(
    tmp_path: Path, cache: bool
) -> None:
    """With ``cache_enabled`` the cache must never serve a value another process replaced, and
    its write-behind audit entries must all be flushed by ``shutdown``."""
    vault_dir = tmp_path / "vault"
    seeds = await _seed(vault_dir)
    online = tmp_path / "online-backup.db"
    backup_at: list[float] = []

    async def backup_while_they_write() -> None:
        # An online backup taken by a fifth process in the middle of the run.
        await asyncio.sleep(0.05)
        vault = SecretVault(vault_config(vault_dir))
        await vault.initialize(create=False)
        try:
            backup_at.append(time.time())
            await vault.backup(online)
        finally:
            await vault.shutdown()

    t0 = time.monotonic()
    results = await _run_children(tmp_path, vault_dir, seeds, cache, backup_while_they_write)
    wall = time.monotonic() - t0

    # 1. No child saw any error (in particular no "database is locked" / BackendUnavailable).
    for i, r in enumerate(results):
        assert r["errors"] == [], f"child {i} errors: {r['errors'][:5]}"
        assert len(r["acks"]) == N_OPS, f"child {i} acknowledged {len(r['acks'])}/{N_OPS}"
    assert wall < 60, f"children took {wall:.1f}s"
    # That the workloads really ran at the same time is checked on the audit trail below
    # (their entries interleave); wall-clock spans flaked here when the scheduler started one
    # of four processes on two cores after another had already finished.

    writes: dict[tuple[str, int], str] = {}
    for name in seeds:
        writes[(name, 1)] = f"val|{name}|1|seed"
    reads = []
    for r in results:
        for a in r["acks"]:
            if a["op"] in ("create", "update"):
                key = (a["name"], a["version"])
                assert key not in writes, f"two acknowledged writes got the same version {key}"
                writes[key] = a["value"]
            elif a["op"] == "read":
                reads.append(a)
    per_action = Counter(a["op"] for r in results for a in r["acks"])
    assert per_action["create"] > 0 and per_action["update"] > 0 and per_action["read"] > 0
    # Every process updated or read at least one secret it did not create.
    for i, r in enumerate(results):
        others = {
            a["name"]
            for a in r["acks"]
            if "name" in a
            and not a["name"].startswith(f"p{i}-")
            and not a["name"].startswith(f"c{i}-")
        }
        assert others, f"child {i} never touched another process's secret"

    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize(create=False)
    try:
        # 2. Audit: verifies, all successful, exactly one entry per acknowledged operation.
        report = await vault.verify_audit()
        assert report.ok, report
        entries = (await vault.get_access_log()).entries
        assert all(e.success for e in entries), [e for e in entries if not e.success][:3]
        if cache:  # the cache was really exercised (its hits are audited as reason "cache")
            assert sum(1 for e in entries if e.reason == "cache") > 0
        action_names = {"create": "create", "update": "update", "read": "read", "list": "list"}
        expected = Counter({"create": len(seeds), "backup": 1})
        for r in results:
            for a in r["acks"]:
                expected[action_names[a["op"]]] += 1
        assert Counter(e.action for e in entries) == expected
        assert len(entries) == len(seeds) + N_PROCS * N_OPS + 1
        by_user = Counter(e.user for e in entries)
        for i, r in enumerate(results):
            assert by_user[f"p{i}"] == len(r["acks"])
        # The workloads interleaved: consecutive entries switch between processes far more
        # often than the N_PROCS - 1 switches of one-after-another runs.
        users = [e.user for e in entries if e.user.startswith("p")]
        switches = sum(1 for a, b in pairwise(users) if a != b)
        assert switches > 4 * N_PROCS, f"only {switches} switches between processes"

        # 3. Every acknowledged write is present, readable by version, with its value; versions
        #    have no holes and no extra (unacknowledged) ones; current = latest acknowledged.
        latest: dict[str, int] = defaultdict(int)
        for (name, version), _ in writes.items():
            latest[name] = max(latest[name], version)
        records = {rec.name: rec for rec in await vault.list_secrets()}
        assert set(records) == set(latest)
        for name, top in latest.items():
            versions = sorted(v.version for v in await vault.history(name))
            assert versions == list(range(1, top + 1)), name
            value, rec = await vault.get_secret(name)
            assert rec.status == SecretStatus.ACTIVE
            assert rec.metadata.version == top, name
            assert value == writes[(name, top)], name
        for (name, version), value in writes.items():
            got, _ = await vault.get_secret(name, version=version)
            assert got == value, (name, version)

        # 4. Every read returned exactly the value acknowledged for the version it reported.
        for a in reads:
            assert writes[(a["name"], a["version"])] == a["value"], a
        # 5. The online backup is a consistent snapshot: sound file, verifiable audit chain,
        #    and every secret in it holds a value that was acknowledged for that version.
        # (it started while the children were still writing)
        assert min(r["start"] for r in results) < backup_at[0] < max(r["end"] for r in results), (
            round(backup_at[0] % 1000, 3),
            [(round(r["start"] % 1000, 3), round(r["end"] % 1000, 3)) for r in results],
        )
        snap_dir = tmp_path / "snapshot"
        snap_dir.mkdir()
        shutil.copy(online, snap_dir / "vault.db")
        shutil.copy2(vault_dir / "master.key", snap_dir / "master.key")
        snap = SecretVault(vault_config(snap_dir))
        await snap.initialize(create=False)
        try:
            assert await snap.integrity_check() == "ok"
            assert (await snap.verify_audit()).ok
            snap_records = await snap.list_secrets()
            assert seeds[0] in {r.name for r in snap_records}
            for rec in snap_records:
                value, got = await snap.get_secret(rec.name)
                assert writes[(rec.name, got.metadata.version)] == value, rec.name
        finally:
            await snap.shutdown()

        # 6. Per process: reads never go back in time, and a process reads its own writes.
        for i, r in enumerate(results):
            seen: dict[str, int] = {}
            for a in r["acks"]:
                if "name" not in a:
                    continue
                if a["op"] == "read":
                    assert a["version"] >= seen.get(a["name"], 0), (i, a, seen[a["name"]])
                seen[a["name"]] = max(seen.get(a["name"], 0), a["version"])
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()


ROTATOR = textwrap.dedent(
    """
    import asyncio, json, os, sys, time
    from secretvault import SecretsConfig, SecretVault

    vault_dir = sys.argv[1]
    cfg = SecretsConfig(
        storage_path=os.path.join(vault_dir, "vault.db"),
        master_key_path=os.path.join(vault_dir, "master.key"),
    )

    def verifier(value, record):
        open(os.path.join(vault_dir, "verifying"), "w").close()
        deadline = time.monotonic() + 20
        while not os.path.exists(os.path.join(vault_dir, "release")):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    async def main():
        vault = SecretVault(cfg)
        await vault.initialize(create=False)
        vault.register_verifier("rot", verifier)
        result = await vault.rotate_secret("rot", new_value="new-value", user="rotator")
        await vault.shutdown()
        print(result.model_dump_json())

    asyncio.run(main())
    """
)


@pytest.mark.timeout(60)
async def test_opening_the_vault_does_not_break_a_rotation_in_another_process(
    tmp_path: Path,
) -> None:
    """Another process starting up while a rotation is being verified must not undo it."""
    vault_dir = tmp_path / "vault"
    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize()
    await vault.store_secret(SecretType.API_KEY, "rot", "old-value")
    await vault.shutdown()

    proc = spawn(tmp_path, "rotator.py", ROTATOR, str(vault_dir))
    try:
        wait_for(proc, vault_dir / "verifying")
        # A second process (this one) opens the same vault while the rotation is in flight.
        other = SecretVault(vault_config(vault_dir))
        await other.initialize(create=False)
        await other.shutdown()
        (vault_dir / "release").touch()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert result["success"] is True

    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize(create=False)
    try:
        value, record = await vault.get_secret("rot")
        assert record.status == SecretStatus.ACTIVE
        assert value == "new-value"
        assert record.metadata.version == result["new_version"]
    finally:
        await vault.shutdown()


REKEYER = textwrap.dedent(
    """
    import asyncio, json, os, sys, time
    import secretvault.crypto.keyring as keyring
    import secretvault.vault as sv

    vault_dir, point = sys.argv[1], sys.argv[2]

    def pause():
        # Hold the rekey here (as a slow disk or a busy write lock would) until released.
        open(os.path.join(vault_dir, "paused"), "w").close()
        deadline = time.monotonic() + 20
        while not os.path.exists(os.path.join(vault_dir, "release")):
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)

    if point == "before-transaction":  # master.key.next written, re-wrap not started
        create = keyring.create_key_file

        def create_then_pause(path, key=None):
            made = create(path, key)
            pause()
            return made

        keyring.create_key_file = create_then_pause
    else:  # "after-commit": every row re-wrapped and committed, key files not swapped yet
        retire = keyring.KeyFiles.retire

        def pause_then_retire(self, old):
            pause()
            return retire(self, old)

        keyring.KeyFiles.retire = pause_then_retire

    async def main():
        vault = sv.SecretVault(
            sv.SecretsConfig(
                storage_path=os.path.join(vault_dir, "vault.db"),
                master_key_path=os.path.join(vault_dir, "master.key"),
            )
        )
        await vault.initialize(create=False)
        try:
            new_id = await vault.rekey(user="rekeyer")
            print(json.dumps({"ok": True, "new_id": new_id}))
        except Exception as exc:
            print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}))
        finally:
            await vault.shutdown()

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("point", ["before-transaction", "after-commit"])
@pytest.mark.timeout(60)
async def test_opening_the_vault_during_a_rekey_in_another_process(
    tmp_path: Path, point: str
) -> None:
    vault_dir = tmp_path / "vault"
    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize()
    await vault.store_secret(SecretType.API_KEY, "kept", "kept-value")
    old_id = vault.key_id
    await vault.shutdown()
    old_key = (vault_dir / "master.key").read_bytes()

    proc = spawn(tmp_path, "rekeyer.py", REKEYER, str(vault_dir), point)
    try:
        wait_for(proc, vault_dir / "paused")
        # Another process (this one) starts up meanwhile: it waits on the key-file lock the
        # rekey holds, then reads with whatever key is current. The rekey is released shortly.
        threading.Timer(0.5, (vault_dir / "release").touch).start()
        other = SecretVault(vault_config(vault_dir))
        await other.initialize(create=False)
        try:
            assert (await other.get_secret("kept"))[0] == "kept-value"
        finally:
            await other.shutdown()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err

    # Whatever the rekey reported, the vault must still open and read with the files on disk,
    # and the old key must still be available for older backups.
    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize(create=False)
    try:
        assert (await vault.get_secret("kept"))[0] == "kept-value"
        if vault.key_id != old_id:
            assert (vault_dir / "backups" / f"master.key.{old_id}").read_bytes() == old_key
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()
    result = json.loads(out)
    assert result["ok"], result


LONG_LIVED_READER = textwrap.dedent(
    """
    import asyncio, json, os, sys, time
    from secretvault import SecretsConfig, SecretVault

    vault_dir = sys.argv[1]
    cfg = SecretsConfig(
        storage_path=os.path.join(vault_dir, "vault.db"),
        master_key_path=os.path.join(vault_dir, "master.key"),
        cache_enabled=True,
        cache_ttl_seconds=300,
        rbac_enabled=True,
    )

    def wait_for(name):
        deadline = time.monotonic() + 20
        while not os.path.exists(os.path.join(vault_dir, name)):
            assert time.monotonic() < deadline, name
            time.sleep(0.005)

    async def read(vault):
        try:
            return (await vault.get_secret("x-token", user="bob"))[0]
        except Exception as exc:
            return type(exc).__name__

    async def main():
        vault = SecretVault(cfg)
        await vault.initialize(create=False)
        seen = [await read(vault), await read(vault)]  # the second one is a cache hit
        open(os.path.join(vault_dir, "phase1"), "w").close()
        wait_for("restored")
        seen.append(await read(vault))
        open(os.path.join(vault_dir, "phase2"), "w").close()
        wait_for("revoked")
        seen.append(await read(vault))
        await vault.shutdown()
        print(json.dumps(seen))

    asyncio.run(main())
    """
)


@pytest.mark.timeout(60)
async def test_a_long_lived_process_sees_restore_and_revoked_grants(tmp_path: Path) -> None:
    """A process with a warm value cache and policy cache must notice, on its next read, that
    another process restored an older backup and then revoked its grant."""
    vault_dir = tmp_path / "vault"
    vault = SecretVault(vault_config(vault_dir, rbac_enabled=True))
    await vault.initialize()
    try:
        await vault.grant("admin", "admin", "*", user="admin")
        await vault.grant("bob", "operator", "x-*", user="admin")
        await vault.store_secret(SecretType.API_KEY, "x-token", "value-one", created_by="admin")
        snapshot = await vault.backup(tmp_path / "snap.db", user="admin")
        await vault.update_secret("x-token", "value-two", user="admin")

        proc = spawn(tmp_path, "reader.py", LONG_LIVED_READER, str(vault_dir))
        try:
            for marker, action in (
                ("phase1", lambda: vault.restore(snapshot, user="admin")),
                ("phase2", lambda: vault.revoke_grant("bob", user="admin")),
            ):
                deadline = time.monotonic() + 20
                while not (vault_dir / marker).exists():
                    assert proc.poll() is None, proc.communicate()
                    assert time.monotonic() < deadline
                    time.sleep(0.005)
                await action()
                (vault_dir / ("restored" if marker == "phase1" else "revoked")).touch()
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err
        assert json.loads(out) == ["value-two", "value-two", "value-one", "AuthorizationError"]
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()


RACER = textwrap.dedent(
    """
    import asyncio, json, os, sys, time
    from secretvault import SecretsConfig, SecretVault, SecretType

    vault_dir, idx, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    cfg = SecretsConfig(
        storage_path=os.path.join(vault_dir, "vault.db"),
        master_key_path=os.path.join(vault_dir, "master.key"),
    )

    async def main():
        vault = SecretVault(cfg)
        await vault.initialize(create=False)
        open(os.path.join(vault_dir, f"ready-{idx}"), "w").close()
        while not os.path.exists(os.path.join(vault_dir, "go")):
            time.sleep(0.002)
        outcome = {}
        for i in range(n):
            try:
                await vault.store_secret(
                    SecretType.API_KEY, f"race-{i}", f"winner-{idx}", created_by=f"p{idx}"
                )
                outcome[f"race-{i}"] = "stored"
            except Exception as exc:
                outcome[f"race-{i}"] = type(exc).__name__
        await vault.shutdown()
        print(json.dumps(outcome))

    asyncio.run(main())
    """
)


@pytest.mark.timeout(60)
async def test_racing_creates_of_the_same_names_have_exactly_one_winner(tmp_path: Path) -> None:
    vault_dir, n = tmp_path / "vault", 40
    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize()
    await vault.shutdown()
    script = tmp_path / "racer.py"
    script.write_text(RACER, encoding="utf-8")
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(vault_dir), str(i), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )
        for i in range(N_PROCS)
    ]
    try:
        deadline = time.monotonic() + 30
        while not all((vault_dir / f"ready-{i}").exists() for i in range(N_PROCS)):
            assert all(p.poll() is None for p in procs)
            assert time.monotonic() < deadline
            time.sleep(0.01)
        (vault_dir / "go").touch()
        outs = []
        for p in procs:
            out, err = p.communicate(timeout=40)
            assert p.returncode == 0, err[-2000:]
            outs.append(json.loads(out))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize(create=False)
    try:
        entries = (await vault.get_access_log()).entries
        for i in range(n):
            name = f"race-{i}"
            results = [o[name] for o in outs]
            winners = [k for k, r in enumerate(results) if r == "stored"]
            assert len(winners) == 1, (name, results)
            assert sorted(set(results) - {"stored"}) == ["SecretAlreadyExistsError"], results
            value, record = await vault.get_secret(name)
            assert value == f"winner-{winners[0]}" and record.metadata.version == 1
            creates = [e for e in entries if e.secret_name == name and e.action == "create"]
            assert sorted(e.success for e in creates) == [False] * (N_PROCS - 1) + [True]
            assert [e.user for e in creates if e.success] == [f"p{winners[0]}"]
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()


@pytest.mark.timeout(60)
async def test_an_update_during_another_process_rotation_wins_and_is_never_shadowed(
    tmp_path: Path,
) -> None:
    """While process A verifies a rotation, process B reads (sees the current value, never the
    unverified pending one) and then writes an update. A must not promote its now-stale
    version over B's write: it reports the conflict and rolls back; B's value stays current."""
    vault_dir = tmp_path / "vault"
    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize()
    await vault.store_secret(SecretType.API_KEY, "rot", "old-value")
    await vault.shutdown()

    proc = spawn(
        tmp_path, "rotator.py", ROTATOR, str(vault_dir)
    )  # rotates "rot" to "new-value", pauses verifying
    try:
        wait_for(proc, vault_dir / "verifying")
        other = SecretVault(vault_config(vault_dir))
        await other.initialize(create=False)
        try:
            value, record = await other.get_secret("rot")
            assert (value, record.metadata.version) == ("old-value", 1)  # not the pending one
            updated = await other.update_secret("rot", "by-b", user="b")
        finally:
            await other.shutdown()
        (vault_dir / "release").touch()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert result["success"] is False and result["rolled_back"] is True, result
    assert result["error"]

    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize(create=False)
    try:
        value, record = await vault.get_secret("rot")
        assert value == "by-b"
        assert record.metadata.version == updated.metadata.version
        assert record.status == SecretStatus.ACTIVE
        history = await vault.history("rot")
        assert all(v.stage != "pending" for v in history)
        assert (await vault.get_secret("rot", version=1))[0] == "old-value"
        actions = [e.action for e in (await vault.get_access_log("rot")).entries]
        assert "rotate_rollback" in actions and "rotate" not in actions
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()


BEFORE_REKEY = textwrap.dedent(
    """
    import asyncio, json, os, sys, time
    from secretvault import SecretsConfig, SecretVault

    vault_dir = sys.argv[1]
    cfg = SecretsConfig(
        storage_path=os.path.join(vault_dir, "vault.db"),
        master_key_path=os.path.join(vault_dir, "master.key"),
        cache_enabled=True,
    )

    async def main():
        vault = SecretVault(cfg)
        await vault.initialize(create=False)
        seen = [(await vault.get_secret("x"))[0], (await vault.get_secret("x", version=1))[0]]
        open(os.path.join(vault_dir, "opened"), "w").close()
        deadline = time.monotonic() + 20
        while not os.path.exists(os.path.join(vault_dir, "rekeyed")):
            assert time.monotonic() < deadline
            time.sleep(0.005)
        seen += [(await vault.get_secret("x"))[0], (await vault.get_secret("x", version=1))[0]]
        record = await vault.update_secret("x", "written-after-rekey", user="a")
        await vault.store_secret("api_key", "y", "created-after-rekey", created_by="a")
        await vault.shutdown()
        print(json.dumps({"seen": seen, "version": record.metadata.version}))

    asyncio.run(main())
    """
)


@pytest.mark.timeout(60)
async def test_a_process_opened_before_another_process_rekeys_keeps_working(
    tmp_path: Path,
) -> None:
    """Process A holds the vault open (warm caches) while this process rekeys. A must still read
    every version, and what it writes afterwards must be readable with the key on disk."""
    vault_dir = tmp_path / "vault"
    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize()
    await vault.store_secret(SecretType.API_KEY, "x", "first")
    await vault.update_secret("x", "second")
    await vault.shutdown()

    proc = spawn(tmp_path, "before_rekey.py", BEFORE_REKEY, str(vault_dir))
    try:
        wait_for(proc, vault_dir / "opened")
        rekeyer = SecretVault(vault_config(vault_dir))
        await rekeyer.initialize(create=False)
        try:
            old_id, new_id = rekeyer.key_id, await rekeyer.rekey(user="admin")
        finally:
            await rekeyer.shutdown()
        (vault_dir / "rekeyed").touch()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    result = json.loads(out)
    assert result["seen"] == ["second", "first", "second", "first"]

    fresh = SecretVault(vault_config(vault_dir))
    await fresh.initialize(create=False)
    try:
        assert fresh.key_id == new_id != old_id
        value, record = await fresh.get_secret("x")
        assert (value, record.metadata.version) == ("written-after-rekey", result["version"])
        assert record.key_id == new_id  # written under the active key, not the retired one
        value, record = await fresh.get_secret("y")
        assert value == "created-after-rekey" and record.key_id == new_id
        for version, expected in ((1, "first"), (2, "second")):
            assert (await fresh.get_secret("x", version=version))[0] == expected
        assert (await fresh.verify_audit()).ok
    finally:
        await fresh.shutdown()


BUSY_WRITER = textwrap.dedent(
    """
    import asyncio, json, os, random, sys, time
    from secretvault import SecretsConfig, SecretVault, SecretType

    vault_dir, n = sys.argv[1], int(sys.argv[2])
    cfg = SecretsConfig(
        storage_path=os.path.join(vault_dir, "vault.db"),
        master_key_path=os.path.join(vault_dir, "master.key"),
        max_versions=0,
    )

    async def main():
        vault = SecretVault(cfg)
        await vault.initialize(create=False)
        rng = random.Random(5)
        acks, errors = [], []
        for i in range(n):
            if i == 50:
                open(os.path.join(vault_dir, "busy"), "w").close()
            started = time.time()
            try:
                if rng.random() < 0.5:
                    name, value = f"new-{i}", f"created-{i}"
                    await vault.store_secret(SecretType.API_KEY, name, value, created_by="w")
                    version = 1
                else:
                    name, value = f"seed-{rng.randrange(5)}", f"updated-{i}"
                    version = (await vault.update_secret(name, value, user="w")).metadata.version
                acks.append([name, version, value, started])
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.002)
        await vault.shutdown()
        print(json.dumps({"acks": acks, "errors": errors}))

    asyncio.run(main())
    """
)


@pytest.mark.timeout(60)
async def test_restore_while_another_process_keeps_writing(tmp_path: Path) -> None:
    """An online restore under a live writer: the writer sees no error, everything it wrote
    after the restore is there on top of the snapshot, and the audit chain still verifies."""
    vault_dir = tmp_path / "vault"
    vault = SecretVault(vault_config(vault_dir))
    await vault.initialize()
    try:
        for k in range(5):
            await vault.store_secret(SecretType.API_KEY, f"seed-{k}", f"seed-value-{k}")
        snapshot = await vault.backup(tmp_path / "snap.db")
        proc = spawn(tmp_path, "busy_writer.py", BUSY_WRITER, str(vault_dir), "400")
        try:
            deadline = time.monotonic() + 30
            while not (vault_dir / "busy").exists():
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.005)
            await vault.restore(snapshot, user="admin")
            restored_at = time.time()
            out, err = proc.communicate(timeout=40)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err[-2000:]
        result = json.loads(out)
        assert result["errors"] == []
        after = [a for a in result["acks"] if a[3] > restored_at]
        assert len(after) > 20, "the writer finished before the restore"

        assert await vault.integrity_check() == "ok"
        assert (await vault.verify_audit()).ok
        for name, version, value, _ in after:
            assert (await vault.get_secret(name, version=version))[0] == value, (name, version)
        # what was written between the snapshot and the restore is gone (it is a restore)
        before = [a for a in result["acks"] if a[0].startswith("new-") and a[3] < restored_at]
        gone = {a[0] for a in before} - {r.name for r in await vault.list_secrets()}
        assert gone, "nothing the writer created before the restore was rolled back"
    finally:
        await vault.shutdown()
