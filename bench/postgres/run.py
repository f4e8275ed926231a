"""Many processes on one store: secretvault on PostgreSQL vs OpenBao KV v2 through hvac.

    .venv/bin/python bench/postgres/run.py            # 1, 2, 4, 8 processes; reads and writes
    .venv/bin/python bench/postgres/run.py --quick    # fewer operations
    .venv/bin/python bench/postgres/run.py --pg-port 55480   # default: a free port
    .venv/bin/python bench/postgres/run.py --repeat 5        # default 3 (see below)
    .venv/bin/python bench/postgres/run.py --names 8192      # more secrets than the row cache

For each process count N, N worker processes start together (a barrier file that carries the
deadline), each runs operations back to back for the same fixed time (``--seconds``) and
reports every operation's latency; throughput is the total operations over the wall time
from the barrier to the last worker's last operation (start-up and shut-down excluded on
both sides). A fixed time rather than a fixed count: with a count, the faster system's
shorter cells carry the same start and finish skew over less time. Each cell is measured
``--repeat`` times, the two systems alternating, and reported as the median of its runs
(every run is kept in the JSON): on a shared 2-core machine one run of a cell can be off by
a quarter either way.
Both systems run on this machine in the same run: a
throwaway PostgreSQL (``scripts/postgres.sh``, fsync off like the OpenBao dev server's
in-memory storage) and ``bao server -dev``, each on a free port
(``--pg-port`` or SECRETVAULT_BENCH_PG_PORT pins PostgreSQL's). Every secretvault read is
audited (its entry committed before the value returns); OpenBao's dev server has no audit
device enabled, so the comparison favours OpenBao.

CPU per operation is measured on both sides of each system: the clients' (each worker's
process time over its loop) and the server's (PostgreSQL's postmaster and backends, or the
bao process, from /proc over the same window), so a ratio can be read against the two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE.parent / "vault"))
from run import openbao_dev_server  # noqa: E402  (bench/vault/run.py)

# secrets read round-robin (--names; the workers get it from the environment). 50 fit in
# the PostgreSQL store's row cache; more than postgres_row_cache (4,096) make every read a miss.
NAMES = int(os.environ.get("SECRETVAULT_BENCH_NAMES", "50"))


def _ready(barrier: Path, me: int) -> Path:
    return barrier.with_name(f"{barrier.name}.ready{me}")


def _deadline(barrier: Path) -> float:
    """Wait for the barrier; the monotonic time (system-wide on Linux) to stop at."""
    while not barrier.exists():
        time.sleep(0.001)
    return float(barrier.read_text())


async def _sv_worker(
    cfg_json: str, kind: str, seconds: float, me: int, barrier: Path
) -> tuple[list[int], float, float]:
    from secretvault import SecretsConfig, SecretVault

    vault = SecretVault(SecretsConfig.model_validate_json(cfg_json))
    await vault.initialize(create=False)
    out = []
    try:
        _ready(barrier, me).touch()
        deadline = _deadline(barrier)
        cpu = time.process_time()
        i = 0
        while time.monotonic() < deadline:
            i += 1
            t0 = time.perf_counter_ns()
            if kind == "read":
                await vault.get_secret(f"bench-{(i + me) % NAMES}", user=f"w{me}")
            else:
                await vault.update_secret(
                    f"bench-{(i * 8 + me) % NAMES}", secrets.token_hex(32), user=f"w{me}"
                )
            out.append(time.perf_counter_ns() - t0)
        cpu = time.process_time() - cpu
        end = time.monotonic()
    finally:
        await vault.shutdown()
    return out, cpu, end


def _bao_worker(
    addr: str, kind: str, seconds: float, me: int, barrier: Path
) -> tuple[list[int], float, float]:
    import hvac

    client = hvac.Client(url=addr, token="root")
    kv = client.secrets.kv.v2
    kv.read_secret_version(path="bench-0", raise_on_deleted_version=True)  # connect
    out = []
    _ready(barrier, me).touch()
    deadline = _deadline(barrier)
    cpu = time.process_time()
    i = 0
    while time.monotonic() < deadline:
        i += 1
        t0 = time.perf_counter_ns()
        if kind == "read":
            kv.read_secret_version(path=f"bench-{(i + me) % NAMES}", raise_on_deleted_version=True)
        else:
            kv.create_or_update_secret(
                path=f"bench-{(i * 8 + me) % NAMES}", secret={"value": secrets.token_hex(32)}
            )
        out.append(time.perf_counter_ns() - t0)
    return out, time.process_time() - cpu, time.monotonic()


def worker(args: argparse.Namespace) -> None:
    barrier = Path(args.barrier)
    if args.system == "secretvault":
        lat, cpu, end = asyncio.run(
            _sv_worker(args.target, args.kind, args.seconds, args.me, barrier)
        )
    else:
        lat, cpu, end = _bao_worker(args.target, args.kind, args.seconds, args.me, barrier)
    print(json.dumps({"lat": lat, "cpu": cpu, "end": end}))


def _proc_cpu(pids: set[int]) -> float:
    """CPU seconds of these processes, their live children and their reaped children."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) in pids or int(fields[1]) in pids:
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def run_cell(
    system: str, target: str, kind: str, procs: int, seconds: float, tmp: Path, server: set[int]
) -> dict[str, Any]:
    barrier = tmp / f"go-{system}-{kind}-{procs}"
    children = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                system,
                "--target",
                target,
                "--kind",
                kind,
                "--seconds",
                str(seconds),
                "--me",
                str(i),
                "--barrier",
                str(barrier),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(procs)
    ]
    deadline = time.monotonic() + 120  # every worker imports and connects first
    while not all(_ready(barrier, i).exists() for i in range(procs)):
        assert time.monotonic() < deadline, f"{system} workers did not start"
        assert all(c.poll() is None for c in children), f"{system} worker failed to start"
        time.sleep(0.05)
    server0 = _proc_cpu(server)
    t0 = time.monotonic()  # the same clock in every process on Linux
    staged = barrier.with_name(barrier.name + ".tmp")
    staged.write_text(repr(t0 + seconds))
    staged.rename(barrier)  # atomically: a worker never reads half a deadline
    lat: list[int] = []
    client_cpu, end = 0.0, t0
    for child in children:
        out, _ = child.communicate(timeout=600)
        assert child.returncode == 0, f"{system} worker failed"
        got = json.loads(out)
        lat += got["lat"]
        client_cpu += got["cpu"]
        end = max(end, got["end"])
    server_cpu = _proc_cpu(server) - server0  # includes the workers' disconnects (small)
    wall = end - t0  # barrier to the last worker's last operation (not its exit)
    lat.sort()
    return {
        "ops_per_s": len(lat) / wall,
        "p50_ms": statistics.median(lat) / 1e6,
        "p99_ms": lat[int(len(lat) * 0.99) - 1] / 1e6,
        "client_cpu_us_per_op": client_cpu / len(lat) * 1e6,
        "server_cpu_us_per_op": server_cpu / len(lat) * 1e6,
        "load_1m": os.getloadavg()[0],
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median throughput (its latencies and CPU belong to that run)."""
    return sorted(runs, key=lambda r: r["ops_per_s"])[len(runs) // 2]


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


async def _seed_sv(cfg_json: str) -> None:
    from secretvault import SecretsConfig, SecretType, SecretVault

    vault = SecretVault(SecretsConfig.model_validate_json(cfg_json))
    await vault.initialize()
    for i in range(NAMES):
        await vault.store_secret(SecretType.API_KEY, f"bench-{i}", secrets.token_hex(32))
    await vault.shutdown()


def _seed_bao(addr: str) -> None:
    import hvac

    kv = hvac.Client(url=addr, token="root").secrets.kv.v2
    for i in range(NAMES):
        kv.create_or_update_secret(path=f"bench-{i}", secret={"value": secrets.token_hex(32)})


def _exported(output: str, name: str) -> str:
    """The value of ``export NAME=value`` in scripts/postgres.sh's output."""
    return next(line.split("=", 1)[1] for line in output.splitlines() if f" {name}=" in line)


def main() -> None:
    global NAMES
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeat", type=int, default=3, help="runs per cell (median reported)")
    p.add_argument("--names", type=int, default=50, help="secrets read round-robin")
    p.add_argument("--pg-port", default=os.environ.get("SECRETVAULT_BENCH_PG_PORT"))
    p.add_argument("--worker", choices=["secretvault", "openbao"])
    p.add_argument("--target")
    p.add_argument("--kind")
    p.add_argument("--seconds", type=float)
    p.add_argument("--me", type=int)
    p.add_argument("--barrier")
    args = p.parse_args()
    if args.worker:
        args.system = args.worker
        worker(args)
        return
    reads = writes = 0.5 if args.quick else 2.0  # seconds per cell
    NAMES = args.names
    os.environ["SECRETVAULT_BENCH_NAMES"] = str(NAMES)  # for the workers
    port = args.pg_port or _free_port()
    env = {
        **os.environ,
        "SECRETVAULT_TEST_PG_PORT": port,
        "SECRETVAULT_TEST_PG_DIR": f"/tmp/secretvault-bench-pg-{port}",
    }
    pg = ROOT / "scripts" / "postgres.sh"
    started = subprocess.run(
        [str(pg), "start"], env=env, capture_output=True, text=True, check=True
    )
    dsn = _exported(started.stdout, "SECRETVAULT_TEST_POSTGRES_DSN")
    results: dict[str, Any] = {
        "seconds_per_cell": reads,
        "repeat": args.repeat,
        "names": NAMES,
        "cells": [],
    }
    try:
        with tempfile.TemporaryDirectory(prefix="svpg-") as tmpdir:
            tmp = Path(tmpdir)
            from secretvault import SecretsConfig

            cfg = SecretsConfig(
                default_backend="postgres",
                postgres_dsn=dsn,
                postgres_pool_size=2,
                storage_path=str(tmp / "vault.db"),
                master_key_path=str(tmp / "master.key"),
            ).model_dump_json()
            asyncio.run(_seed_sv(cfg))
            pg_pid = int(
                (Path(env["SECRETVAULT_TEST_PG_DIR"]) / "data" / "postmaster.pid")
                .read_text()
                .split()[0]
            )
            with openbao_dev_server(tmp) as bao:
                _seed_bao(bao.addr)
                for procs in (1, 2, 4, 8):
                    for kind, n in (("read", reads), ("write", writes)):
                        svs, obs = [], []
                        for rep in range(args.repeat):  # alternating, so drift hits both
                            run = tmp / f"run{rep}"
                            run.mkdir(exist_ok=True)
                            svs.append(run_cell("secretvault", cfg, kind, procs, n, run, {pg_pid}))
                            obs.append(
                                run_cell("openbao", bao.addr, kind, procs, n, run, {bao.pid})
                            )
                        sv, ob = _median_run(svs), _median_run(obs)
                        ratios = [
                            a["ops_per_s"] / b["ops_per_s"] for a, b in zip(svs, obs, strict=True)
                        ]
                        cell = {
                            "procs": procs,
                            "kind": kind,
                            "secretvault": sv,
                            "openbao": ob,
                            "ratio": sv["ops_per_s"] / ob["ops_per_s"],
                            "runs": {"secretvault": svs, "openbao": obs},
                            "ratio_range": [min(ratios), max(ratios)],
                        }
                        results["cells"].append(cell)
                        print(
                            f"{procs} procs {kind}: secretvault {sv['ops_per_s']:.0f}/s "
                            f"(p50 {sv['p50_ms']:.2f} ms, cpu/op client "
                            f"{sv['client_cpu_us_per_op']:.0f} + server "
                            f"{sv['server_cpu_us_per_op']:.0f} us), "
                            f"OpenBao {ob['ops_per_s']:.0f}/s (p50 {ob['p50_ms']:.2f} ms, cpu/op "
                            f"client {ob['client_cpu_us_per_op']:.0f} + server "
                            f"{ob['server_cpu_us_per_op']:.0f} us), ratio {cell['ratio']:.2f}x"
                            f" (runs {cell['ratio_range'][0]:.2f}-{cell['ratio_range'][1]:.2f}x)",
                            flush=True,
                        )
    finally:
        subprocess.run([str(pg), "stop"], env=env)
    results["date"] = datetime.now(UTC).isoformat(timespec="minutes")
    results["commit"] = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    results["uncommitted_src"] = bool(
        subprocess.run(
            ["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    )
    results["load"] = os.getloadavg()[0]
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%S")
    out = HERE / f"results-{stamp}.json"
    while out.exists():  # two runs in one second: keep both
        out = out.with_name(out.stem + "-1.json")
    out.write_text(json.dumps(results, indent=2))
    print(f"JSON: {out}")


if __name__ == "__main__":
    main()
