"""``secretvault get NAME``'s fast path (``cli/fast_get.py``) against the full CLI.

The fast path must be invisible: for every case — the plain read it takes, and every case it
hands to the full CLI (errors included) — stdout, stderr, the exit code and the audit entry are
the same as with ``SECRETVAULT_NO_FAST_PATH=1``. And when it does take a read, the process
imports none of the libraries the latency target rules out.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli_vault import EXIT, SV, Cli

pytestmark = pytest.mark.e2e

HEAVY = {"pydantic", "pydantic_core", "pydantic_settings", "typer", "click", "rich", "structlog"}


def _last_audit(cli: Cli, *flags: str) -> dict[str, object]:
    lines = cli(*flags, "audit", "export").stdout.splitlines()
    entry = json.loads(lines[-1])
    return {k: entry[k] for k in ("user", "action", "secret_name", "success", "reason")}


def _both_ways(cli: Cli, *args: str, flags: tuple[str, ...] = ()) -> None:
    """Run ``get`` with and without the fast path; everything observable must agree."""
    fast = cli(*flags, *args, code=None)
    fast_audit = _last_audit(cli, *flags)
    full = cli(*flags, *args, code=None, SECRETVAULT_NO_FAST_PATH="1")
    full_audit = _last_audit(cli, *flags)
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        full.returncode,
        full.stdout,
        full.stderr,
    ), args
    assert fast_audit == full_audit, args


def _imported(cwd: Path, *args: str, env: dict[str, str]) -> tuple[str, set[str]]:
    """stdout and the top-level packages a ``secretvault`` process imported."""
    res = subprocess.run(
        [sys.executable, "-X", "importtime", SV, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    mods = {
        line.split("|")[-1].strip().split(".")[0]
        for line in res.stderr.splitlines()
        if line.startswith("import time:")
    }
    return res.stdout, mods


def test_plain_get_imports_nothing_heavy_and_is_audited(tmp_path: Path) -> None:
    cli = Cli(tmp_path, SECRETVAULT_USER="deploy-bot")
    cli("--vault-dir", "v", "init")
    cli("--vault-dir", "v", "set", "db-password", input="pa55-VALUE-1")
    out, mods = _imported(
        tmp_path, "--vault-dir", "v", "get", "db-password", env=cli.env | {"SECRETVAULT_USER": "x"}
    )
    assert out == "pa55-VALUE-1"
    assert not mods & HEAVY, sorted(mods & HEAVY)
    assert _last_audit(cli, "--vault-dir", "v") == {
        "user": "x",
        "action": "read",
        "secret_name": "db-password",
        "success": True,
        "reason": None,
    }
    assert "chain intact" in cli("--vault-dir", "v", "audit", "verify").stdout
    # A settings file and an environment layer keep it on the fast path.
    (tmp_path / "settings").mkdir()
    (tmp_path / "settings" / "mahavishnu.yaml").write_text(
        "secrets_management:\n  storage_path: v/vault.db\n  rotation_days: 30\n"
    )
    env = cli.env | {"MAHAVISHNU_SECRETS_MANAGEMENT__MASTER_KEY_PATH": "v/master.key"}
    out, mods = _imported(tmp_path, "get", "db-password", env=env)
    assert out == "pa55-VALUE-1" and not mods & HEAVY


def test_fast_and_full_paths_agree_on_every_case(tmp_path: Path) -> None:
    cli = Cli(tmp_path, SECRETVAULT_USER="ops")
    v = ("--vault-dir", "v")
    cli(*v, "init")
    cli(*v, "set", "api-key", input="first-VALUE")
    cli(*v, "update", "api-key", input="second-VALUE")
    cli(*v, "set", "old-token", "--expires-at", "2001-01-01T00:00:00", input="old-VALUE")
    cli(*v, "set", "pem", input="pem-VALUE")
    cli(*v, "revoke", "pem", "--reason", "leaked")
    cli(*v, "set", "gone", input="gone-VALUE")
    cli(*v, "delete", "gone")
    for args in (
        ("get", "api-key"),
        ("get", "api-key", "--version", "1"),
        ("get", "api-key", "--version", "9"),
        ("get", "no-such-secret"),
        ("get", "old-token"),
        ("get", "pem"),
        ("get", "gone"),
        ("get", "bad/../name"),
    ):
        _both_ways(cli, *args, flags=v)
    assert cli(*v, "get", "api-key").stdout == "second-VALUE"
    assert cli(*v, "get", "old-token", code=EXIT["state"]).stdout == ""


def test_rbac_and_wrong_key_go_the_full_way_with_the_same_answer(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    v = ("--vault-dir", "v")
    cli(*v, "--user", "alice", "init")
    cli(*v, "--user", "alice", "set", "shared", input="shared-VALUE")
    rbac = {"MAHAVISHNU_SECRETS_MANAGEMENT__RBAC_ENABLED": "true", "SECRETVAULT_USER": "alice"}
    cli.env.update(rbac)  # alice (admin) reads the audit trail; each get names its user
    cli(*v, "--user", "alice", "access", "grant", "alice", "admin")
    _both_ways(cli, "--user", "mallory", "get", "shared", flags=v)
    _both_ways(cli, "--user", "alice", "get", "shared", flags=v)
    for key in rbac:
        del cli.env[key]
    # A different master key: refused the same way (and nothing is audited by either).
    other = tmp_path / "other"
    Cli(tmp_path)("--vault-dir", str(other), "init")
    key = tmp_path / "v" / "master.key"
    key.chmod(0o600)
    key.write_bytes((other / "master.key").read_bytes())
    fast = cli(*v, "get", "shared", code=EXIT["key"])
    full = cli(*v, "get", "shared", code=EXIT["key"], SECRETVAULT_NO_FAST_PATH="1")
    assert fast.stderr == full.stderr and "master key" in fast.stderr.lower()


def test_a_damaged_metadata_column_gets_the_full_paths_answer(tmp_path: Path) -> None:
    """Metadata altered at rest (not JSON) must not crash the fast path with a traceback: it
    hands over, and the answer is the full CLI's."""
    import sqlite3

    cli = Cli(tmp_path, SECRETVAULT_USER="ops")
    v = ("--vault-dir", "v")
    cli(*v, "init")
    cli(*v, "set", "api-key", input="first-VALUE")
    with sqlite3.connect(tmp_path / "v" / "vault.db") as db:
        db.execute("UPDATE secrets SET metadata = '{not json' WHERE name = 'api-key'")
    fast = cli(*v, "get", "api-key", code=None)
    full = cli(*v, "get", "api-key", code=None, SECRETVAULT_NO_FAST_PATH="1")
    assert "Traceback" not in fast.stderr
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        full.returncode,
        full.stdout,
        full.stderr,
    )
