"""RBAC (the guide's "Role-Based Access Control"; docs/architecture.md): default deny, grants
by name glob / tag / service, principal "*", roles and bare levels, bootstrap, audited denials."""

from __future__ import annotations

import pytest

from secretvault import (
    AccessLevel,
    AuthorizationError,
    ConfigurationError,
    SecretType,
    SecretVault,
)

V = "value-1234567890abcdef"


@pytest.fixture
async def rbac(open_vault) -> SecretVault:
    vault = await open_vault(rbac_enabled=True)
    await vault.grant("root", "admin", "*", user="root")  # bootstrap
    for name, tags, service in [
        ("prod-db", ["payments"], "postgres"),
        ("dev-db", [], "postgres"),
        ("openai-key", ["llm"], "openai"),
        ("public-info", [], None),
        ("w-target", [], None),
    ]:
        await vault.store_secret(
            SecretType.API_KEY, name, V, tags=tags, service=service, created_by="root"
        )
    return vault


async def _can_read(vault: SecretVault, user: str, name: str) -> bool:
    try:
        await vault.get_secret(name, user=user)
    except AuthorizationError:
        return False
    return True


async def _readable(vault: SecretVault, user: str) -> list[str]:
    return [r.name for r in await vault.list_secrets(user=user)]


async def test_default_deny(rbac: SecretVault) -> None:
    for name in ("prod-db", "dev-db", "openai-key"):
        assert not await _can_read(rbac, "alice", name)
    with pytest.raises(AuthorizationError):
        await rbac.update_secret("prod-db", "x" * 20, user="alice")
    with pytest.raises(AuthorizationError):
        await rbac.store_secret(SecretType.API_KEY, "new", V, created_by="alice")
    with pytest.raises(AuthorizationError):
        await rbac.delete_secret("dev-db", user="alice")
    with pytest.raises(AuthorizationError):
        await rbac.revoke_secret("dev-db", user="alice")
    with pytest.raises(AuthorizationError):
        await rbac.rotate_secret("dev-db", user="alice")
    with pytest.raises(AuthorizationError):
        await rbac.history("dev-db", user="alice")
    assert await _readable(rbac, "alice") == []
    # nothing changed
    assert [r.name for r in await rbac.list_secrets(user="root")] == [
        "dev-db",
        "openai-key",
        "prod-db",
        "public-info",
        "w-target",
    ]
    assert (await rbac.get_secret("dev-db", user="root"))[1].metadata.version == 1


async def test_grant_by_name_glob(rbac: SecretVault) -> None:
    await rbac.grant("alice", "operator", "prod-*", user="root")
    assert await _can_read(rbac, "alice", "prod-db")
    assert not await _can_read(rbac, "alice", "dev-db")
    with pytest.raises(AuthorizationError):  # operator is READ only
        await rbac.update_secret("prod-db", "x" * 20, user="alice")
    assert await _readable(rbac, "alice") == ["prod-db"]


async def test_grant_by_tag(rbac: SecretVault) -> None:
    await rbac.grant("bob", "developer", "tag:payments", user="root")
    assert await _can_read(rbac, "bob", "prod-db")
    assert not await _can_read(rbac, "bob", "openai-key")
    await rbac.update_secret("prod-db", "y" * 20, user="bob")
    assert (await rbac.get_secret("prod-db", user="bob"))[0] == "y" * 20
    await rbac.store_secret(SecretType.API_KEY, "pay-2", V, tags=["payments"], created_by="bob")
    with pytest.raises(AuthorizationError):
        await rbac.store_secret(SecretType.API_KEY, "other", V, tags=["x"], created_by="bob")
    with pytest.raises(AuthorizationError):  # developer has no DELETE
        await rbac.delete_secret("prod-db", user="bob")
    assert await _readable(rbac, "bob") == ["pay-2", "prod-db"]


async def test_grant_by_service(rbac: SecretVault) -> None:
    await rbac.grant("carol", "read", "service:openai", user="root")
    assert await _can_read(rbac, "carol", "openai-key")
    assert not await _can_read(rbac, "carol", "prod-db")
    assert await _readable(rbac, "carol") == ["openai-key"]


