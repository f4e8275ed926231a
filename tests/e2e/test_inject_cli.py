"""``secretvault run/inject/render/export/import`` driven as a user drives them: real child
processes, real files, values only on stdin and in the vault, never on argv."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.e2e

SV = str(Path(sys.executable).with_name("secretvault"))
PY = sys.executable


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Cli:
    """``secretvault`` with ``SECRETVAULT_DIR`` under one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("MAHAVISHNU_", "SECRETVAULT_", "PYTEST_"))
        }
        self.env.update(SECRETVAULT_DIR=str(root / "v"), COLUMNS="200", NO_COLOR="1")

    def __call__(
        self, *args: str, input: str = "", code: int = 0
    ) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            [SV, *args],
            cwd=self.root,
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )
        assert res.returncode == code, (args, res.returncode, res.stdout[-800:], res.stderr[-800:])
        return res

    def popen(self, *args: str, **kw: object) -> subprocess.Popen[str]:
        return subprocess.Popen([SV, *args], cwd=self.root, env=self.env, text=True, **kw)  # type: ignore[call-overload]

    def set(self, name: str, value: str) -> None:
        self("set", name, "--stdin", input=value)


def until(check: object, seconds: float = 2.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.02)


CHILD = """
import hashlib, os, sys
value = os.environ["K"]
me = open("/proc/self/cmdline", "rb").read()
parent = open(f"/proc/{os.getppid()}/cmdline", "rb").read()
parent_env = open(f"/proc/{os.getppid()}/environ", "rb").read()
report = {
    "sha": hashlib.sha256(value.encode()).hexdigest(),
    "in_argv": value.encode() in me,
    "in_parent_argv": value.encode() in parent,
    "in_parent_env": value.encode() in parent_env,
}
open(sys.argv[1], "w").write(__import__("json").dumps(report))
sys.exit(int(sys.argv[2]))
"""


