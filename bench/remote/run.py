"""Remote stores: SecretVault over OpenBao (KV v2) and AWS Secrets Manager (moto) next to the
raw client (hvac, boto3) on the same server, in the same run.

    .venv/bin/python bench/remote/run.py          # ~1 min; writes results-<date>-<HHMM>.json here
    .venv/bin/python bench/remote/run.py --quick    # ~15 s smoke run

Uses the servers of ``scripts/services.sh`` when they answer (SECRETVAULT_TEST_VAULT_ADDR /
SECRETVAULT_TEST_AWS_ENDPOINT or the defaults), else starts them and stops them afterwards.
Method: 64-byte values, 50 secrets read round-robin, each op timed alone with perf_counter_ns
inside one asyncio loop; raw and SecretVault ops alternate one by one (ABAB…) so load from the
shared machine falls on both sides alike. Reads: raw hvac ``read_secret_version`` (called
inline, as a synchronous program would; also in a worker thread, as an async one must) /
boto3 ``get_secret_value(VersionStage=AWSCURRENT)`` in a worker thread, vs ``get_secret``
(audited, uncached). Writes: a raw new version vs ``update_secret`` (CAS + metadata + audit).
600 reads per side on OpenBao (300 writes), 300 / 150 on moto.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VAULT_ADDR = os.environ.get("SECRETVAULT_TEST_VAULT_ADDR", "http://127.0.0.1:8200")
AWS_ENDPOINT = os.environ.get("SECRETVAULT_TEST_AWS_ENDPOINT", "http://127.0.0.1:5005")
VALUE = "v" * 64


def ensure_services() -> bool:
    """Start the services unless they answer at the given addresses; True when this run
    started them (``scripts/services.sh`` picks free ports when 8200/5005 are taken, and
    says which)."""
    global VAULT_ADDR, AWS_ENDPOINT
    if _up(f"{VAULT_ADDR}/v1/sys/health") and _up(f"{AWS_ENDPOINT}/moto-api/"):
        return False
    started = subprocess.run(
        [str(ROOT / "scripts" / "services.sh"), "status"], capture_output=True
    ).returncode
    out = subprocess.run(
        [str(ROOT / "scripts" / "services.sh"), "start"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in out.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        if key == "SECRETVAULT_TEST_VAULT_ADDR":
            VAULT_ADDR = value
        elif key == "SECRETVAULT_TEST_AWS_ENDPOINT":
            AWS_ENDPOINT = value
    return started != 0


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except Exception:
        return False


def pct(xs: list[int], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] / 1000  # µs


async def pair(
    raw: Callable[[], Awaitable[Any]], ours: Callable[[], Awaitable[Any]], n: int
) -> dict[str, Any]:
    """Time ``raw`` and ``ours`` alternately, one op each in turn, so that load from the
    shared machine falls on both sides alike. ops/s is n over the summed op times; CPU is
    this process's (every thread: hvac/boto3 in a worker thread included), not the
    server's, which is the same request on both sides."""
    lat: dict[str, list[int]] = {"raw": [], "secretvault": []}
    cpu = {"raw": 0.0, "secretvault": 0.0}
    for _ in range(50):  # warm-up: connection pools, caches, first-call imports
        await raw()
        await ours()
    for _ in range(n):
        for side, fn in (("raw", raw), ("secretvault", ours)):
            c = time.process_time()
            a = time.perf_counter_ns()
            await fn()
            lat[side].append(time.perf_counter_ns() - a)
            cpu[side] += time.process_time() - c
    out: dict[str, Any] = {}
    for side, xs in lat.items():
        out[side] = {
            "n": len(xs),
            "p50_us": round(pct(xs, 0.5), 1),
            "p99_us": round(pct(xs, 0.99), 1),
            "mean_us": round(statistics.fmean(xs) / 1000, 1),
            "ops_s": round(len(xs) / (sum(xs) / 1e9), 1),
            "cpu_us_op": round(cpu[side] / len(xs) * 1e6, 1),
        }
    out["p50_ratio"] = round(out["secretvault"]["p50_us"] / out["raw"]["p50_us"], 3)
    out["p99_ratio"] = round(out["secretvault"]["p99_us"] / out["raw"]["p99_us"], 3)
    out["cpu_ratio"] = round(out["secretvault"]["cpu_us_op"] / out["raw"]["cpu_us_op"], 3)
    return out


