"""Azure Key Vault through ``SecretVault``: the real SDK and credential class over real HTTPS
against the test server (``tests/support/azure_kv_server.py``, a child process).

What the contract suite cannot show: interop with other Azure clients both ways, the name
escaping, Azure's limits, permission and outage errors (audited), retries, and that values
never leak into logs, errors, reprs, tags or the audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity.aio import ClientSecretCredential
from azure.keyvault.secrets.aio import SecretClient
from azure_kv_server import (
    DEFAULT_CLIENT,
    TENANT,
    ServerProcess,
    credential_options,
    fresh_for,
    settings,
)
from azure_kv_server import (
    client_options as kv_client_options,
)

from secretvault.backends.azure import (
    AzureKeyVaultStore,
    azure_name,
    original_name,
)
from secretvault.backends.base import STAGE_CURRENT, NativeValue, StoredVersion
from secretvault.backends.registry import build_stores, spec_for
from secretvault.config import SecretsConfig
from secretvault.errors import (
    AuthorizationError,
    BackendUnavailableError,
    ConfigurationError,
    InvalidArgumentError,
    InvalidSecretNameError,
    InvalidSecretValueError,
    SecretAlreadyExistsError,
    SecretExpiredError,
    SecretNotFoundError,
    SecretPendingDeletionError,
    SecretRevokedError,
    SecretVaultError,
    VersionConflictError,
)
from secretvault.models import BackendType, SecretStatus, SecretType, utcnow
from secretvault.vault import SecretVault

OpenVault = Callable[..., Any]


@pytest.fixture
def kv(azure_kv: ServerProcess, tmp_path: Path) -> ServerProcess:
    """The test server, emptied for this test."""
    return fresh_for(tmp_path)


def _config(root: Path, server: ServerProcess, **overrides: Any) -> SecretsConfig:
    fields = settings(server, overrides.pop("client", DEFAULT_CLIENT)) | overrides
    return SecretsConfig(
        storage_path=str(root / "data" / "vault.db"),
        master_key_path=str(root / "data" / "master.key"),
        **fields,
    )


@pytest.fixture
async def open_vault(kv: ServerProcess, tmp_path: Path) -> AsyncIterator[OpenVault]:
    """``await open_vault(**settings)``: a SecretVault on the test server (closed afterwards)."""
    opened: list[SecretVault] = []

    async def opener(**overrides: Any) -> SecretVault:
        vault = SecretVault(_config(tmp_path, kv, **overrides))
        await vault.initialize()
        opened.append(vault)
        return vault

    yield opener
    for vault in opened:
        await vault.shutdown()


@asynccontextmanager
async def raw_client(server: ServerProcess, client: str = DEFAULT_CLIENT) -> AsyncIterator[Any]:
    """The plain Azure SDK client, configured as any other Azure application would be."""
    credential = ClientSecretCredential(
        TENANT, client, server.clients[client], **credential_options(server)
    )
    secrets = SecretClient(
        server.url,
        credential,
        connection_verify=str(server.ca_path),
        verify_challenge_resource=False,
    )
    try:
        yield secrets
    finally:
        await secrets.close()
        await credential.close()


# -- names ----------------------------------------------------------------------------------------


def test_name_escaping_is_injective_and_keeps_dash_names() -> None:
    names = ["db-password", "a_b", "a.b", "a-b", "a--b", "a-_b", "a_-b", "a-", "A.B_C-d", "x-.y"]
    encoded = [azure_name(n) for n in names]
    assert azure_name("db-password") == "db-password"
    assert azure_name("OpenAI-Key2") == "OpenAI-Key2"
    assert len(set(encoded)) == len(names)
    for name, az in zip(names, encoded, strict=True):
        assert all(c.isalnum() or c == "-" for c in az), az
        assert original_name(az) == name
    assert original_name("portal--name") is None  # a '--' that is no escape: not addressable
    with pytest.raises(InvalidSecretNameError, match="at most 127"):
        azure_name("x" * 100 + "_" * 10)


# -- interop --------------------------------------------------------------------------------------


async def test_secrets_written_by_other_azure_clients_are_read_as_they_are(
    kv: ServerProcess, open_vault: OpenVault
) -> None:
    async with raw_client(kv) as raw:
        await raw.set_secret("openai-api-key", "sk-portal-first")  # the guide's az keyvault set
        await raw.set_secret("openai-api-key", "sk-portal-second")
        await raw.set_secret("app--uconfig", "escaped-by-hand", content_type="database_password")
        await raw.set_secret("portal--name", "unaddressable")
    vault: SecretVault = await open_vault()
    value, record = await vault.get_secret("openai-api-key")
    assert value == "sk-portal-second"
    assert (record.metadata.version, record.status) == (2, SecretStatus.ACTIVE)
    assert record.backend == BackendType.AZURE_KEY_VAULT
    assert (await vault.get_secret("openai-api-key", version=1))[0] == "sk-portal-first"
    assert [(h.version, h.stage) for h in await vault.history("openai-api-key")] == [
        (2, "current"),
        (1, ""),
    ]
    value, record = await vault.get_secret("app_config")
    assert value == "escaped-by-hand" and record.secret_type == SecretType.DATABASE_PASSWORD
    assert [r.name for r in await vault.list_secrets()] == ["app_config", "openai-api-key"]
    # secretvault then manages a portal secret like its own: a new version, metadata kept
    await vault.update_secret("openai-api-key", "sk-from-secretvault")
    await vault.update_metadata("openai-api-key", service="openai")
    value, record = await vault.get_secret("openai-api-key")
    assert (value, record.metadata.version, record.metadata.service) == (
        "sk-from-secretvault",
        3,
        "openai",
    )


async def test_secrets_written_by_secretvault_are_read_by_other_azure_clients(
    kv: ServerProcess, open_vault: OpenVault
) -> None:
    vault: SecretVault = await open_vault()
    await vault.store_secret(
        SecretType.API_KEY, "svc.api_key", "first-VALUE", service="billing", tags=["prod"]
    )
    await vault.update_secret("svc.api_key", "second-VALUE")
    async with raw_client(kv) as raw:
        secret = await raw.get_secret("svc--dapi--ukey")
        assert secret.value == "second-VALUE"
        assert secret.properties.content_type == "api_key"
        tags = secret.properties.tags
        assert tags["sv-name"] == "svc.api_key" and tags["sv-service"] == "billing"
        assert tags["sv-v"] == "2" and tags["sv-stages"] == "current=2,previous=1"
        # a failed rotation leaves Azure's latest version at the current value
        vault.register_verifier("svc.api_key", lambda value, record: False)
        result = await vault.rotate_secret("svc.api_key", new_value="rejected-VALUE")
        assert result.rolled_back
        assert (await raw.get_secret("svc--dapi--ukey")).value == "second-VALUE"
        vault.register_verifier("svc.api_key", lambda value, record: True)
        assert (await vault.rotate_secret("svc.api_key", new_value="third-VALUE")).success
        assert (await raw.get_secret("svc--dapi--ukey")).value == "third-VALUE"
        assert (await vault.get_secret("svc.api_key"))[1].metadata.version == 3
        # revoked in secretvault = disabled in Azure, for every client
        await vault.revoke_secret("svc.api_key")
        with pytest.raises(HttpResponseError) as info:
            await raw.get_secret("svc--dapi--ukey")
        assert info.value.status_code == 403
        with pytest.raises(SecretRevokedError):
            await vault.get_secret("svc.api_key")
        await vault.update_metadata("svc.api_key", status="active")
        assert (await raw.get_secret("svc--dapi--ukey")).value == "third-VALUE"
        # soft delete is Azure's soft delete; restore is recover
        await vault.soft_delete_secret("svc.api_key")
        deleted = await raw.get_deleted_secret("svc--dapi--ukey")
        assert deleted.properties.tags["sv-status"] == "pending_deletion"
        with pytest.raises(SecretAlreadyExistsError):
            await vault.store_secret(SecretType.API_KEY, "svc.api_key", "again")
        await vault.restore_secret("svc.api_key")
        assert (await raw.get_secret("svc--dapi--ukey")).value == "third-VALUE"
        assert await vault.delete_secret("svc.api_key") is True
        assert [d.name async for d in raw.list_deleted_secrets()] == []


async def test_tags_edited_into_nonsense_in_the_portal_never_make_a_secret_unreadable(
    kv: ServerProcess, open_vault: OpenVault
) -> None:
    garbage = {
        "sv-name": "not a valid name!",
        "sv-status": "weird",
        "sv-rotation-days": "999",
        "sv-times": "{not json",
        "sv-tags": '{"a": 1}',
        "sv-version": "x",
        "sv-stages": "current=,=3",
    }
    async with raw_client(kv) as raw:
        await raw.set_secret("edited-by-hand", "still-readable", tags=garbage)
    vault: SecretVault = await open_vault()
    value, record = await vault.get_secret("edited-by-hand")
    assert value == "still-readable"
    md = record.metadata
    assert (record.name, record.status, md.rotation_days, md.tags, md.version) == (
        "edited-by-hand",
        SecretStatus.ACTIVE,
        90,
        [],
        1,
    )
    assert [r.name for r in await vault.list_secrets()] == ["edited-by-hand"]


async def test_expiry_is_azure_s_expires_attribute_and_an_expired_secret_is_refused(
    kv: ServerProcess, open_vault: OpenVault
) -> None:
    vault: SecretVault = await open_vault()
    past = utcnow() - timedelta(minutes=5)
    await vault.store_secret(SecretType.API_KEY, "old-key", "old-VALUE", expires_at=past)
    with pytest.raises(SecretExpiredError):
        await vault.get_secret("old-key")
    async with raw_client(kv) as raw:
        props = (await raw.get_secret("old-key")).properties
    assert props.expires_on is not None and int(props.expires_on.timestamp()) == int(
        past.timestamp()
    )
    assert props.tags is not None and props.tags["sv-status"] == "expired"  # kept, as local does
    record = (await vault.list_secrets(status=SecretStatus.EXPIRED))[0]
    assert record.metadata.expires_at == past  # exact: Azure's whole seconds are refined by a tag


async def test_a_write_never_undoes_another_writer_s_delete(
    kv: ServerProcess, open_vault: OpenVault
) -> None:
    """A secret deleted (by anyone) between a unit's read and its commit stays deleted: a new
    version is a lost race, a metadata change finds nothing to change."""
    vault: SecretVault = await open_vault()
    for name in ("contested-a", "contested-b"):
        await vault.store_secret(SecretType.API_KEY, name, "v1-VALUE")
    expected = (
        ("contested-a", VersionConflictError, "deleted by another writer"),
        ("contested-b", SecretNotFoundError, "Secret not found in Azure"),
    )
    for name, error, text in expected:
        with pytest.raises(error, match=text):
            async with vault.stores.secrets.session() as session:
                record = await session.get(name)
                assert record is not None
                if name.endswith("a"):
                    record.metadata = record.metadata.model_copy(update={"version": 2})
                    new = StoredVersion(2, NativeValue("v2-VALUE"), utcnow(), "w", STAGE_CURRENT)
                    await session.add_version(record, new, 10, cas=1)
                else:
                    record.metadata = record.metadata.model_copy(update={"description": "mine"})
                    await session.update(record)
                async with raw_client(kv) as raw:
                    await raw.delete_secret(azure_name(name))
        with pytest.raises(SecretPendingDeletionError):  # still deleted: nothing recovered
            await vault.get_secret(name)


async def test_listing_follows_azure_paging(kv: ServerProcess, open_vault: OpenVault) -> None:
    async with raw_client(kv) as raw:  # the server pages at 25 items: three pages
        for i in range(60):
            await raw.set_secret(f"paged-{i:02d}", f"value-{i}")
        for i in range(30):
            await raw.delete_secret(f"paged-{i:02d}")
    vault: SecretVault = await open_vault()
    records = await vault.list_secrets()
    assert [r.name for r in records] == [f"paged-{i:02d}" for i in range(60)]
    assert [r.status for r in records].count(SecretStatus.PENDING_DELETION) == 30


async def test_names_differing_only_in_case_are_one_azure_secret(open_vault: OpenVault) -> None:
    vault: SecretVault = await open_vault()
    await vault.store_secret(SecretType.API_KEY, "token", "lower-VALUE")
    with pytest.raises(InvalidSecretNameError, match="case-insensitive"):
        await vault.store_secret(SecretType.API_KEY, "TOKEN", "upper-VALUE")
    assert (await vault.get_secret("token"))[0] == "lower-VALUE"
    with pytest.raises(SecretNotFoundError, match="Secret not found in Azure: 'absent'") as info:
        await vault.get_secret("absent")  # the guide's troubleshooting text, with a fix
    assert info.value.hint is not None and "az keyvault secret list" in info.value.hint


async def test_a_writer_that_lost_the_race_is_refused_and_writes_nothing(
    kv: ServerProcess, open_vault: OpenVault
) -> None:
    """Two units read version 1; the second to commit is refused (compare-and-set by re-read,
    docs/backends-azure.md), whatever happened between its read and its commit."""
    vault: SecretVault = await open_vault()
    await vault.store_secret(SecretType.API_KEY, "raced", "v1-VALUE")
    stores = vault.stores

    async def write(session: Any, value: str) -> None:
        record = await session.get("raced")
        assert record is not None and record.metadata.version == 1
        record.metadata = record.metadata.model_copy(update={"version": 2})
        stored = StoredVersion(2, NativeValue(value), utcnow(), "racer", STAGE_CURRENT)
        await session.add_version(record, stored, 10, cas=1)

    with pytest.raises(VersionConflictError, match="another writer"):
        async with stores.secrets.session() as slow:  # the secret role alone: two at once
            await write(slow, "slow-VALUE")
            async with stores.secrets.session() as fast:  # commits first
                await write(fast, "fast-VALUE")
    value, record = await vault.get_secret("raced")
    assert (value, record.metadata.version) == ("fast-VALUE", 2)
    assert [h.version for h in await vault.history("raced")] == [2, 1]


# -- limits: refused before anything is written ---------------------------------------------------


async def test_what_azure_cannot_hold_is_refused_and_nothing_is_written(
    open_vault: OpenVault,
) -> None:
    vault: SecretVault = await open_vault()
    with pytest.raises(InvalidSecretValueError, match="25 KiB"):
        await vault.store_secret(SecretType.API_KEY, "big", "x" * (26 * 1024))
    with pytest.raises(InvalidArgumentError, match="at most 256") as info:
        await vault.store_secret(SecretType.API_KEY, "wordy", "v", description="d" * 300)
    assert info.value.hint is not None
    assert await vault.list_secrets() == []
    log = await vault.get_access_log()
    assert [(e.action, e.success) for e in log.entries if e.action != "list"] == [
        ("create", False),
        ("create", False),
    ]


# -- permissions, outages, retries ----------------------------------------------------------------


async def test_permission_denied_by_azure_is_an_authorization_error_and_audited(
    kv: ServerProcess, open_vault: OpenVault
) -> None:
    kv.add_client("read-only-app", "read-only-secret", {"get", "list"})
    admin: SecretVault = await open_vault()
    await admin.store_secret(SecretType.API_KEY, "shared", "shared-VALUE")
    reader: SecretVault = await open_vault(client="read-only-app")
    assert (await reader.get_secret("shared"))[0] == "shared-VALUE"
    with pytest.raises(AuthorizationError) as info:
        await reader.update_secret("shared", "changed-VALUE")
    assert "403" in str(info.value) and info.value.hint and "set-policy" in info.value.hint
    assert (await admin.get_secret("shared"))[0] == "shared-VALUE"
    updates = [e for e in (await reader.get_access_log()).entries if e.action == "update"]
    assert [(e.success, (e.reason or "").split(":")[0]) for e in updates] == [
        (False, "AuthorizationError")
    ]


async def test_a_wrong_client_secret_is_an_authorization_error(
    kv: ServerProcess, tmp_path: Path
) -> None:
    config = _config(tmp_path, kv, azure_client_secret="not-the-secret")
    vault = SecretVault(config)
    with pytest.raises(AuthorizationError, match="did not accept the credential"):
        await vault.initialize()
    assert "not-the-secret" not in repr(config)


async def test_a_dead_vault_fails_within_the_timeout_and_the_failure_is_audited(
    tmp_path: Path,
) -> None:
    import time

    server = ServerProcess()  # its own server: this test kills it
    vault = SecretVault(_config(tmp_path, server))
    await vault.initialize()
    try:
        await vault.store_secret(SecretType.API_KEY, "kept", "kept-VALUE")
        server.stop()
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError, match="cannot reach Azure Key Vault") as info:
            await vault.get_secret("kept")
        assert time.monotonic() - started < 5
        assert info.value.hint is not None and "azure_vault_url" in info.value.hint
        with pytest.raises(BackendUnavailableError):
            await vault.update_secret("kept", "lost-VALUE")
        entries = (await vault.get_access_log()).entries
        assert [(e.action, e.success) for e in entries[-2:]] == [
            ("read", False),
            ("update", False),
        ]
        assert all("BackendUnavailableError" in (e.reason or "") for e in entries[-2:])
    finally:
        await vault.shutdown()


async def test_a_hung_vault_fails_after_the_read_timeout(
    kv: ServerProcess, open_vault: OpenVault
) -> None:
    import time

    options = kv_client_options(kv, read_timeout=0.5)
    vault: SecretVault = await open_vault(azure_client_options=options)
    await vault.store_secret(SecretType.API_KEY, "slow", "slow-VALUE")
    kv.stall_next(3, 3)  # both the first try and the one retry hang
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="did not answer") as info:
        await vault.get_secret("slow")
    assert time.monotonic() - started < 2.5
    assert info.value.hint is not None and "read_timeout" in info.value.hint


async def test_transient_failures_are_retried_by_the_sdk_policy(
    kv: ServerProcess, open_vault: OpenVault
) -> None:
    vault: SecretVault = await open_vault()  # retry_total=1 (tests/support settings)
    kv.fail_next(503)
    await vault.store_secret(SecretType.API_KEY, "flaky", "flaky-VALUE")
    kv.fail_next(503, 503, 503)
    with pytest.raises(BackendUnavailableError, match="503"):
        await vault.get_secret("flaky")
    assert (await vault.get_secret("flaky"))[0] == "flaky-VALUE"


# -- settings -------------------------------------------------------------------------------------


def test_settings_errors_say_what_to_fix(tmp_path: Path) -> None:
    def build(**fields: Any) -> Any:
        return build_stores(
            SecretsConfig(
                default_backend=BackendType.AZURE_KEY_VAULT,
                storage_path=str(tmp_path / "v.db"),
                **fields,
            )
        )

    with pytest.raises(ConfigurationError, match="azure_vault_url") as info:
        build()
    assert info.value.hint and "vault.azure.net" in info.value.hint
    url = "https://example.vault.azure.net/"
    with pytest.raises(ConfigurationError, match="missing azure_client_secret"):
        build(azure_vault_url=url, azure_tenant_id="t", azure_client_id="c")
    with pytest.raises(ConfigurationError, match="logging_enable"):
        build(azure_vault_url=url, azure_client_options={"logging_enable": True})
    stores = build(azure_vault_url=url)
    assert not stores.is_shared and isinstance(stores.secrets, AzureKeyVaultStore)
    assert not spec_for(BackendType.AZURE_KEY_VAULT).inline_io


def test_a_missing_aiohttp_names_the_azure_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "aiohttp", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "secretvault.backends.azure")
    config = SecretsConfig(
        default_backend=BackendType.AZURE_KEY_VAULT,
        azure_vault_url="https://example.vault.azure.net/",
        storage_path=str(tmp_path / "v.db"),
    )
    with pytest.raises(ConfigurationError, match="needs aiohttp") as info:
        build_stores(config)
    assert info.value.hint == "pip install 'secretvault[azure]'"


async def test_default_azure_credential_is_used_without_client_settings(
    kv: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", DEFAULT_CLIENT)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", kv.clients[DEFAULT_CLIENT])
    fields = settings(kv)
    for key in ("azure_tenant_id", "azure_client_id", "azure_client_secret"):
        fields.pop(key)
    fields["azure_credential_options"] |= {
        "exclude_managed_identity_credential": True,
        "exclude_workload_identity_credential": True,
        "exclude_cli_credential": True,
        "exclude_developer_cli_credential": True,
        "exclude_powershell_credential": True,
        "exclude_shared_token_cache_credential": True,
        "exclude_visual_studio_code_credential": True,
    }
    config = SecretsConfig(storage_path=str(tmp_path / "vault.db"), **fields)
    config.master_key_path = str(tmp_path / "master.key")
    async with SecretVault(config) as vault:
        await vault.store_secret(SecretType.API_KEY, "via-env", "env-VALUE")
        assert (await vault.get_secret("via-env"))[0] == "env-VALUE"


# -- secrets never leak ---------------------------------------------------------------------------


async def test_values_never_reach_logs_errors_reprs_or_the_audit_trail(
    kv: ServerProcess,
    open_vault: OpenVault,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    value1, value2, value3 = "LEAKCHECK-one-9f2c", "LEAKCHECK-two-7a1b", "LEAKCHECK-three-5d0e"
    kv.add_client("no-set", "no-set-secret", {"get", "list"})
    vault: SecretVault = await open_vault()
    denied: SecretVault = await open_vault(client="no-set")
    errors: list[SecretVaultError] = []
    await vault.store_secret(SecretType.DATABASE_PASSWORD, "db_pass", value1)
    await vault.update_secret("db_pass", value2)
    await vault.rotate_secret("db_pass", new_value=value3)
    assert (await vault.get_secret("db_pass"))[0] == value3
    for attempt in (
        denied.update_secret("db_pass", value1),
        denied.store_secret(SecretType.API_KEY, "other", value2),
        vault.store_secret(SecretType.API_KEY, "db_pass", value3),
        vault.store_secret(SecretType.API_KEY, "huge", value1 * 2000),
    ):
        with pytest.raises(SecretVaultError) as info:
            await attempt
        errors.append(info.value)
    kv.fail_next(503, 503, 503)
    with pytest.raises(SecretVaultError) as info:
        await vault.update_secret("db_pass", value1)
    errors.append(info.value)
    texts = [str(e) + repr(e) + str(e.hint) for e in errors]
    texts += [repr(vault), repr(vault.stores.secrets), repr(vault.config)]
    texts += [e.model_dump_json() for e in (await vault.get_access_log()).entries]
    async with raw_client(kv) as raw:
        async for props in raw.list_properties_of_secret_versions("db--upass"):
            texts.append(repr(props.tags))
    out = capsys.readouterr()
    texts += [caplog.text, out.out, out.err]
    assert len(caplog.records) > 0  # the SDK did log at DEBUG/INFO
    for text in texts:
        assert "LEAKCHECK" not in text
