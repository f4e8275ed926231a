"""The installed CLI on ``default_backend: azure_key_vault``, configured only by a settings file
(the pass-through options included), against the Key Vault test server; a raw Azure SDK client
checks what it wrote."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from azure.identity.aio import ClientSecretCredential
from azure.keyvault.secrets.aio import SecretClient
from azure_kv_server import DEFAULT_CLIENT, TENANT, ServerProcess, fresh_for, settings

pytestmark = pytest.mark.e2e

SV = str(Path(sys.executable).with_name("secretvault"))


def _cli(cwd: Path, *args: str, input: str = "", code: int = 0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAHAVISHNU_", "AZURE_"))}
    res = subprocess.run(
        [SV, *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        env=env | {"COLUMNS": "200", "NO_COLOR": "1"},
        timeout=60,
    )
    assert res.returncode == code, f"{args}: exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    assert "Traceback" not in res.stderr, res.stderr
    return res


async def _raw_value(server: ServerProcess, azure_name: str) -> str | None:
    credential = ClientSecretCredential(
        TENANT,
        DEFAULT_CLIENT,
        server.clients[DEFAULT_CLIENT],
        authority=server.authority,
        disable_instance_discovery=True,
        connection_verify=str(server.ca_path),
    )
    async with (
        credential,
        SecretClient(
            server.url,
            credential,
            connection_verify=str(server.ca_path),
            verify_challenge_resource=False,
        ) as client,
    ):
        return (await client.get_secret(azure_name)).value


def test_cli_set_get_list_doctor_on_azure(azure_kv: ServerProcess, tmp_path: Path) -> None:
    server = fresh_for(tmp_path)
    (tmp_path / "settings").mkdir()
    section = settings(server) | {
        "storage_path": "data/vault.db",
        "master_key_path": "data/master.key",
    }
    (tmp_path / "settings" / "mahavishnu.yaml").write_text(
        yaml.safe_dump({"secrets_management": section})
    )
    value = "sk-cli-VALUE-0042"
    _cli(tmp_path, "init")
    _cli(tmp_path, "set", "openai_api.key", "--service", "openai", "--tag", "prod", input=value)
    assert _cli(tmp_path, "get", "openai_api.key").stdout == value
    listed = json.loads(_cli(tmp_path, "list", "--json").stdout)
    assert [(r["name"], r["backend"], r["metadata"]["service"]) for r in listed] == [
        ("openai_api.key", "azure_key_vault", "openai")
    ]
    assert "openai_api.key" in _cli(tmp_path, "list").stdout
    assert asyncio.run(_raw_value(server, "openai--uapi--dkey")) == value
    missing = _cli(tmp_path, "get", "absent", code=4)
    assert missing.stderr.startswith("error: Secret not found in Azure: 'absent'")
    assert "hint: check the name" in missing.stderr
    doctor = _cli(tmp_path, "doctor")
    assert "[FAIL]" not in doctor.stdout and "audit chain" in doctor.stdout
