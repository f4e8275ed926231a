"""Injection benchmark (bounded: ~1 min): the cost of ``secretvault run`` as a whole process,
template rendering at scale, and the latency from an update to a subscriber's callback.

    .venv/bin/python bench/inject/run.py            # writes bench/inject/results-<date>.json
    .venv/bin/python bench/inject/run.py --quick    # fewer repetitions (smoke test)

Values are generated here; nothing secret is written outside a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from secretvault import SecretsConfig, SecretType, SecretVault

SV = str(Path(sys.executable).with_name("secretvault"))


def processes(
    cmds: dict[str, list[str]], env: dict[str, str], runs: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU (user+sys, children) time in ms of each command as a whole process,
    ``runs`` times after 2 warm-ups, interleaved so that load changes hit every command alike."""
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    cpus: dict[str, list[float]] = {k: [] for k in cmds}
    for i in range(runs + 2):
        for key, cmd in cmds.items():
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
            t1 = time.perf_counter()
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            if i >= 2:
                walls[key].append((t1 - t0) * 1000)
                cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
                cpus[key].append(cpu * 1000)
    return walls, cpus


def config(root: Path) -> SecretsConfig:
    return SecretsConfig(
        storage_path=str(root / "vault.db"),
        master_key_path=str(root / "master.key"),
        scan_on_write=False,
    )


async def seed(root: Path, n: int) -> str:
    vault = SecretVault(config(root))
    await vault.initialize()
    value = secrets.token_hex(16)
    await vault.store_secret(SecretType.API_KEY, "name", value)
    for i in range(n):
        await vault.store_secret(SecretType.API_KEY, f"s-{i}", secrets.token_hex(16))
    await vault.shutdown()
    return value


async def render_times(root: Path, n: int, runs: int) -> list[float]:
    vault = SecretVault(config(root))
    await vault.initialize()
    tpl = root / "big.conf"
    tpl.write_text("".join(f'k{i} = {{{{ secret "s-{i}" }}}}\n' for i in range(n)))
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await vault.injection.render_file(tpl, root / f"big-{_}.conf")
        out.append((time.perf_counter() - t0) * 1000)
    await vault.shutdown()
    return out


async def reload_latency(root: Path, runs: int) -> list[float]:
    """Update from a second vault instance (its own connection, as another process would be)
    and time until the first instance's subscriber runs."""
    watcher, writer = SecretVault(config(root)), SecretVault(config(root))
    await watcher.initialize()
    await writer.initialize()
    hit = asyncio.Event()
    watcher.subscribe("name", hit.set)
    await asyncio.sleep(0.3)
    out = []
    for _ in range(runs):
        hit.clear()
        t0 = time.perf_counter()
        await writer.update_secret("name", secrets.token_hex(16))
        await asyncio.wait_for(hit.wait(), 5)
        out.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.05 + secrets.randbelow(100) / 1000)  # de-phase from the poll
    await watcher.shutdown()
    await writer.shutdown()
    return out


def p(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    runs = 5 if args.quick else 15
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        value = asyncio.run(seed(root, 1000))
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("MAHAVISHNU_", "SECRETVAULT_"))
        }
        env["SECRETVAULT_DIR"] = str(root)
        # (a value on argv is what `run` exists to avoid; this is the floor it is compared with)
        walls, cpus = processes(
            {
                "env": ["env", f"X={value}", "true"],
                "get": [SV, "get", "name"],
                "run": [SV, "run", "--env", "X=name", "--", "true"],
            },
            env,
            runs,
        )
        plain, get, run = walls["env"], walls["get"], walls["run"]
        render = asyncio.run(render_times(root, 1000, 3 if args.quick else 5))
        reload = asyncio.run(reload_latency(root, 10 if args.quick else 30))
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU, "
        f"Python {platform.python_version()}",
        "load_avg_1m": os.getloadavg()[0],
        "ms": {
            "env X=v true (p50)": statistics.median(plain),
            "secretvault get (p50)": statistics.median(get),
            "secretvault run --env X=name -- true (p50)": statistics.median(run),
            "secretvault get, CPU (p50)": statistics.median(cpus["get"]),
            "secretvault run, CPU (p50)": statistics.median(cpus["run"]),
            "render 1,000 placeholders (p50)": statistics.median(render),
            "update -> callback (p50)": statistics.median(reload),
            "update -> callback (p90)": p(reload, 0.9),
        },
        "ratios": {
            "run / get": statistics.median(run) / statistics.median(get),
            "run / env": statistics.median(run) / statistics.median(plain),
            "run / get, CPU": statistics.median(cpus["run"]) / statistics.median(cpus["get"]),
        },
        "raw": {"wall": walls, "cpu": cpus, "render": render, "reload": reload},
    }
    for k, v in {**result["ms"], **result["ratios"]}.items():  # type: ignore[dict-item]
        print(f"{k:45s} {v:10.2f}")
    if not args.quick:
        out = Path(__file__).with_name(f"results-{datetime.now(UTC):%Y-%m-%d}.json")
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
