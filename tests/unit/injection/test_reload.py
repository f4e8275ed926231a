"""Live updates: a secret updated from a second process re-renders files, calls subscribers
(sync and async) and signals a pid from a pidfile — each within 2 s."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from helpers_inject import distinctive

from secretvault import InjectionType, SecretType, SecretVault

UPDATE = """
import asyncio, sys
from secretvault import SecretsConfig, SecretVault

async def main():
    root, name = sys.argv[1], sys.argv[2]
    vault = SecretVault(SecretsConfig(storage_path=root + "/vault.db",
                                      master_key_path=root + "/master.key"))
    await vault.initialize(create=False)
    await vault.update_secret(name, sys.stdin.read())
    await vault.shutdown()

asyncio.run(main())
"""


def update_elsewhere(vault: SecretVault, name: str, value: str) -> None:
    """Update ``name`` from another process (value on stdin, never argv)."""
    root = str(Path(vault.config.storage_path).parent)
    subprocess.run(
        [sys.executable, "-c", UPDATE, root, name], input=value, text=True, check=True, timeout=60
    )


async def until(check: object, seconds: float = 2.0) -> float:
    """Poll ``check()`` until true; the time it took (fails after ``seconds``)."""
    start = time.monotonic()
    while not check():  # type: ignore[operator]
        assert time.monotonic() - start < seconds, "not within the deadline"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_update_from_another_process_reaches_everyone(
    vault: SecretVault, tmp_path: Path
) -> None:
    old, new = distinctive("old"), distinctive("new")
    await vault.store_secret(SecretType.API_KEY, "api-key", old)
    tpl = tmp_path / "app.yaml"
    tpl.write_text("key: {{ API_KEY }}\n")
    out = tmp_path / "app.injected.yaml"
    mounted = tmp_path / "m" / "key"

    waiter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, sys, time\n"
            "def hup(*a):\n"
            "    open(sys.argv[1], 'w').close()\n"
            "    sys.exit(0)\n"
            "signal.signal(signal.SIGHUP, hup)\n"
            "open(sys.argv[2], 'w').write(str(__import__('os').getpid()))\n"
            "time.sleep(30)\n",
            str(tmp_path / "got-hup"),
            str(tmp_path / "app.pid"),
        ]
    )
    await until(lambda: (tmp_path / "app.pid").exists(), 10)

    calls: list[str] = []
    async_calls: list[str] = []

    async def on_change(name: str) -> None:
        async_calls.append(name)

    vault.subscribe("api-key", lambda: calls.append("sync"))
    vault.subscribe("api-key", on_change)
    await vault.inject_secret(
        "api-key",
        InjectionType.DYNAMIC_UPDATE,
        "svc",
        file_path=str(mounted),
        pidfile=str(tmp_path / "app.pid"),
    )
    await vault.inject_secret(
        "api-key",
        InjectionType.TEMPLATE_REFERENCE,
        "svc",
        file_path=str(tpl),
        template_pattern="{{ API_KEY }}",
    )
    assert mounted.read_text() == old and yaml.safe_load(out.read_text()) == {"key": old}
    await asyncio.sleep(0.3)  # the watcher's baseline

    await asyncio.to_thread(update_elsewhere, vault, "api-key", new)
    await until(lambda: calls and async_calls == ["api-key"])
    await until(lambda: mounted.read_text() == new)
    await until(lambda: yaml.safe_load(out.read_text()) == {"key": new})
    await until(lambda: (tmp_path / "got-hup").exists())
    assert waiter.wait(5) == 0
    assert calls == ["sync"]


async def test_cancelled_subscription_is_not_called(vault: SecretVault) -> None:
    await vault.store_secret(SecretType.API_KEY, "k", distinctive())
    calls: list[int] = []
    sub = vault.subscribe("k", lambda: calls.append(1))
    other: list[int] = []
    vault.subscribe("k", lambda: other.append(1))
    await asyncio.sleep(0.3)
    sub.cancel()
    await vault.update_secret("k", distinctive())
    await until(lambda: other)
    assert calls == []


async def test_a_failing_subscriber_does_not_stop_the_others(vault: SecretVault) -> None:
    await vault.store_secret(SecretType.API_KEY, "k", distinctive())
    got: list[int] = []

    def broken() -> None:
        raise RuntimeError("boom")

    vault.subscribe("k", broken)
    vault.subscribe("k", lambda: got.append(1))
    await asyncio.sleep(0.3)
    await vault.update_secret("k", distinctive())
    await until(lambda: got)
    await vault.rotate_secret("k", distinctive(), verify=False)
    await until(lambda: len(got) == 2)
    assert os.getpid()  # still here
    assert signal.SIGHUP  # (the signal path is covered above)


async def test_every_secret_of_a_template_re_renders_it(vault: SecretVault, tmp_path: Path) -> None:
    a, b, b2 = distinctive("a"), distinctive("b"), distinctive("b2")
    await vault.store_secret(SecretType.API_KEY, "alpha", a)
    await vault.store_secret(SecretType.API_KEY, "beta", b)
    tpl = tmp_path / "t.json"
    tpl.write_text('{"a": {{ A }}, "b": {{ secret "beta" }}}')
    await vault.inject_secret(
        "alpha",
        InjectionType.TEMPLATE_REFERENCE,
        "svc",
        file_path=str(tpl),
        template_pattern="{{ A }}",
    )
    assert {x.secret_name for x in await vault.injection.bindings("svc")} == {"alpha", "beta"}
    await vault.inject_secret("alpha", InjectionType.DYNAMIC_UPDATE, "svc")
    await asyncio.sleep(0.3)
    await asyncio.to_thread(update_elsewhere, vault, "beta", b2)
    out = tmp_path / "t.injected.json"
    await until(lambda: json.loads(out.read_text()) == {"a": a, "b": b2})


async def test_dynamic_env_binding_hot_reloads_this_process(vault: SecretVault) -> None:
    old, new = distinctive("o"), distinctive("n")
    await vault.store_secret(SecretType.API_KEY, "k", old)
    await vault.inject_secret("k", InjectionType.DYNAMIC_UPDATE, "me", env_var_name="HOT_K")
    assert os.environ["HOT_K"] == old
    await asyncio.sleep(0.3)
    await vault.rotate_secret("k", new, verify=False)
    await until(lambda: os.environ["HOT_K"] == new)
