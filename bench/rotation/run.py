"""Rotation throughput and overhead, and one real PostgreSQL rotation end to end.

Run from the repository root (bounded: well under a minute)::

    .venv/bin/python bench/rotation/run.py            # N=1000 due secrets
    .venv/bin/python bench/rotation/run.py --n 200    # smaller

What it measures, in one asyncio loop on a temporary vault (default settings: SQLite WAL,
``synchronous=NORMAL``, audit on):

* **plain update**: ``update_secret`` of N secrets (the floor: one unit, one version, one entry);
* **rotation, store only**: ``rotate_secret`` of N secrets, no rotator, no verifier
  (create pending → promote: two units);
* **rotation, full path**: one scheduler pass over N due secrets with a no-op Python rotator
  and an in-process verifier (claim → create → check → apply, recorded before and after →
  verify → promote → release), under an injected clock so all N are due;
* **postgres**: one real ``ALTER ROLE … PASSWORD`` rotation (check login, apply, verify by a
  new login, promote) when ``scripts/postgres.sh`` is running (skipped otherwise).

Results go to ``bench/rotation/results-<date>.json`` and a markdown table is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from secretvault import SecretsConfig, SecretType, SecretVault
from secretvault.models import utcnow

ROOT = Path(__file__).resolve().parents[2]


def config(folder: Path, **extra: object) -> SecretsConfig:
    return SecretsConfig(
        storage_path=str(folder / "vault.db"), master_key_path=str(folder / "master.key"), **extra
    )


async def fill(vault: SecretVault, n: int) -> list[str]:
    names = [f"svc-{i:05d}" for i in range(n)]
    for name in names:
        await vault.store_secret(SecretType.API_KEY, name, secrets.token_hex(32), rotation_days=30)
    return names


async def bench_update(folder: Path, n: int) -> float:
    async with SecretVault(config(folder)) as vault:
        names = await fill(vault, n)
        t = time.perf_counter()
        for name in names:
            await vault.update_secret(name, secrets.token_hex(32))
        return time.perf_counter() - t


async def bench_store_only(folder: Path, n: int) -> float:
    async with SecretVault(config(folder)) as vault:
        names = await fill(vault, n)
        t = time.perf_counter()
        for name in names:
            assert (await vault.rotate_secret(name)).success
        return time.perf_counter() - t


async def bench_full(folder: Path, n: int) -> float:
    vault = SecretVault(config(folder))
    vault.register_rotator("svc-*", lambda ctx: None)
    vault.register_verifier("svc-*", lambda value, record: True)
    async with vault:
        await fill(vault, n)
        now = utcnow() + timedelta(days=31)
        vault.rotation.clock = lambda: now
        t = time.perf_counter()
        report = await vault.scheduler().run_once()
        elapsed = time.perf_counter() - t
        assert len(report.rotated) == n and report.ok, report.failed[:1]
        return elapsed


async def bench_postgres(folder: Path) -> dict[str, float] | None:
    env_file = ROOT / ".services" / "postgres" / "env"
    if not env_file.is_file():
        return None
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    import psycopg
    from psycopg import sql

    user, password = f"bench_{secrets.token_hex(3)}", secrets.token_hex(16)
    with psycopg.connect(env["SECRETVAULT_PG_DSN"], autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(user), sql.Literal(password)
            )
        )
    uri = f"postgresql://{user}:{password}@{env['SECRETVAULT_PG_HOST']}:{env['SECRETVAULT_PG_PORT']}/postgres"
    try:
        cfg = config(folder, rotators=[{"match": "app-db", "kind": "postgres"}])
        async with SecretVault(cfg) as vault:
            await vault.store_secret(SecretType.DATABASE_PASSWORD, "app-db", uri)
            t = time.perf_counter()
            result = await vault.rotate_secret("app-db")
            total = (time.perf_counter() - t) * 1000
            assert result.success, result.error
            return {"total_ms": round(total, 1), **result.timings_ms}
    finally:
        with psycopg.connect(env["SECRETVAULT_PG_DSN"], autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(user)))


async def main(n: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for sub in ("u", "s", "f", "p"):
            (base / sub).mkdir()
        update = await bench_update(base / "u", n)
        store_only = await bench_store_only(base / "s", n)
        full = await bench_full(base / "f", n)
        pg = await bench_postgres(base / "p")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "date": utcnow().strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}",
        "n": n,
        "update_per_s": round(n / update, 1),
        "store_only_rotations_per_s": round(n / store_only, 1),
        "full_rotations_per_s": round(n / full, 1),
        "update_ms": round(update / n * 1000, 3),
        "store_only_ms": round(store_only / n * 1000, 3),
        "full_ms": round(full / n * 1000, 3),
        "full_overhead_ms_over_update": round((full - update) / n * 1000, 3),
        "full_over_update_ratio": round(full / update, 2),
        "postgres_rotation": pg,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    out = asyncio.run(main(args.n))
    path = ROOT / "bench" / "rotation" / f"results-{utcnow():%Y-%m-%d}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"| machine | {out['machine']} |\n|---|---|")
    for key, value in out.items():
        if key != "machine":
            print(f"| {key} | {value} |")