async def test_grant_to_everyone(rbac: SecretVault) -> None:
    await rbac.grant("*", "read", "public-*", user="root")
    for user in ("alice", "zed", "anyone@example.com"):
        assert await _can_read(rbac, user, "public-info")
        assert not await _can_read(rbac, user, "prod-db")


async def test_bare_level_role(rbac: SecretVault) -> None:
    grant = await rbac.grant("dave", "write", "w-*", user="root")
    assert grant.role == "write" and grant.scope == "name:w-*"
    await rbac.update_secret("w-target", "z" * 20, user="dave")
    assert not await _can_read(rbac, "dave", "w-target")  # WRITE does not imply READ
    assert (await rbac.get_secret("w-target", user="root"))[0] == "z" * 20


async def test_default_access_level_when_no_role(rbac: SecretVault) -> None:
    grant = await rbac.grant("frank", scope="dev-*", user="root")
    assert grant.role == AccessLevel.READ.value
    assert await _can_read(rbac, "frank", "dev-db")
    with pytest.raises(AuthorizationError):
        await rbac.update_secret("dev-db", "x" * 20, user="frank")


async def test_admin_implies_all(rbac: SecretVault) -> None:
    await rbac.grant("erin", "admin", "tag:llm", user="root")
    assert await _can_read(rbac, "erin", "openai-key")
    await rbac.update_secret("openai-key", "n" * 20, user="erin")
    await rbac.revoke_secret("openai-key", user="erin")
    await rbac.update_metadata("openai-key", status="active", user="erin")
    await rbac.soft_delete_secret("openai-key", user="erin")
    await rbac.restore_secret("openai-key", user="erin")
    assert await rbac.delete_secret("openai-key", user="erin") is True
    assert not await _can_read(rbac, "erin", "prod-db")


async def test_bare_admin_level_grants_everything(rbac: SecretVault) -> None:
    await rbac.grant("gina", AccessLevel.ADMIN.value, "dev-*", user="root")
    assert await _can_read(rbac, "gina", "dev-db")
    assert await rbac.delete_secret("dev-db", user="gina") is True


async def test_denials_raise_and_are_audited(rbac: SecretVault) -> None:
    with pytest.raises(AuthorizationError):
        await rbac.get_secret("prod-db", user="mallory", source_ip="198.51.100.7")
    with pytest.raises(AuthorizationError):
        await rbac.delete_secret("prod-db", user="mallory")
    with pytest.raises(AuthorizationError):
        await rbac.grant("mallory", "admin", "*", user="mallory")
    log = await rbac.get_access_log(user="root")
    denied = [(e.user, e.action, e.secret_name, e.success) for e in log.entries if not e.success]
    assert denied == [
        ("mallory", "read", "prod-db", False),
        ("mallory", "delete", "prod-db", False),
        ("mallory", "grant", None, False),
    ]
    assert next(e for e in log.entries if not e.success).source_ip == "198.51.100.7"
    assert (await rbac.verify_audit()).ok
    with pytest.raises(AuthorizationError):
        await rbac.get_access_log(user="mallory")


async def test_bootstrap_then_only_admins_grant(open_vault) -> None:
    vault = await open_vault(rbac_enabled=True)
    assert await vault.list_grants() == []
    await vault.grant("root", "admin", "*", user="first-comer")  # bootstrap is allowed
    with pytest.raises(AuthorizationError):
        await vault.grant("bob", "developer", "*", user="bob")
    with pytest.raises(AuthorizationError):
        await vault.grant("bob", "admin", "*", user="first-comer")
    grants = await vault.list_grants()
    assert [(g.principal, g.role, g.scope) for g in grants] == [("root", "admin", "name:*")]
    await vault.grant("bob", "developer", "*", user="root")
    # a scoped admin is not a global admin: cannot grant
    await vault.grant("sam", "admin", "tag:x", user="root")
    with pytest.raises(AuthorizationError):
        await vault.grant("sam", "admin", "*", user="sam")
    log = await vault.get_access_log(user="root")
    grant_entries = [(e.user, e.success) for e in log.entries if e.action == "grant"]
    assert grant_entries == [
        ("first-comer", True),
        ("bob", False),
        ("first-comer", False),
        ("root", True),
        ("root", True),
        ("sam", False),
    ]