async def bench_vault(tmp: Path, n: int) -> dict[str, Any]:
    import hvac

    from secretvault.config import SecretsConfig
    from secretvault.models import BackendType, SecretType
    from secretvault.vault import SecretVault

    mount = f"bench{int(time.time())}"
    config = SecretsConfig(
        default_backend=BackendType.VAULT,
        vault_addr=VAULT_ADDR,
        vault_token="root",
        vault_mount=mount,
        storage_path=str(tmp / "v" / "vault.db"),
        master_key_path=str(tmp / "v" / "master.key"),
    )
    vault = SecretVault(config)
    await vault.initialize()
    client = hvac.Client(url=VAULT_ADDR, token="root")
    kv = client.secrets.kv.v2
    names = [f"k{i}" for i in range(50)]
    for name in names:
        await vault.store_secret(SecretType.API_KEY, name, VALUE)
    i = {"raw": 0, "ours": 0}

    def nxt(side: str) -> str:
        i[side] += 1
        return names[i[side] % len(names)]

    async def raw_read() -> None:
        name = nxt("raw")
        await asyncio.to_thread(
            kv.read_secret_version, name, mount_point=mount, raise_on_deleted_version=True
        )

    async def raw_read_inline() -> None:
        kv.read_secret_version(nxt("raw"), mount_point=mount, raise_on_deleted_version=True)

    async def our_read() -> None:
        await vault.get_secret(nxt("ours"))

    async def raw_write() -> None:
        await asyncio.to_thread(
            kv.create_or_update_secret, nxt("raw"), secret={"value": VALUE}, mount_point=mount
        )

    async def our_write() -> None:
        await vault.update_secret(nxt("ours"), VALUE)

    try:
        return {
            "read": await pair(raw_read_inline, our_read, n),
            "read_vs_hvac_in_a_thread": await pair(raw_read, our_read, n),
            "write": await pair(raw_write, our_write, n // 2),
        }
    finally:
        await vault.shutdown()
        client.sys.disable_secrets_engine(mount)


async def bench_aws(tmp: Path, n: int) -> dict[str, Any]:
    import boto3

    from secretvault.config import SecretsConfig
    from secretvault.models import BackendType, SecretType
    from secretvault.vault import SecretVault

    prefix = f"bench{int(time.time())}/"
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    config = SecretsConfig(
        default_backend=BackendType.AWS_SECRETS_MANAGER,
        aws_endpoint_url=AWS_ENDPOINT,
        aws_region="us-east-1",
        aws_secret_prefix=prefix,
        storage_path=str(tmp / "a" / "vault.db"),
        master_key_path=str(tmp / "a" / "master.key"),
        **keys,
    )
    vault = SecretVault(config)
    await vault.initialize()
    client = boto3.client(
        "secretsmanager", endpoint_url=AWS_ENDPOINT, region_name="us-east-1", **keys
    )
    names = [f"k{i}" for i in range(50)]
    for name in names:
        await vault.store_secret(SecretType.API_KEY, name, VALUE)
    i = {"raw": 0, "ours": 0}

    def nxt(side: str) -> str:
        i[side] += 1
        return names[i[side] % len(names)]

    async def raw_read() -> None:
        sid = prefix + nxt("raw")
        await asyncio.to_thread(client.get_secret_value, SecretId=sid, VersionStage="AWSCURRENT")

    async def our_read() -> None:
        await vault.get_secret(nxt("ours"))

    async def raw_write() -> None:
        sid = prefix + nxt("raw")
        await asyncio.to_thread(client.put_secret_value, SecretId=sid, SecretString=VALUE)

    async def our_write() -> None:
        await vault.update_secret(nxt("ours"), VALUE)

    try:
        return {
            "read": await pair(raw_read, our_read, n // 2),
            "write": await pair(raw_write, our_write, n // 4),
        }
    finally:
        await vault.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 50 if args.quick else 600
    started = ensure_services()
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            results = {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "commit": commit,
                "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU, "
                f"Python {platform.python_version()}",
                "load_avg": os.getloadavg(),
                "vault": asyncio.run(bench_vault(tmp, n)),
                "aws": asyncio.run(bench_aws(tmp, n)),
            }
    finally:
        if started:
            subprocess.run([str(ROOT / "scripts" / "services.sh"), "stop"], check=False)
    print(json.dumps(results, indent=2))
    if not args.quick:
        out = Path(__file__).with_name(f"results-{datetime.now(UTC):%Y-%m-%d-%H%M}.json")
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
