"""The scheduler under a controllable clock, and two schedulers on one vault."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rotationtest_helpers import rotation_config

from secretvault import SecretStatus, SecretType, SecretVault
from secretvault.models import utcnow
from secretvault.rotation.rotators import RotationContext


class Clock:
    """A settable "now" for the scheduler (days pass without sleeping)."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, days: float) -> None:
        self.now += timedelta(days=days)


def rotations(entries: list[Any], name: str) -> int:
    return sum(1 for e in entries if e.action == "rotate" and e.secret_name == name)


async def test_scheduler_honours_rotation_days_and_expiry_windows(
    open_vault: Callable[..., Any],
):
    vault = await open_vault(rotate_before_expiry_days=7)
    clock = Clock()
    vault.rotation.clock = clock
    start = clock.now
    await vault.store_secret(SecretType.API_KEY, "monthly", "v1", rotation_days=30)
    await vault.store_secret(
        SecretType.API_KEY,
        "expiring",
        "v1",
        rotation_days=365,
        expires_at=start + timedelta(days=10),
    )
    scheduler = vault.scheduler()

    clock.advance(2)
    report = await scheduler.run_once()
    assert not report.rotated and [n for n, _ in report.expiring] == ["expiring"]

    clock.advance(2)  # day 4: inside the 7-day pre-expiry window
    report = await scheduler.run_once()
    assert [r.secret_name for r in report.rotated] == ["expiring"]
    clock.advance(1)  # still in the window, but rotated in it already
    assert not (await scheduler.run_once()).rotated

    clock.advance(26)  # day 31: monthly is due; "expiring" is past expires_at
    report = await scheduler.run_once()
    assert [r.secret_name for r in report.rotated] == ["monthly"]
    assert report.expired == ["expiring"]
    assert (await vault.list_secrets(status=SecretStatus.EXPIRED))[0].name == "expiring"
    assert not (await scheduler.run_once()).rotated
    clock.advance(29)
    assert not (await scheduler.run_once()).rotated
    clock.advance(2)  # 30 days after the last rotation
    assert [r.secret_name for r in (await scheduler.run_once()).rotated] == ["monthly"]


async def test_rotation_disabled_rotates_nothing(open_vault: Callable[..., Any]):
    vault = await open_vault(rotation_enabled=False)
    clock = Clock()
    vault.rotation.clock = clock
    await vault.store_secret(SecretType.API_KEY, "k", "v1", rotation_days=1)
    clock.advance(5)
    assert not (await vault.scheduler().run_once()).rotated


async def test_two_schedulers_never_rotate_a_secret_twice(tmp_path: Path):
    cfg = rotation_config(tmp_path)
    first, second = SecretVault(cfg), SecretVault(cfg)
    applied: list[str] = []

    async def slow_apply(ctx: RotationContext) -> None:
        applied.append(ctx.record.name)
        await asyncio.sleep(0.02)  # widen the window in which the other scheduler looks

    clock = Clock()
    for vault in (first, second):
        vault.register_rotator("app-*", slow_apply)
        await vault.initialize()
        vault.rotation.clock = clock
    try:
        names = [f"app-{i}" for i in range(12)]
        for name in names:
            await first.store_secret(SecretType.API_KEY, name, "v1", rotation_days=30)
        clock.advance(31)
        a, b = await asyncio.gather(
            first.scheduler("A").run_once(), second.scheduler("B").run_once()
        )
        assert a.ok and b.ok
        done = sorted(r.secret_name for r in a.rotated + b.rotated)
        assert done == sorted(names) and sorted(applied) == sorted(names)
        entries = (await first.get_access_log()).entries
        assert all(rotations(entries, n) == 1 for n in names)
        # Same window again: nothing is due any more.
        again = await asyncio.gather(first.scheduler().run_once(), second.scheduler().run_once())
        assert not again[0].rotated and not again[1].rotated
    finally:
        await first.shutdown()
        await second.shutdown()


async def test_failed_rotations_are_reported_to_the_webhook(open_vault: Callable[..., Any]):
    import http.server
    import json
    import threading

    bodies: list[dict[str, Any]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        vault = await open_vault(rotation_webhook_url=url)
        vault.register_verifier("bad", lambda value, record: False)
        clock = Clock()
        vault.rotation.clock = clock
        await vault.store_secret(SecretType.API_KEY, "bad", "secret-v1", rotation_days=1)
        clock.advance(2)
        report = await vault.scheduler().run_once()
        assert not report.ok and report.failed[0].failed_step == "verify"
        events = bodies[0]["events"]
        assert events[0]["event"] == "rotation_failed" and events[0]["secret"] == "bad"
        assert "secret-v1" not in json.dumps(bodies)
    finally:
        server.shutdown()
        server.server_close()


async def test_two_scheduler_processes_rotate_each_secret_once(tmp_path: Path):
    """Two `secretvault rotate --due` processes at once on one vault (real processes)."""
    import os
    import subprocess
    import sys

    vault = SecretVault(rotation_config(tmp_path))
    await vault.initialize()
    soon = utcnow() + timedelta(days=3)  # inside the pre-expiry window: due now
    names = [f"svc-{i}" for i in range(30)]
    for name in names:
        await vault.store_secret(SecretType.WEBHOOK_SECRET, name, "v1-value", expires_at=soon)
    await vault.shutdown()

    sv = str(Path(sys.executable).with_name("secretvault"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAHAVISHNU_", "SECRETVAULT_"))}
    env.update(
        MAHAVISHNU_SECRETS_MANAGEMENT__STORAGE_PATH=str(tmp_path / "vault.db"),
        MAHAVISHNU_SECRETS_MANAGEMENT__MASTER_KEY_PATH=str(tmp_path / "master.key"),
        NO_COLOR="1",
    )
    procs = [
        subprocess.Popen(
            [sv, "rotate", "--due", "--json"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    import json

    reports = [json.loads(out) for out, _ in outs]
    rotated = sorted(r["secret_name"] for rep in reports for r in rep["rotated"])
    assert rotated == sorted(names)  # every secret once, split between the two

    vault = SecretVault(rotation_config(tmp_path))
    await vault.initialize()
    try:
        entries = (await vault.get_access_log()).entries
        assert all(rotations(entries, n) == 1 for n in names)
        for name in names:
            assert (await vault.get_secret(name))[1].metadata.version == 2
    finally:
        await vault.shutdown()
