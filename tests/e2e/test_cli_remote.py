"""The installed CLI on a server-backed store: ``default_backend: vault`` in a settings file,
set / get / list / update / history round trip, then ``doctor``, against the test OpenBao."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from remote_services import VAULT_TOKEN, namespace, need

pytestmark = pytest.mark.e2e

SV = str(Path(sys.executable).with_name("secretvault"))


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MAHAVISHNU_", "SECRETVAULT_", "PYTEST_", "VAULT_"))
    }
    env.update(COLUMNS="200", NO_COLOR="1", TERM="dumb", PYTHONWARNINGS="ignore")
    env.update(extra)
    return env


def test_cli_round_trip_on_openbao(tmp_path: Path) -> None:
    addr = need("vault")
    mount = namespace(str(tmp_path))
    (tmp_path / "settings").mkdir()
    (tmp_path / "settings" / "mahavishnu.yaml").write_text(
        "secrets_management:\n"
        "  default_backend: vault\n"
        f'  vault_addr: "{addr}"\n'
        '  vault_token: "${VAULT_TOKEN}"\n'
        f'  vault_mount: "{mount}"\n'
    )
    env = _env(VAULT_TOKEN=VAULT_TOKEN)

    def sv(*args: str, stdin: str | None = None, code: int = 0) -> str:
        res = subprocess.run(
            [SV, *args],
            cwd=tmp_path,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == code, (args, res.stdout, res.stderr)
        return res.stdout + res.stderr

    sv("set", "openai-api-key", "--type", "api_key", stdin="sk-first")
    assert sv("get", "openai-api-key") == "sk-first"
    sv("update", "openai-api-key", stdin="sk-second")
    assert sv("get", "openai-api-key") == "sk-second"
    listed = sv("list")
    assert "openai-api-key" in listed and "sk-" not in listed
    assert "current" in sv("history", "openai-api-key")
    sv("get", "missing-one", code=4)
    doctor = sv("doctor")
    assert "backend: vault" in doctor and "[FAIL]" not in doctor
    # the bad-token case names the fix
    env["VAULT_TOKEN"] = "not-a-token"
    out = sv("get", "openai-api-key", code=6)
    assert "hint:" in out and "sk-second" not in out
