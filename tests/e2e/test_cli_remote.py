"""The installed CLI on server-backed stores: ``default_backend: vault`` (the test OpenBao) or
``aws_secrets_manager`` (moto) in a settings file; set / get / list / update / history round
trip, then ``doctor``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from remote_services import AWS_ENDPOINT, VAULT_TOKEN, namespace, need

pytestmark = pytest.mark.e2e

SV = str(Path(sys.executable).with_name("secretvault"))


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MAHAVISHNU_", "SECRETVAULT_", "PYTEST_", "VAULT_", "AWS_"))
    }
    env.update(COLUMNS="200", NO_COLOR="1", TERM="dumb", PYTHONWARNINGS="ignore")
    env.update(extra)
    return env


@pytest.mark.parametrize("backend", ["vault", "aws_secrets_manager"])
def test_cli_round_trip_on_a_server_backend(backend: str, tmp_path: Path) -> None:
    ns = namespace(str(tmp_path))
    (tmp_path / "settings").mkdir()
    if backend == "vault":
        settings = (
            f'  vault_addr: "{need("vault")}"\n'
            '  vault_token: "${VAULT_TOKEN}"\n'
            f'  vault_mount: "{ns}"\n'
        )
        env = _env(VAULT_TOKEN=VAULT_TOKEN)
    else:
        need("aws")
        settings = f'  aws_region: us-east-1\n  aws_secret_prefix: "{ns}/"\n'
        env = _env(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_ENDPOINT_URL=AWS_ENDPOINT,  # the standard variable, read by boto3's chain
        )
    (tmp_path / "settings" / "mahavishnu.yaml").write_text(
        f"secrets_management:\n  default_backend: {backend}\n" + settings
    )

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
    assert f"backend: {backend}" in doctor and "[FAIL]" not in doctor
    # bad credentials: an authorization error that names the fix, and never the value
    if backend == "vault":
        env["VAULT_TOKEN"] = "not-a-token"
        out = sv("get", "openai-api-key", code=6)
        assert "hint:" in out and "sk-second" not in out
