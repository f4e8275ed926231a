"""``SecretVault`` over every store configuration: same inputs, same results, same errors."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from store_configs import STORE_CONFIGS

from secretvault.errors import (
    AuthorizationError,
    BackendUnavailableError,
    SecretAlreadyExistsError,
    SecretNotFoundError,
    SecretPendingDeletionError,
    SecretRevokedError,
)
from secretvault.models import SecretStatus, SecretType
from secretvault.vault import SecretVault

OpenVault = Callable[..., Any]


def _value(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(16)}"


async def test_versions_history_and_reads_of_older_versions(open_vault: OpenVault) -> None:
    vault: SecretVault = await open_vault()
    v1, v2, v3 = _value("one"), _value("two"), _value("three")
    sid = await vault.store_secret(SecretType.API_KEY, "api", v1, service="svc", tags=["t"])
    await vault.update_secret("api", v2)
    await vault.update_secret("api", v3)
    value, record = await vault.get_secret("api")
    assert (value, record.metadata.version, record.id) == (v3, 3, sid)
    assert (await vault.get_secret("api", version=1))[0] == v1
    old = (await vault.get_secret("api", version=2))[1]
    assert old.metadata.version == 2
    assert [(h.version, h.stage) for h in await vault.history("api")] == [
        (3, "current"),
        (2, "previous"),
        (1, ""),
    ]
    with pytest.raises(SecretAlreadyExistsError):
        await vault.store_secret(SecretType.API_KEY, "api", v1)
    with pytest.raises(SecretNotFoundError):
        await vault.get_secret("absent")
    with pytest.raises(SecretNotFoundError):
        await vault.get_secret("api", version=9)


async def test_lifecycle_soft_delete_restore_revoke_purge(open_vault: OpenVault) -> None:
    vault: SecretVault = await open_vault()
    value = _value("life")
    await vault.store_secret(SecretType.DATABASE_PASSWORD, "life", value)
    await vault.soft_delete_secret("life")
    with pytest.raises(SecretPendingDeletionError):
        await vault.get_secret("life")
    await vault.restore_secret("life")
    assert (await vault.get_secret("life"))[0] == value
    await vault.revoke_secret("life", reason="leaked")
    with pytest.raises(SecretRevokedError):
        await vault.get_secret("life")
    await vault.soft_delete_secret("life")
    assert await vault.purge_secret("life") is True
    assert await vault.delete_secret("life") is False
    assert await vault.list_secrets() == []


async def test_list_filters(open_vault: OpenVault) -> None:
    vault: SecretVault = await open_vault()
    await vault.store_secret(SecretType.API_KEY, "a", _value("a"), service="pay", tags=["x"])
    await vault.store_secret(
        SecretType.DATABASE_PASSWORD, "b", _value("b"), service="pay", environment="prod"
    )
    await vault.store_secret(SecretType.API_KEY, "c", _value("c"), service="web", tags=["x"])
    await vault.soft_delete_secret("c")

    async def names(**flt: Any) -> list[str]:
        return [r.name for r in await vault.list_secrets(**flt)]

    assert await names() == ["a", "b", "c"]
    assert await names(service="pay") == ["a", "b"]
    assert await names(tags=["x"]) == ["a", "c"]
    assert await names(secret_type=SecretType.DATABASE_PASSWORD) == ["b"]
    assert await names(environment="prod") == ["b"]
    assert await names(status=SecretStatus.PENDING_DELETION) == ["c"]


async def test_permission_denied_is_audited(open_vault: OpenVault) -> None:
    vault: SecretVault = await open_vault(rbac_enabled=True)
    await vault.grant("admin@x", "admin", "*")  # the first admin grant needs no admin
    await vault.store_secret(SecretType.API_KEY, "team-key", _value("k"), created_by="admin@x")
    await vault.grant("dev@x", "developer", "other-*", user="admin@x")
    with pytest.raises(AuthorizationError):
        await vault.get_secret("team-key", user="dev@x")
    with pytest.raises(AuthorizationError):
        await vault.update_secret("team-key", _value("k2"), user="dev@x")
    log = await vault.get_access_log("team-key", user="admin@x")
    denied = [(e.action, e.user) for e in log.entries if not e.success]
    assert denied == [("read", "dev@x"), ("update", "dev@x")]


async def test_rotation_and_audit_chain(open_vault: OpenVault) -> None:
    vault: SecretVault = await open_vault()
    await vault.store_secret(SecretType.API_KEY, "rot", _value("r"))
    seen: list[str] = []
    vault.register_verifier("rot", lambda value, record: seen.append(value) or True)
    result = await vault.rotate_secret("rot")
    assert (
        result.success
        and result.verified
        and (result.old_version, result.new_version)
        == (
            1,
            2,
        )
    )
    assert (await vault.get_secret("rot"))[0] == seen[0]
    vault.register_verifier("rot", lambda value, record: False)
    failed = await vault.rotate_secret("rot")
    assert not failed.success and failed.rolled_back
    assert (await vault.get_secret("rot"))[0] == seen[0]
    report = await vault.verify_audit()
    assert report.ok and report.checked >= 6


async def test_every_operation_is_audited_once(open_vault: OpenVault) -> None:
    vault: SecretVault = await open_vault()
    await vault.store_secret(SecretType.API_KEY, "aud", _value("a"))
    await vault.get_secret("aud")
    await vault.update_secret("aud", _value("b"))
    with pytest.raises(SecretNotFoundError):
        await vault.get_secret("nope")
    log = await vault.get_access_log()
    assert [(e.action, e.success) for e in log.entries] == [
        ("create", True),
        ("read", True),
        ("update", True),
        ("read", False),
    ]


async def test_a_second_instance_sees_the_first(open_vault: OpenVault) -> None:
    a: SecretVault = await open_vault()
    b: SecretVault = await open_vault()
    value = _value("shared")
    await a.store_secret(SecretType.API_KEY, "shared", value)
    assert (await b.get_secret("shared"))[0] == value
    assert a.key_id == b.key_id


async def test_dead_secret_store_fails_clearly_and_the_failure_is_audited(
    tmp_path: Path,
) -> None:
    """Only where the secret store is apart from the audit trail can it die while the trail
    survives: the failure is then an error for the caller and a failed entry in the trail."""
    config, pair = STORE_CONFIGS["local-split"](tmp_path)
    vault = SecretVault(config, stores=pair)
    await vault.initialize()
    try:
        await vault.store_secret(SecretType.API_KEY, "kept", _value("k"))
        await vault.stores.secrets.close()  # the remote store goes away
        with pytest.raises(BackendUnavailableError):
            await vault.update_secret("kept", _value("lost"))
        log = await vault.get_access_log()
        last = log.entries[-1]
        assert (last.action, last.success) == ("update", False)
        assert last.reason is not None and "BackendUnavailableError" in last.reason
    finally:
        await vault.shutdown()
