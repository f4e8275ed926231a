"""The rotation commands driven as a user would: rotate, rotate --due, scheduler, history."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rotationtest_helpers import Pg

from secretvault.rotation.postgres import PgCredential

pytestmark = pytest.mark.e2e

SV = str(Path(sys.executable).with_name("secretvault"))


def cli(cwd: Path, *args: str, code: int = 0, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAHAVISHNU_", "SECRETVAULT_"))}
    env.update(COLUMNS="200", NO_COLOR="1", TERM="dumb", SECRETVAULT_USER="alice")
    res = subprocess.run(
        [SV, *args], cwd=cwd, input=stdin, capture_output=True, text=True, env=env, timeout=120
    )
    assert res.returncode == code, f"{args}: exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


def settings(cwd: Path, yaml: str) -> None:
    (cwd / "settings").mkdir(exist_ok=True)
    (cwd / "settings" / "mahavishnu.yaml").write_text(yaml)


def test_rotate_postgres_from_the_cli_and_history(pg: Pg, tmp_path: Path):
    user, old = pg.make_role()
    settings(
        tmp_path,
        "secrets_management:\n  rotation:\n    rotators:\n"
        "      - match: app-db\n        kind: postgres\n",
    )
    cli(
        tmp_path, "set", "app-db", "--type", "database_password", "--stdin", stdin=pg.uri(user, old)
    )
    res = cli(tmp_path, "rotate", "app-db")
    assert "rotated app-db: v1 -> v2" in res.stderr and "warning" not in res.stderr
    value = cli(tmp_path, "get", "app-db").stdout.strip()
    new = PgCredential.parse(value).password
    assert pg.can_login(user, new) and not pg.can_login(user, old)
    assert old not in res.stderr + res.stdout and new not in res.stderr + res.stdout

    # A role that cannot log in any more: the rotation fails at check, exit 12.
    with __import__("psycopg").connect(pg.dsn, autocommit=True) as conn:
        conn.execute(f'ALTER ROLE "{user}" NOLOGIN')
    res = cli(tmp_path, "rotate", "app-db", code=12)
    assert "check" in res.stderr and "nothing was changed" in res.stderr
    assert new not in res.stderr

    history = cli(tmp_path, "history", "app-db").stdout
    assert "by alice  rotated" in history
    assert "rolled back  (check: cannot log in" in history


def test_store_only_warning(tmp_path: Path):
    cli(tmp_path, "set", "stripe", "--type", "api_key", "--stdin", stdin="sk_old_1234567890")
    res = cli(tmp_path, "rotate", "stripe")
    assert "only the stored value of stripe changed" in res.stderr
    res = cli(tmp_path, "rotate", "stripe", "--store-only")
    assert "warning" not in res.stderr
    cli(tmp_path, "set", "plain", "--type", "environment_variable", "--stdin", stdin="x-value")
    assert "warning" not in cli(tmp_path, "rotate", "plain").stderr


def test_rotate_due_summarises_and_fails_on_a_failed_rotation(tmp_path: Path):
    settings(
        tmp_path,
        "secrets_management:\n  rotation:\n    verifiers:\n"
        "      - match: tag:broken\n        kind: http\n        url: http://127.0.0.1:9/\n"
        '        header: "Authorization: Bearer {value}"\n',
    )
    soon = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S")
    cli(
        tmp_path,
        "set",
        "due-ok",
        "--type",
        "webhook_secret",
        "--expires-at",
        soon,
        "--stdin",
        stdin="whsec_one_value",
    )
    cli(
        tmp_path,
        "set",
        "due-bad",
        "--type",
        "webhook_secret",
        "--expires-at",
        soon,
        "--tag",
        "broken",
        "--stdin",
        stdin="whsec_two_value",
    )
    cli(tmp_path, "set", "not-due", "--type", "webhook_secret", "--stdin", stdin="whsec_3_value")

    res = cli(tmp_path, "rotate", "--due", code=12)
    assert "1 rotated, 1 failed" in res.stderr
    assert "due-ok" in res.stderr and "due-bad" in res.stderr and "not-due" not in res.stderr
    assert "verification failed" in res.stderr
    # The pass is done: running it again rotates nothing new but still reports the failure.
    res = cli(tmp_path, "rotate", "--due", code=12)
    assert "0 rotated, 1 failed" in res.stderr


def test_scheduler_stops_gracefully_on_sigterm(tmp_path: Path):
    soon = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S")
    cli(
        tmp_path,
        "set",
        "k",
        "--type",
        "webhook_secret",
        "--expires-at",
        soon,
        "--stdin",
        stdin="whsec_value_1",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAHAVISHNU_", "SECRETVAULT_"))}
    env.update(COLUMNS="200", NO_COLOR="1", TERM="dumb")
    proc = subprocess.Popen(
        [SV, "scheduler", "--interval", "1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        seen = ""
        assert proc.stderr is not None
        while "1 rotated" not in seen and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
        assert "1 rotated" in seen, seen
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, seen + rest
    assert "scheduler: stopped" in rest


def test_settings_error_names_the_key(tmp_path: Path):
    settings(
        tmp_path,
        "secrets_management:\n  rotation:\n    rotators:\n"
        "      - match: app-db\n        kind: ldap\n",
    )
    res = cli(tmp_path, "list", code=3)
    assert "secrets_management.rotation.rotators[0].kind" in res.stderr and "ldap" in res.stderr
    assert "Traceback" not in res.stderr
