"""The CLI on ``default_backend: postgres`` from a settings file, as a team would set it up:
the DSN's password comes from the environment through ``${VAR}`` expansion."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SV = str(Path(sys.executable).with_name("secretvault"))
DSN = os.environ.get("SECRETVAULT_TEST_POSTGRES_DSN")  # read before the env is cleared


def test_init_set_get_list_on_postgres_with_the_password_from_the_environment(
    tmp_path: Path,
) -> None:
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
    value = "pg-cli-value-" + os.urandom(8).hex()

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
        return res

    sv("init")
    sv("set", "team-db", "--type", "database_password", stdin=value)
    assert sv("get", "team-db").stdout.strip() == value
    assert "team-db" in sv("list").stdout
    assert "backup" in sv("backup", code=3).stderr  # a server's store: its own backup tools
    doctor = sv("doctor").stdout
    assert "backend: postgres" in doctor and "audit chain of" in doctor
    assert "FAIL" not in doctor
    env["TEAM_DB_PASSWORD"] = "wrong-password"
    res = subprocess.run(
        [SV, "get", "team-db"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60
    )
    assert res.returncode == 10, res.stderr
    assert "not reachable" in res.stderr and "wrong-password" not in res.stderr
