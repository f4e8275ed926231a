"""Azure Key Vault: ``SecretVault`` against the raw aio ``SecretClient``, same server, same run.

There is no Key Vault emulator: both sides talk to our local HTTPS test server
(``tests/support/azure_kv_server.py``, a child process), so absolute numbers say little about
Azure (real round trips are tens of milliseconds). What this measures is secretvault's own
cost on top of the SDK: the ratio of the two, per operation.

    .venv/bin/python bench/remote/azure.py            # 300 reads + 150 writes per side, ~1 min
    .venv/bin/python bench/remote/azure.py --n 100    # quicker

- *read*: ``vault.get_secret(name)`` (audited: one Azure GET, then the audit row in the local
  control store) vs ``client.get_secret(name)``.
- *write*: ``vault.update_secret(name, value)`` (get + version list + compare-and-set re-read +
  PUT + prune PATCH, then the audit row) vs ``client.set_secret(name, value)``.

Each side gets its own client with the same transport (one TLS context: see
``secretvault.backends.azure.client_kwargs``); operations are sequential, timed one by one with
``perf_counter_ns`` after a warm-up, rounds alternate sides.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# This file is named azure.py: its folder on sys.path would shadow the ``azure`` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT / "tests" / "support"))

import azure_kv_server as kv  # noqa: E402 - after the path set-up above
from azure.identity.aio import ClientSecretCredential  # noqa: E402
from azure.keyvault.secrets.aio import SecretClient  # noqa: E402

from secretvault.backends.azure import client_kwargs  # noqa: E402
from secretvault.config import SecretsConfig  # noqa: E402
from secretvault.models import SecretType  # noqa: E402
from secretvault.vault import SecretVault  # noqa: E402

NAMES = 50
VALUE = "v" * 64


def _stats(ns: list[int]) -> dict[str, float]:
    s = sorted(ns)
    return {
        "n": len(s),
        "p50_ms": s[len(s) // 2] / 1e6,
        "p99_ms": s[min(len(s) - 1, int(len(s) * 0.99))] / 1e6,
        "ops_per_s": 1e9 / statistics.fmean(s),
    }


async def _timed(n: int, op: Any) -> list[int]:
    out = []
    for i in range(n):
        t = time.perf_counter_ns()
        await op(i)
        out.append(time.perf_counter_ns() - t)
    return out


async def run(n: int) -> dict[str, Any]:
    server = kv.ServerProcess()
    tmp = tempfile.TemporaryDirectory(prefix="bench-azure-")
    try:
        config = SecretsConfig(
            storage_path=f"{tmp.name}/vault.db",
            master_key_path=f"{tmp.name}/master.key",
            **kv.settings(server),
        )
        vault = SecretVault(config)
        await vault.initialize()
        credential = ClientSecretCredential(
            kv.TENANT,
            kv.DEFAULT_CLIENT,
            kv.DEFAULT_SECRET,
            **kv.credential_options(server),
        )
        raw = SecretClient(server.url, credential, **client_kwargs(kv.client_options(server)))
        for i in range(NAMES):
            await vault.store_secret(SecretType.API_KEY, f"sv-{i}", VALUE)
            await raw.set_secret(f"raw-{i}", VALUE)

        async def sv_read(i: int) -> None:
            await vault.get_secret(f"sv-{i % NAMES}")

        async def raw_read(i: int) -> None:
            await raw.get_secret(f"raw-{i % NAMES}")

        async def sv_write(i: int) -> None:
            await vault.update_secret(f"sv-{i % NAMES}", f"{VALUE}{i}")

        async def raw_write(i: int) -> None:
            await raw.set_secret(f"raw-{i % NAMES}", f"{VALUE}{i}")

        # Azure requests per operation, counted by the server (its stats call is not counted)
        requests: dict[str, int] = {}
        for label, op in (("read", sv_read), ("write", sv_write)):
            before = server.requests()
            await op(0)
            requests[label] = server.requests() - before

        results: dict[str, list[int]] = {}
        for label, op, count in (
            ("read", (sv_read, raw_read), n),
            ("write", (sv_write, raw_write), max(n // 2, 10)),
        ):
            for fn in op:
                await _timed(20, fn)  # warm-up
            for _round in range(2):  # alternate sides so drift hits both
                for side, fn in zip(("secretvault", "raw"), op, strict=True):
                    results.setdefault(f"{label}/{side}", []).extend(await _timed(count // 2, fn))
        await raw.close()
        await credential.close()
        await vault.shutdown()
    finally:
        server.stop()
        tmp.cleanup()
    stats = {k: _stats(v) for k, v in results.items()}
    for label in ("read", "write"):
        sv, rw = stats[f"{label}/secretvault"], stats[f"{label}/raw"]
        stats[f"{label}/ratio"] = {
            "p50": sv["p50_ms"] / rw["p50_ms"],
            "secretvault_requests": requests[label],
        }
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="timed reads per side (writes: n/2)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    stats = asyncio.run(run(args.n))
    print("| operation | side | p50 ms | p99 ms | ops/s |")
    print("|---|---|---:|---:|---:|")
    for key, s in stats.items():
        if key.endswith("/ratio"):
            continue
        label, side = key.split("/")
        print(
            f"| {label} | {side} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {s['ops_per_s']:.0f} |"
        )
    for label in ("read", "write"):
        ratio = stats[f"{label}/ratio"]
        print(
            f"{label}: secretvault / raw p50 = {ratio['p50']:.2f}x; secretvault makes "
            f"{ratio['secretvault_requests']} Azure request(s) where the raw client makes 1"
        )
    if args.json:
        args.json.write_text(json.dumps(stats, indent=2) + "\n")


if __name__ == "__main__":
    main()
