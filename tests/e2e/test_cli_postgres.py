"""The CLI on ``default_backend: postgres`` from a settings file, as a team would set it up:
the DSN's password comes from the environment through ``${VAR}`` expansion."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SV = str(Path(sys.executable).with_name("secretvault"))
DSN = os.environ.get("SECRETVAULT_TEST_POSTGRES_DSN")  # read before the env is cleared


def _team_project(tmp_path: Path) -> tuple[dict[str, str], str]:
    """A project folder whose settings point at the test PostgreSQL, the DSN's password coming
    from the environment; returns the environment to run the CLI in, and that password."""
    if DSN is None:
        if os.environ.get("CI"):
            pytest.fail("SECRETVAULT_TEST_POSTGRES_DSN is not set: scripts/test.sh starts it")
        pytest.skip("no test PostgreSQL (run the suite through scripts/test.sh)")
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    info = conninfo_to_dict(DSN)
    password = str(info.pop("password"))
    schema = "e_" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:16]
    (tmp_path / "settings").mkdir()
    (tmp_path / "settings" / "mahavishnu.yaml").write_text(
        "secrets_management:\n"
        "  default_backend: postgres\n"
        f'  postgres_dsn: "{make_conninfo(**info)} password=${{TEAM_DB_PASSWORD}}"\n'
        f"  postgres_schema: {schema}\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAHAVISHNU_", "SECRETVAULT_"))}
    env["TEAM_DB_PASSWORD"] = password
    return env, password


def _cli(
    tmp_path: Path, env: dict[str, str], password: str
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``sv(*args, stdin=, code=)``: run the CLI in the project, check its exit code and that
    the DSN's password is in none of its output."""

    def sv(*args: str, stdin: str = "", code: int = 0) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            [SV, *args],
            cwd=tmp_path,
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert res.returncode == code, res.stderr
        assert password not in res.stdout + res.stderr
        assert "Traceback" not in res.stderr
        return res

    return sv


def test_init_set_get_list_on_postgres_with_the_password_from_the_environment(
    tmp_path: Path,
) -> None:
    env, password = _team_project(tmp_path)
    sv = _cli(tmp_path, env, password)
    value = "pg-cli-value-" + os.urandom(8).hex()

    sv("init")
    sv("set", "team-db", "--type", "database_password", stdin=value)
    assert sv("get", "team-db").stdout.strip() == value
    assert "team-db" in sv("list").stdout
    doctor = sv("doctor").stdout
    assert "backend: postgres" in doctor and "audit chain of" in doctor
    assert "FAIL" not in doctor
    env["TEAM_DB_PASSWORD"] = "wrong-password"
    res = subprocess.run(
        [SV, "get", "team-db"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60
    )
    assert res.returncode == 10, res.stderr
    assert "not reachable" in res.stderr and "wrong-password" not in res.stderr


def test_backup_and_restore_on_postgres_with_pg_dump_and_pg_restore(tmp_path: Path) -> None:
    env, password = _team_project(tmp_path)
    if shutil.which("pg_dump", path=env["PATH"]) is None:
        if os.environ.get("CI"):
            pytest.fail("pg_dump is not installed (Debian: postgresql-client)")
        pytest.skip("pg_dump is not installed (Debian: postgresql-client)")
    sv = _cli(tmp_path, env, password)
    first, second = "pg-first-" + os.urandom(8).hex(), "pg-second-" + os.urandom(8).hex()

    # what --help says about each backend
    backup_help = sv("backup", "--help").stdout
    assert "pg_dump" in backup_help and "SQLite" in backup_help and "master key" in backup_help
    assert "pg_restore" in sv("restore", "--help").stdout

    sv("init")
    sv("set", "app-db", "--type", "database_password", stdin=first)
    sv("set", "app-token", stdin=second)

    snap = tmp_path / "snap.pgdump"
    assert f"backup written to {snap}" in sv("backup", "--output", str(snap)).stdout
    assert stat.S_IMODE(snap.stat().st_mode) == 0o600
    blob = snap.read_bytes()
    assert blob.startswith(b"PGDMP") and first.encode() not in blob and b"pg-" not in blob
    sv("backup", "--output", str(snap), code=2)  # never overwritten
    default = Path(json.loads(sv("backup", "--json").stdout)["path"])
    assert default.parent == tmp_path / "data" / "secrets" / "backups"
    assert default.name.startswith("vault-") and default.suffix == ".pgdump"
    assert default.name in sv("backup", "--list").stdout

    # changes after the backup, then the restore takes them back
    sv("update", "app-db", "--stdin", stdin="pg-changed-value-123")
    sv("set", "later", stdin="pg-later-value-123")
    sv("delete", "app-token", "--hard", "--yes")
    res = sv("restore", "--from-backup", str(snap), "--yes")
    assert "previous state saved as" in res.stderr
    saved = res.stderr.rsplit("previous state saved as ", 1)[1].strip()
    assert saved.endswith(".pgdump") and (tmp_path / saved).exists()
    assert sv("get", "app-db").stdout.strip() == first
    assert sv("get", "app-token").stdout.strip() == second
    sv("get", "later", code=4)
    assert "chain intact" in sv("audit", "verify").stdout
    assert " restore " in sv("audit", "log", "--limit", "0").stdout

    # the state before the restore is not lost
    sv("restore", "--from-backup", saved, "--yes")
    assert sv("get", "later").stdout.strip() == "pg-later-value-123"

    # a file that is not a dump of this vault changes nothing
    junk = tmp_path / "junk.pgdump"
    junk.write_bytes(b"not a dump at all")
    assert (
        "not a secretvault backup"
        in sv("restore", "--from-backup", str(junk), "--yes", code=8).stderr
    )
    assert sv("get", "later").stdout.strip() == "pg-later-value-123"

    # without the client tools: a clear error naming the package, no traceback
    no_tools = tmp_path / "no-tools"
    no_tools.mkdir()
    env["PATH"] = str(no_tools)
    res = sv("backup", code=3)
    assert "pg_dump is not installed" in res.stderr and "postgresql-client" in res.stderr