async def test_revoke_grant(rbac: SecretVault) -> None:
    await rbac.grant("alice", "operator", "prod-*", user="root")
    await rbac.grant("alice", "operator", "dev-*", user="root")
    assert await _can_read(rbac, "alice", "prod-db")
    with pytest.raises(AuthorizationError):
        await rbac.revoke_grant("alice", user="alice")
    assert await rbac.revoke_grant("alice", "operator", "prod-*", user="root") == 1
    assert not await _can_read(rbac, "alice", "prod-db")
    assert await _can_read(rbac, "alice", "dev-db")
    assert await rbac.revoke_grant("alice", user="root") == 1
    assert not await _can_read(rbac, "alice", "dev-db")
    assert await rbac.revoke_grant("alice", user="root") == 0
    actions = [
        (e.user, e.action, e.success) for e in (await rbac.get_access_log(user="root")).entries
    ]
    assert ("alice", "revoke_grant", False) in actions
    assert actions.count(("root", "revoke_grant", True)) == 3


async def test_unknown_role(rbac: SecretVault) -> None:
    before = await rbac.list_grants()
    with pytest.raises(ConfigurationError, match="unknown role"):
        await rbac.grant("alice", "superuser", "*", user="root")
    assert await rbac.list_grants() == before


async def test_grant_seen_by_other_instance_and_cache(open_vault) -> None:
    a = await open_vault(rbac_enabled=True, cache_enabled=True)
    b = await open_vault(rbac_enabled=True, cache_enabled=True)
    await a.grant("root", "admin", "*", user="root")
    await a.store_secret(SecretType.API_KEY, "shared", V, created_by="root")
    assert not await _can_read(b, "alice", "shared")
    await a.grant("alice", "read", "shared", user="root")
    assert await _can_read(b, "alice", "shared")
    assert await _can_read(b, "alice", "shared")  # cached
    await a.revoke_grant("alice", user="root")
    assert not await _can_read(b, "alice", "shared")


async def test_rbac_disabled_allows_everyone(vault: SecretVault) -> None:
    await vault.store_secret(SecretType.API_KEY, "open", V, created_by="anyone")
    assert (await vault.get_secret("open", user="stranger"))[0] == V


async def test_admin_operations_need_global_admin(rbac: SecretVault, tmp_path) -> None:
    await rbac.grant("bob", "developer", "*", user="root")
    await rbac.grant("sam", "admin", "tag:payments", user="root")
    backup = await rbac.backup(user="root")
    for user in ("bob", "sam"):
        with pytest.raises(AuthorizationError):
            await rbac.backup(user=user)
        with pytest.raises(AuthorizationError):
            await rbac.restore(backup, user=user)
        with pytest.raises(AuthorizationError):
            await rbac.rekey(user=user)
        with pytest.raises(AuthorizationError):
            await rbac.get_access_log(user=user)
        with pytest.raises(AuthorizationError):
            await rbac.purge_audit(user=user)
    log = await rbac.get_access_log(user="root")
    denied = {(e.user, e.action) for e in log.entries if not e.success}
    assert {("bob", "backup"), ("bob", "restore"), ("bob", "rekey")} <= denied
    assert {("sam", "backup"), ("sam", "restore"), ("sam", "rekey")} <= denied


async def test_denied_read_of_cached_secret_is_audited(open_vault) -> None:
    vault = await open_vault(rbac_enabled=True, cache_enabled=True)
    await vault.grant("root", "admin", "*", user="root")
    await vault.store_secret(SecretType.API_KEY, "s", V, created_by="root")
    await vault.get_secret("s", user="root")
    await vault.get_secret("s", user="root")  # now cached
    with pytest.raises(AuthorizationError):
        await vault.get_secret("s", user="mallory", source_ip="192.0.2.1")
    log = await vault.get_access_log(user="root")
    denied = [(e.user, e.action, e.source_ip) for e in log.entries if not e.success]
    assert denied == [("mallory", "read", "192.0.2.1")]


async def test_denied_read_without_cache_is_audited_even_after_allowed_reads(rbac) -> None:
    await rbac.get_secret("prod-db", user="root")
    with pytest.raises(AuthorizationError):
        await rbac.get_secret("prod-db", user="mallory", source_ip="192.0.2.1")
    log = await rbac.get_access_log(user="root")
    denied = [(e.user, e.action, e.source_ip) for e in log.entries if not e.success]
    assert denied == [("mallory", "read", "192.0.2.1")]