def test_run_gives_the_child_its_secret_and_nothing_else(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    value = f"v-{secrets.token_hex(16)}"
    cli.set("api-key", value)
    (tmp_path / "child.py").write_text(CHILD)
    res = cli("run", "--env", "K=api-key", "--", PY, "child.py", "report.json", "7", code=7)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report == {
        "sha": digest(value),
        "in_argv": False,
        "in_parent_argv": False,
        "in_parent_env": False,
    }
    assert value not in res.stdout + res.stderr
    # .env file with a reference, and a missing secret named with its variable
    (tmp_path / ".env").write_text("K=secret://api-key#1\nPLAIN=x\n")
    cli("run", "--env-file", ".env", "--", PY, "child.py", "r2.json", "0")
    assert json.loads((tmp_path / "r2.json").read_text())["sha"] == digest(value)
    err = cli("run", "--env", "K=nope", "--", "true", code=13).stderr
    assert err.startswith("error: K: secret 'nope'") and "Traceback" not in err
    err = cli("run", "--env", "K", "--", "true", code=13).stderr
    assert "bad --env spec" in err and "hint:" in err


def test_sigterm_is_forwarded_and_the_status_passed_through(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.set("api-key", secrets.token_hex(16))
    (tmp_path / "trap.py").write_text(
        "import signal, sys, time\n"
        "def term(*a):\n"
        "    open('got-term', 'w').close()\n"
        "    sys.exit(42)\n"
        "signal.signal(signal.SIGTERM, term)\n"
        "open('ready', 'w').close()\n"
        "time.sleep(30)\n"
    )
    proc = cli.popen("run", "--env", "K=api-key", "--", PY, "trap.py")
    until(lambda: (tmp_path / "ready").exists(), 15)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 42
    assert (tmp_path / "got-term").exists()


def test_redact_masks_a_value_split_across_writes(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    value = f"r-{secrets.token_hex(16)}"
    cli.set("api-key", value)
    (tmp_path / "leak.py").write_text(
        "import os, sys, time\n"
        "v = os.environ['K']\n"
        "sys.stdout.write('out:' + v[:7]); sys.stdout.flush(); time.sleep(0.2)\n"
        "sys.stdout.write(v[7:] + ':end\\n'); sys.stdout.flush()\n"
        "sys.stderr.write(v + '\\n')\n"
    )
    res = cli("run", "--env", "K=api-key", "--redact", "--", PY, "leak.py")
    assert value not in res.stdout and value not in res.stderr
    assert res.stdout == "out:*****:end\n" and res.stderr == "*****\n"


def test_watch_restarts_or_signals_the_child_on_a_change(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    old, new, newer = (f"w-{secrets.token_hex(16)}" for _ in range(3))
    cli.set("api-key", old)
    (tmp_path / "svc.py").write_text(
        "import hashlib, os, signal, sys, time\n"
        "log = open('starts.log', 'a')\n"
        "log.write(hashlib.sha256(os.environ['K'].encode()).hexdigest() + '\\n'); log.flush()\n"
        "signal.signal(signal.SIGHUP, lambda *a: open('hups.log', 'a').write('hup\\n'))\n"
        "while True: time.sleep(0.05)\n"
    )
    starts = tmp_path / "starts.log"
    proc = cli.popen("run", "--env", "K=api-key", "--watch", "--", PY, "svc.py")
    try:
        until(lambda: starts.exists() and starts.read_text().count("\n") == 1, 15)
        time.sleep(0.3)
        cli("update", "api-key", "--stdin", input=new)
        t0 = time.monotonic()
        until(lambda: starts.read_text().splitlines() == [digest(old), digest(new)], 2.5)
        assert time.monotonic() - t0 < 2.0 + 0.5
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)

    hups = tmp_path / "hups.log"
    starts.unlink()
    proc = cli.popen("run", "--env", "K=api-key", "--watch", "--signal", "HUP", "--", PY, "svc.py")
    try:
        until(lambda: starts.exists(), 15)
        time.sleep(0.3)
        cli("update", "api-key", "--stdin", input=newer)
        until(lambda: hups.exists(), 2.5)
        assert starts.read_text().count("\n") == 1  # signalled, not restarted
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)


def test_inject_render_export_import(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    a = f"a'\"\n-{secrets.token_hex(8)}"
    (tmp_path / "in.json").write_text(
        json.dumps({"db-password": a, "github-token": "t" + secrets.token_hex(8)})
    )
    res = cli("import", "in.json")
    assert "imported 2: db-password, github-token" in res.stderr and a not in res.stderr
    assert "skipped 2" in cli("import", "in.json").stderr

    (tmp_path / "app.yaml").write_text(
        'db:\n  password: {{ DB_PASSWORD }}\n  raw: {{ secret "db-password" | json }}\n'
    )
    cli("render", "app.yaml")
    out = tmp_path / "app.injected.yaml"
    assert yaml.safe_load(out.read_text())["db"] == {"password": a, "raw": a}
    assert out.stat().st_mode & 0o777 == 0o400
    (tmp_path / "bad.yaml").write_text("x: {{ NOPE }}\ny: {{ ALSO_NOPE }}\n")
    err = cli("render", "bad.yaml", code=13).stderr
    assert "NOPE" in err and "ALSO_NOPE" in err and not (tmp_path / "bad.injected.yaml").exists()

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"fine-name": "x", "bad name": "y"}))
    assert "bad name" in cli("import", "bad.json", code=2).stderr
    assert "fine-name" not in cli("list").stdout  # checked first: nothing was stored
    k8s = yaml.safe_load(cli("export", "--format", "k8s").stdout)
    assert k8s["kind"] == "Secret" and set(k8s["data"]) == {"db-password", "github-token"}
    # a terminal gets no values without --reveal
    master, slave = pty.openpty()
    try:
        p = subprocess.run(
            [SV, "export"],
            cwd=tmp_path,
            env=cli.env,
            stdout=slave,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert p.returncode == 2 and "--reveal" in p.stderr

    # inject --target applies file bindings recorded through the API
    script = (
        "import asyncio\n"
        "from secretvault import SecretVault, SecretsConfig, InjectionType\n"
        "async def main():\n"
        "    cfg = SecretsConfig(storage_path='v/vault.db', master_key_path='v/master.key')\n"
        "    v = SecretVault(cfg)\n"
        "    await v.initialize(create=False)\n"
        "    await v.inject_secret(\n"
        "        'db-password', InjectionType.FILE_MOUNT, 'svc', file_path='mnt/db')\n"
        "    await v.shutdown()\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([PY, "-c", script], cwd=tmp_path, env=cli.env, check=True, timeout=60)
    (tmp_path / "mnt" / "db").unlink()
    assert "wrote" in cli("inject", "--target", "svc").stderr
    assert (tmp_path / "mnt" / "db").read_text() == a
    assert "no bindings" in cli("inject", "--target", "nobody", code=13).stderr


BIND = """
import asyncio
from secretvault import SecretVault, SecretsConfig, InjectionType

async def main():
    cfg = SecretsConfig(storage_path="v/vault.db", master_key_path="v/master.key")
    v = SecretVault(cfg)
    await v.initialize(create=False)
    await v.inject_secret("api-key", InjectionType.ENV_VAR, "svc", env_var_name="K")
    await v.inject_secret(
        "cert", InjectionType.FILE_MOUNT, "svc", file_path="mnt/cert", restart_required=False
    )
    await v.shutdown()

asyncio.run(main())
"""


def test_watch_target_rewrites_files_and_signals_or_restarts(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.set("api-key", f"k-{secrets.token_hex(16)}")
    cli.set("cert", f"c-{secrets.token_hex(16)}")
    subprocess.run([PY, "-c", BIND], cwd=tmp_path, env=cli.env, check=True, timeout=60)
    (tmp_path / "svc.py").write_text(
        "import os, signal, time\n"
        "open('starts.log', 'a').write('start\\n')\n"
        "signal.signal(signal.SIGHUP, lambda *a: open('hups.log', 'a').write('hup\\n'))\n"
        "while True: time.sleep(0.05)\n"
    )
    starts, hups, cert = tmp_path / "starts.log", tmp_path / "hups.log", tmp_path / "mnt" / "cert"
    proc = cli.popen("run", "--target", "svc", "--watch", "--", PY, "svc.py")
    try:
        until(lambda: starts.exists() and cert.exists(), 15)
        time.sleep(0.3)
        new_cert = f"c2-{secrets.token_hex(16)}"
        cli("update", "cert", "--stdin", input=new_cert)
        until(lambda: cert.read_text() == new_cert and hups.exists())  # rewritten, then HUP
        assert starts.read_text() == "start\n"
        cli("update", "api-key", "--stdin", input=f"k2-{secrets.token_hex(16)}")
        until(lambda: starts.read_text() == "start\nstart\n")  # an env secret: restart
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
