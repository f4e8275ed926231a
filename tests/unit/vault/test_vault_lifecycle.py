"""SecretVault lifecycle: store/get/update/list/delete/revoke/expire/rotate, crash recovery,
cache coherence between instances (docs/architecture.md, "Lifecycle and versions")."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vaulttest_helpers import (
    dead_owner,
    distinctive,
    live_owner,
    make_config,
    raw_db,
    stage_pending_rotation,
)

import secretvault.models.secret as models_mod  # where SecretRecord reads the clock
from secretvault import (
    InvalidSecretNameError,
    InvalidSecretValueError,
    RotationError,
    SecretAlreadyExistsError,
    SecretExpiredError,
    SecretMetadata,
    SecretNotFoundError,
    SecretPendingDeletionError,
    SecretRecord,
    SecretRevokedError,
    SecretStatus,
    SecretType,
    SecretVault,
    SecretVaultError,
)
from secretvault.vault import validate_name

DOCUMENTED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,255}")
NAMES = st.one_of(
    st.text(max_size=300),
    st.from_regex(DOCUMENTED_NAME, fullmatch=True),
    st.text(alphabet="aZ09._- \n/:ü", max_size=20),
)


def status_in_db(vault: SecretVault, name: str) -> str:
    conn = raw_db(vault)
    try:
        return conn.execute("SELECT status FROM secrets WHERE name = ?", (name,)).fetchone()[0]
    finally:
        conn.close()


# -- store / get / update ------------------------------------------------------------------------


async def test_store_get_update_versions(vault: SecretVault) -> None:
    v1, v2, v3 = distinctive("one"), distinctive("two"), distinctive("three")
    sid = await vault.store_secret(
        SecretType.API_KEY,
        "openai-api-key",
        v1,
        description="OpenAI API key",
        tags=["openai", "llm"],
        service="openai",
        rotation_days=30,
        created_by="alice",
    )
    assert sid == hashlib.sha256(b"openai-api-key").hexdigest()
    value, record = await vault.get_secret("openai-api-key")
    assert value == v1
    assert record.id == sid
    assert record.name == "openai-api-key"
    assert record.secret_type == SecretType.API_KEY
    assert record.status == SecretStatus.ACTIVE
    md = record.metadata
    assert (md.version, md.rotation_days, md.service, md.created_by) == (1, 30, "openai", "alice")
    assert md.tags == ["openai", "llm"]
    assert md.description == "OpenAI API key"
    assert record.encrypted_value and v1.encode() not in record.encrypted_value
    assert len(record.nonce) == 12 and len(record.salt) == 16

    updated = await vault.update_secret("openai-api-key", v2, user="admin@company.com")
    assert updated.metadata.version == 2
    assert updated.metadata.last_rotated is None
    await vault.update_secret("openai-api-key", v3, rotate=True)
    value, record = await vault.get_secret("openai-api-key")
    assert (value, record.metadata.version) == (v3, 3)
    assert record.metadata.last_rotated is not None
    assert record.metadata.created_at <= record.metadata.updated_at

    old, old_rec = await vault.get_secret("openai-api-key", version=1)
    assert (old, old_rec.metadata.version) == (v1, 1)
    assert (await vault.get_secret("openai-api-key", version=2))[0] == v2
    # reading an old version does not change the current one
    assert (await vault.get_secret("openai-api-key"))[0] == v3
    hist = await vault.history("openai-api-key")
    assert [h.version for h in hist] == [3, 2, 1]
    assert [h.stage for h in hist][:2] == ["current", "previous"]
    assert hist[2].created_by == "alice" and hist[1].created_by == "admin@company.com"


async def test_data_survives_reopen(open_vault) -> None:
    a = await open_vault()
    value = distinctive()
    await a.store_secret(SecretType.WEBHOOK_SECRET, "hook", value)
    await a.shutdown()
    b = await open_vault()
    assert (await b.get_secret("hook"))[0] == value


async def test_duplicate_store_rejected(vault: SecretVault) -> None:
    first = distinctive()
    await vault.store_secret(SecretType.API_KEY, "dup", first)
    with pytest.raises(SecretAlreadyExistsError):
        await vault.store_secret(SecretType.API_KEY, "dup", distinctive())
    value, record = await vault.get_secret("dup")
    assert (value, record.metadata.version) == (first, 1)


async def test_not_found(vault: SecretVault) -> None:
    with pytest.raises(SecretNotFoundError):
        await vault.get_secret("missing")
    with pytest.raises(SecretNotFoundError):
        await vault.update_secret("missing", "some-value-123456")
    with pytest.raises(SecretNotFoundError):
        await vault.history("missing")
    with pytest.raises(SecretNotFoundError):
        await vault.rotate_secret("missing")
    await vault.store_secret(SecretType.API_KEY, "present", distinctive())
    for version in (2, 99):
        with pytest.raises(SecretNotFoundError):
            await vault.get_secret("present", version=version)


@settings(max_examples=150, deadline=None)
@given(name=NAMES)
def test_any_name_validates_or_raises_invalid_name(name: str) -> None:
    try:
        assert validate_name(name) == name
    except InvalidSecretNameError:
        assert not DOCUMENTED_NAME.fullmatch(name)
    else:
        assert DOCUMENTED_NAME.fullmatch(name)
        assert len(name) <= 256


def test_names_through_the_vault_api(tmp_path: Path) -> None:
    """Every public entry point reacts to a name only with InvalidSecretNameError (bad name)
    or SecretNotFoundError (good name, absent) — never anything else."""
    loop = asyncio.new_event_loop()
    vault = SecretVault(make_config(tmp_path))
    loop.run_until_complete(vault.initialize())
    try:

        @settings(max_examples=60, deadline=None)
        @given(
            name=st.one_of(st.text(max_size=300), st.from_regex(DOCUMENTED_NAME, fullmatch=True))
        )
        def check(name: str) -> None:
            good = bool(DOCUMENTED_NAME.fullmatch(name))
            for call in (
                lambda: vault.get_secret(name),
                lambda: vault.update_secret(name, "x" * 20),
                lambda: vault.history(name),
            ):
                with pytest.raises(SecretNotFoundError if good else InvalidSecretNameError):
                    loop.run_until_complete(call())
            assert loop.run_until_complete(vault.delete_secret(name)) is False if good else True

        check()
    finally:
        loop.run_until_complete(vault.shutdown())
        loop.close()


@pytest.mark.parametrize(
    "name", ["", " ", "-lead", ".hidden", "_x", "a b", "a/b", "ü", "a\n", "x" * 257, "a:b"]
)
async def test_invalid_names_rejected_on_store(vault: SecretVault, name: str) -> None:
    with pytest.raises(InvalidSecretNameError):
        await vault.store_secret(SecretType.API_KEY, name, "value-1234567890")
    assert await vault.list_secrets() == []


@pytest.mark.parametrize("name", ["a", "A.b-c_d", "0x", "x" * 256, "openai-api-key"])
async def test_valid_names_accepted(vault: SecretVault, name: str) -> None:
    await vault.store_secret(SecretType.API_KEY, name, "value-1234567890")
    assert (await vault.get_secret(name))[0] == "value-1234567890"


async def test_empty_and_huge_values(vault: SecretVault) -> None:
    with pytest.raises(InvalidSecretValueError):
        await vault.store_secret(SecretType.API_KEY, "empty", "")
    with pytest.raises(InvalidSecretValueError):
        await vault.store_secret(SecretType.API_KEY, "huge", "x" * ((1 << 20) + 1))
    with pytest.raises(InvalidSecretValueError):
        # 1 MiB of characters but 4 MiB of UTF-8
        await vault.store_secret(SecretType.API_KEY, "huge", "🔑" * (1 << 18) + "x")
    biggest = "y" * (1 << 20)
    await vault.store_secret(SecretType.API_KEY, "big", biggest)
    assert (await vault.get_secret("big"))[0] == biggest
    with pytest.raises(InvalidSecretValueError):
        await vault.update_secret("big", "")
    assert (await vault.get_secret("big"))[1].metadata.version == 1
    assert {r.name for r in await vault.list_secrets()} == {"big"}


async def test_unicode_value_round_trip(vault: SecretVault) -> None:
    value = "pässwörd—秘密🔑\ttab\nnewline"
    await vault.store_secret(SecretType.DATABASE_PASSWORD, "uni", value)
    assert (await vault.get_secret("uni"))[0] == value


async def test_rotation_days_zero_rejected(vault: SecretVault) -> None:
    with pytest.raises((SecretVaultError, ValueError)):
        await vault.store_secret(SecretType.API_KEY, "rd0", "value-1234567890", rotation_days=0)


@pytest.mark.parametrize("case", ["rotation_days=366", "rotation_days=-5", "type", "meta"])
async def test_bad_arguments_raise_secretvault_errors(vault: SecretVault, case: str) -> None:
    await vault.store_secret(SecretType.API_KEY, "base", "value-1234567890")
    call = {
        "rotation_days=366": lambda: vault.store_secret(
            SecretType.API_KEY, "x", "value-1234567890", rotation_days=366
        ),
        "rotation_days=-5": lambda: vault.store_secret(
            SecretType.API_KEY, "x", "value-1234567890", rotation_days=-5
        ),
        "type": lambda: vault.store_secret("no_such_type", "x", "value-1234567890"),
        "meta": lambda: vault.update_metadata("base", rotation_days=999),
    }[case]
    with pytest.raises(SecretVaultError):
        await call()


async def test_rotation_days_bounds_enforced(vault: SecretVault) -> None:
    for bad in (366, -5):
        with pytest.raises(ValueError):
            await vault.store_secret(SecretType.API_KEY, "x", "value-1234567890", rotation_days=bad)
    assert await vault.list_secrets() == []
    for ok in (1, 365):
        await vault.store_secret(
            SecretType.API_KEY, f"ok{ok}", "value-1234567890", rotation_days=ok
        )
        assert (await vault.get_secret(f"ok{ok}"))[1].metadata.rotation_days == ok


# -- list ------------------------------------------------------------------------------------------


async def test_list_filters(vault: SecretVault) -> None:
    await vault.store_secret(
        SecretType.API_KEY,
        "a-prod",
        "v" * 20,
        tags=["x", "y"],
        service="openai",
        environment="production",
    )
    await vault.store_secret(SecretType.API_KEY, "b-dev", "v" * 20, tags=["x"], service="openai")
    await vault.store_secret(
        SecretType.DATABASE_PASSWORD,
        "c-db",
        "v" * 20,
        tags=["y", "x", "z"],
        service="postgres",
        environment="production",
    )
    await vault.store_secret(SecretType.SSH_KEY, "d-ssh", "v" * 20)
    await vault.revoke_secret("d-ssh")

    async def names(**kw) -> list[str]:
        return [r.name for r in await vault.list_secrets(**kw)]

    assert await names() == ["a-prod", "b-dev", "c-db", "d-ssh"]
    assert await names(status=SecretStatus.ACTIVE) == ["a-prod", "b-dev", "c-db"]
    assert await names(status=SecretStatus.REVOKED) == ["d-ssh"]
    assert await names(secret_type=SecretType.API_KEY) == ["a-prod", "b-dev"]
    assert await names(tags=["x"]) == ["a-prod", "b-dev", "c-db"]
    assert await names(tags=["x", "y"]) == ["a-prod", "c-db"]
    assert await names(tags=["x", "y", "z"]) == ["c-db"]
    assert await names(tags=["nope"]) == []
    assert await names(service="openai") == ["a-prod", "b-dev"]
    assert await names(environment="production") == ["a-prod", "c-db"]
    assert await names(environment="development") == ["b-dev", "d-ssh"]
    assert await names(service="openai", environment="production", tags=["y"]) == ["a-prod"]
    assert await names(secret_type=SecretType.API_KEY, status=SecretStatus.REVOKED) == []
    records = await vault.list_secrets()
    assert all(r.encrypted_value == b"" for r in records)


# -- delete / restore / purge ----------------------------------------------------------------


async def test_soft_delete_restore(vault: SecretVault) -> None:
    value = distinctive()
    await vault.store_secret(SecretType.API_KEY, "soft", value)
    rec = await vault.soft_delete_secret("soft")
    assert rec.status == SecretStatus.PENDING_DELETION
    assert rec.deleted_at is not None
    assert rec.purge_after - rec.deleted_at == timedelta(days=30)
    with pytest.raises(SecretPendingDeletionError):
        await vault.get_secret("soft")
    with pytest.raises(SecretPendingDeletionError):
        await vault.update_secret("soft", distinctive())
    assert status_in_db(vault, "soft") == "pending_deletion"
    restored = await vault.restore_secret("soft")
    assert restored.status == SecretStatus.ACTIVE
    assert restored.deleted_at is None and restored.purge_after is None
    assert (await vault.get_secret("soft"))[0] == value
    with pytest.raises(SecretVaultError):
        await vault.restore_secret("soft")  # not pending deletion any more


async def test_update_metadata_pending_deletion_per_spec(vault: SecretVault) -> None:
    await vault.store_secret(SecretType.API_KEY, "old-secret", "value-1234567890")
    record = await vault.update_metadata(domain="old-secret", status="pending_deletion")
    assert record.status == SecretStatus.PENDING_DELETION
    assert record.purge_after is not None
    with pytest.raises(SecretPendingDeletionError):
        await vault.get_secret("old-secret")
    await vault.restore_secret("old-secret")
    assert (await vault.get_secret("old-secret"))[0] == "value-1234567890"


async def test_update_metadata_fields(vault: SecretVault) -> None:
    await vault.store_secret(SecretType.API_KEY, "meta", "value-1234567890", tags=["a"])
    rec = await vault.update_metadata(
        "meta",
        description="new desc",
        tags=["b", "c"],
        service="svc",
        rotation_days=10,
        environment="staging",
    )
    assert rec.metadata.version == 1
    _, rec = await vault.get_secret("meta")
    md = rec.metadata
    assert (md.description, md.tags, md.service, md.rotation_days, md.environment) == (
        "new desc",
        ["b", "c"],
        "svc",
        10,
        "staging",
    )
    assert len(await vault.history("meta")) == 1


async def test_purge(vault: SecretVault) -> None:
    await vault.store_secret(SecretType.API_KEY, "p", "value-1234567890")
    with pytest.raises(SecretVaultError):
        await vault.purge_secret("p")  # only pending-deletion secrets are purged
    assert (await vault.get_secret("p"))[0] == "value-1234567890"
    await vault.soft_delete_secret("p")
    assert await vault.purge_secret("p") is True
    with pytest.raises(SecretNotFoundError):
        await vault.get_secret("p")
    conn = raw_db(vault)
    try:
        assert conn.execute("SELECT count(*) FROM versions").fetchone()[0] == 0
    finally:
        conn.close()


async def test_purge_expired_deletions(vault: SecretVault) -> None:
    await vault.store_secret(SecretType.API_KEY, "now-gone", "value-1234567890")
    await vault.store_secret(SecretType.API_KEY, "kept", "value-1234567890")
    await vault.store_secret(SecretType.API_KEY, "active", "value-1234567890")
    await vault.soft_delete_secret("now-gone", recovery_window_days=0)
    await vault.soft_delete_secret("kept")
    assert await vault.purge_expired_deletions() == ["now-gone"]
    assert [r.name for r in await vault.list_secrets()] == ["active", "kept"]
    assert await vault.purge_expired_deletions() == []


async def test_purge_expired_deletions_with_config_window_zero(open_vault) -> None:
    vault = await open_vault(recovery_window_days=0)
    await vault.store_secret(SecretType.API_KEY, "z", "value-1234567890")
    await vault.soft_delete_secret("z")
    assert await vault.purge_expired_deletions() == ["z"]
    assert await vault.list_secrets() == []


async def test_hard_delete(vault: SecretVault) -> None:
    await vault.store_secret(SecretType.API_KEY, "old-secret", "value-1234567890")
    await vault.update_secret("old-secret", "value-2234567890")
    assert await vault.delete_secret(name="old-secret", user="admin@company.com") is True
    assert await vault.delete_secret("old-secret") is False
    with pytest.raises(SecretNotFoundError):
        await vault.get_secret("old-secret", version=1)
    # the name is free again
    await vault.store_secret(SecretType.API_KEY, "old-secret", "value-3234567890")
    value, rec = await vault.get_secret("old-secret")
    assert (value, rec.metadata.version) == ("value-3234567890", 1)


# -- revoke / expiry -------------------------------------------------------------------------------


async def test_revoke(vault: SecretVault) -> None:
    await vault.store_secret(SecretType.API_KEY, "r", "value-1234567890")
    rec = await vault.revoke_secret("r", reason="leaked")
    assert rec.status == SecretStatus.REVOKED
    with pytest.raises(SecretRevokedError):
        await vault.get_secret("r")
    with pytest.raises(SecretRevokedError):
        await vault.get_secret("r", version=1)
    with pytest.raises(SecretRevokedError):
        await vault.update_secret("r", "value-2234567890")
    with pytest.raises(SecretRevokedError):
        await vault.rotate_secret("r")
    assert status_in_db(vault, "r") == "revoked"
    await vault.update_metadata("r", status=SecretStatus.ACTIVE)
    assert (await vault.get_secret("r"))[0] == "value-1234567890"


async def test_expiry(vault: SecretVault, monkeypatch: pytest.MonkeyPatch) -> None:
    await vault.store_secret(
        SecretType.API_KEY,
        "exp",
        "value-1234567890",
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    assert (await vault.get_secret("exp"))[0] == "value-1234567890"
    later = datetime.now(UTC) + timedelta(hours=2)
    monkeypatch.setattr(models_mod, "utcnow", lambda: later)
    with pytest.raises(SecretExpiredError):
        await vault.get_secret("exp")
    assert status_in_db(vault, "exp") == "expired"
    assert [r.name for r in await vault.list_secrets(status=SecretStatus.EXPIRED)] == ["exp"]
    with pytest.raises(SecretExpiredError):
        await vault.get_secret("exp", version=1)


async def test_expired_in_past_naive_datetime(vault: SecretVault) -> None:
    # the guide passes naive local datetimes (datetime.now() + timedelta(...)).
    await vault.store_secret(
        SecretType.API_KEY, "past", "value-1234567890", expires_at=datetime.now() - timedelta(1)
    )
    with pytest.raises(SecretExpiredError):
        await vault.get_secret("past")
    assert status_in_db(vault, "past") == "expired"


async def test_expired_secret_reactivated_by_new_expiry_and_update(vault: SecretVault) -> None:
    await vault.store_secret(
        SecretType.API_KEY, "e2", "value-1234567890", expires_at=datetime.now(UTC) - timedelta(1)
    )
    with pytest.raises(SecretExpiredError):
        await vault.get_secret("e2")
    await vault.update_metadata("e2", expires_at=datetime.now(UTC) + timedelta(days=5))
    await vault.update_secret("e2", "value-2234567890")
    value, rec = await vault.get_secret("e2")
    assert value == "value-2234567890"
    assert rec.status == SecretStatus.ACTIVE
    assert rec.metadata.days_remaining == 4


async def test_expired_secret_reactivated_by_new_expiry_and_rotation(vault: SecretVault) -> None:
    await vault.store_secret(
        SecretType.API_KEY, "e3", "value-1234567890", expires_at=datetime.now(UTC) - timedelta(1)
    )
    with pytest.raises(SecretExpiredError):
        await vault.get_secret("e3")
    await vault.update_metadata("e3", expires_at=datetime.now(UTC) + timedelta(days=5))
    assert (await vault.rotate_secret("e3", new_value="value-3234567890")).success
    value, rec = await vault.get_secret("e3")
    assert (value, rec.status) == ("value-3234567890", SecretStatus.ACTIVE)


async def test_list_reports_expired_without_a_prior_read(vault: SecretVault) -> None:
    await vault.store_secret(
        SecretType.API_KEY, "stale", "value-1234567890", expires_at=datetime.now() - timedelta(1)
    )
    await vault.store_secret(SecretType.API_KEY, "fresh", "value-1234567890")
    assert [r.name for r in await vault.list_secrets(status=SecretStatus.ACTIVE)] == ["fresh"]
    assert [r.name for r in await vault.list_secrets(status=SecretStatus.EXPIRED)] == ["stale"]


# -- versions ----------------------------------------------------------------------------------


async def test_max_versions_pruning(open_vault) -> None:
    vault = await open_vault(max_versions=3)
    values = [distinctive(f"v{i}") for i in range(1, 7)]
    await vault.store_secret(SecretType.API_KEY, "pr", values[0])
    for v in values[1:]:
        await vault.update_secret("pr", v)
    hist = await vault.history("pr")
    assert [h.version for h in hist] == [6, 5, 4]
    assert [h.stage for h in hist][:2] == ["current", "previous"]
    for gone in (1, 2, 3):
        with pytest.raises(SecretNotFoundError):
            await vault.get_secret("pr", version=gone)
    for kept in (4, 5, 6):
        assert (await vault.get_secret("pr", version=kept))[0] == values[kept - 1]


async def test_max_versions_one_keeps_current_and_previous(open_vault) -> None:
    vault = await open_vault(max_versions=1)
    await vault.store_secret(SecretType.API_KEY, "pr", "value-0000000001")
    for i in range(2, 5):
        await vault.update_secret("pr", f"value-000000000{i}")
    assert [h.version for h in await vault.history("pr")] == [4, 3]
    assert (await vault.get_secret("pr", version=3))[0] == "value-0000000003"


async def test_max_versions_zero_keeps_everything(open_vault) -> None:
    vault = await open_vault(max_versions=0)
    await vault.store_secret(SecretType.API_KEY, "pr", "value-0000000001")
    for i in range(2, 13):
        await vault.update_secret("pr", f"value-{i:010d}")
    assert len(await vault.history("pr")) == 12
    assert (await vault.get_secret("pr", version=1))[0] == "value-0000000001"


# -- rotation --------------------------------------------------------------------------------


async def test_rotate_auto_generate(vault: SecretVault) -> None:
    old = distinctive()
    await vault.store_secret(SecretType.API_KEY, "rot", old)
    result = await vault.rotate_secret("rot")
    assert result.success is True
    assert (result.old_version, result.new_version) == (1, 2)
    assert result.rolled_back is False and result.error is None
    value, rec = await vault.get_secret("rot")
    assert value != old and len(value) >= 32
    assert rec.metadata.version == 2
    assert rec.metadata.last_rotated is not None
    assert rec.status == SecretStatus.ACTIVE
    assert (await vault.get_secret("rot", version=1))[0] == old
    assert [(h.version, h.stage) for h in await vault.history("rot")] == [
        (2, "current"),
        (1, "previous"),
    ]
    again = await vault.rotate_secret("rot")
    assert (again.old_version, again.new_version) == (2, 3)
    assert (await vault.get_secret("rot"))[0] not in (old, value)


async def test_rotate_explicit_value_and_verifier_sees_it(vault: SecretVault) -> None:
    await vault.store_secret(SecretType.API_KEY, "openai-api-key", "sk-proj-old-1234567")
    seen: list[tuple[str, str]] = []

    async def verifier(value: str, record: SecretRecord) -> bool:
        seen.append((value, record.name))
        return True

    vault.register_verifier("openai-api-key", verifier)
    result = await vault.rotate_secret(
        name="openai-api-key",
        new_value="sk-proj-newkey456789",
        verify=True,
        rollback_on_failure=True,
    )
    assert result.success and result.verified
    assert seen == [("sk-proj-newkey456789", "openai-api-key")]
    assert (await vault.get_secret("openai-api-key"))[0] == "sk-proj-newkey456789"


async def test_rotate_verify_false_skips_verifier(vault: SecretVault) -> None:
    await vault.store_secret(SecretType.API_KEY, "nv", "value-1234567890")
    vault.register_verifier("nv", lambda v, r: False)
    result = await vault.rotate_secret("nv", new_value="value-2234567890", verify=False)
    assert result.success is True and result.verified is False
    assert (await vault.get_secret("nv"))[0] == "value-2234567890"


async def test_rotate_verifier_false_rolls_back(vault: SecretVault) -> None:
    old = distinctive()
    await vault.store_secret(SecretType.API_KEY, "rb", old)
    vault.register_verifier(SecretType.API_KEY, lambda value, record: False)
    result = await vault.rotate_secret("rb", new_value=distinctive("new"))
    assert result.success is False
    assert result.rolled_back is True
    assert result.verified is False
    assert result.error
    assert result.new_version == result.old_version == 1
    value, rec = await vault.get_secret("rb")
    assert (value, rec.metadata.version, rec.status) == (old, 1, SecretStatus.ACTIVE)
    assert [h.version for h in await vault.history("rb")] == [1]
    assert rec.metadata.last_rotated is None
    # a later successful rotation uses the next free number
    vault.register_verifier(SecretType.API_KEY, lambda value, record: True)
    ok = await vault.rotate_secret("rb")
    assert ok.success and ok.new_version == 2


async def test_rotate_verifier_false_without_rollback_keeps_new(vault: SecretVault) -> None:
    old, new = distinctive(), distinctive("new")
    await vault.store_secret(SecretType.API_KEY, "nrb", old)
    vault.register_verifier("nrb", lambda value, record: False)
    result = await vault.rotate_secret("nrb", new_value=new, rollback_on_failure=False)
    assert result.success is False
    assert result.rolled_back is False
    assert result.error
    assert (result.old_version, result.new_version) == (1, 2)
    value, rec = await vault.get_secret("nrb")
    assert (value, rec.metadata.version, rec.status) == (new, 2, SecretStatus.ACTIVE)


async def test_rotate_config_rollback_disabled(open_vault) -> None:
    vault = await open_vault(rollback_on_failure=False)
    await vault.store_secret(SecretType.API_KEY, "cfg", "value-1234567890")
    vault.register_verifier("cfg", lambda v, r: False)
    result = await vault.rotate_secret("cfg", new_value="value-2234567890")
    assert result.rolled_back is False and result.success is False


async def test_rotate_verifier_raising(vault: SecretVault) -> None:
    old, new = distinctive(), distinctive("new")
    await vault.store_secret(SecretType.API_KEY, "raise", old)

    def boom(value: str, record: SecretRecord) -> bool:
        raise ValueError(f"cannot connect with {value}")

    vault.register_verifier("raise", boom)
    result = await vault.rotate_secret("raise", new_value=new)
    assert result.success is False and result.rolled_back is True
    assert "ValueError" in result.error
    assert new not in result.error
    value, rec = await vault.get_secret("raise")
    assert (value, rec.status) == (old, SecretStatus.ACTIVE)


async def test_rotation_conflicting_with_concurrent_update(open_vault) -> None:
    """Another writer updates the secret while the rotation is verifying: the update wins, the
    pending version is dropped and the rotation reports failure."""
    a = await open_vault()
    b = await open_vault()
    await a.store_secret(SecretType.API_KEY, "race", "value-original-0001")
    concurrent = distinctive("concurrent")

    async def verifier(value: str, record: SecretRecord) -> bool:
        await b.update_secret("race", concurrent)
        return True

    a.register_verifier("race", verifier)
    result = await a.rotate_secret("race", new_value=distinctive("rotated"))
    assert result.success is False
    assert result.rolled_back is True
    assert result.error
    value, rec = await b.get_secret("race")
    assert (value, rec.status) == (concurrent, SecretStatus.ACTIVE)
    assert "pending" not in [h.stage for h in await a.history("race")]
    assert "conflict" in result.error or "updated during rotation" in result.error


async def test_rotate_non_rotatable_type(vault: SecretVault) -> None:
    await vault.store_secret(SecretType.SSH_KEY, "ssh", "-----BEGIN KEY----- old")
    with pytest.raises(RotationError):
        await vault.rotate_secret("ssh")
    value, rec = await vault.get_secret("ssh")
    assert (value, rec.status, rec.metadata.version) == (
        "-----BEGIN KEY----- old",
        SecretStatus.ACTIVE,
        1,
    )
    assert [h.version for h in await vault.history("ssh")] == [1]
    result = await vault.rotate_secret("ssh", new_value="-----BEGIN KEY----- new")
    assert result.success
    assert (await vault.get_secret("ssh"))[0] == "-----BEGIN KEY----- new"


@pytest.mark.parametrize(
    "stype", [t for t in SecretType if t.auto_rotatable], ids=lambda t: t.value
)
async def test_generated_values_per_type(vault: SecretVault, stype: SecretType) -> None:
    await vault.store_secret(stype, "gen", "initial-value-123456")
    assert (await vault.rotate_secret("gen")).success
    value = (await vault.get_secret("gen"))[0]
    assert value != "initial-value-123456" and len(value) >= 24


# -- _should_rotate -----------------------------------------------------------------------------


def _record(
    stype: SecretType = SecretType.API_KEY,
    status: SecretStatus = SecretStatus.ACTIVE,
    age_days: float = 0,
    rotation_days: int = 90,
    expires_in_days: float | None = None,
    last_rotated_days_ago: float | None = None,
) -> SecretRecord:
    now = datetime.now(UTC)
    return SecretRecord(
        id="x",
        name="x",
        secret_type=stype,
        status=status,
        metadata=SecretMetadata(
            created_at=now - timedelta(days=age_days),
            rotation_days=rotation_days,
            expires_at=None if expires_in_days is None else now + timedelta(days=expires_in_days),
            last_rotated=None
            if last_rotated_days_ago is None
            else now - timedelta(days=last_rotated_days_ago),
        ),
    )


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (_record(age_days=1), False),
        (_record(age_days=89.9), False),
        (_record(age_days=90.01), True),
        (_record(age_days=400, last_rotated_days_ago=10), False),
        (_record(age_days=400, last_rotated_days_ago=31, rotation_days=30), True),
        (_record(age_days=1, expires_in_days=6.9), True),
        (_record(age_days=1, expires_in_days=7.1), False),
        (_record(age_days=1, expires_in_days=-1), True),
        (_record(SecretType.SSH_KEY, age_days=400), False),
        (_record(SecretType.TLS_CERTIFICATE, expires_in_days=1), False),
        (_record(status=SecretStatus.REVOKED, age_days=400), False),
        (_record(status=SecretStatus.ROTATING, age_days=400), False),
        (_record(status=SecretStatus.PENDING_DELETION, age_days=400), False),
    ],
)
async def test_should_rotate(vault: SecretVault, record: SecretRecord, expected: bool) -> None:
    assert await vault._should_rotate(record) is expected


async def test_should_rotate_disabled_and_window(open_vault, tmp_path: Path) -> None:
    off = await open_vault(rotation_enabled=False)
    assert await off._should_rotate(_record(age_days=400)) is False
    assert await off._should_rotate(_record(expires_in_days=1)) is False
    await off.shutdown()
    wide = await open_vault(rotate_before_expiry_days=30)
    assert await wide._should_rotate(_record(expires_in_days=20)) is True
    assert await wide._should_rotate(_record(expires_in_days=40)) is False


async def test_should_rotate_on_listed_records(vault: SecretVault) -> None:
    await vault.store_secret(SecretType.API_KEY, "fresh", "value-1234567890", rotation_days=1)
    await vault.store_secret(
        SecretType.API_KEY,
        "expiring",
        "value-1234567890",
        expires_at=datetime.now(UTC) + timedelta(days=2),
    )
    due = [
        r.name
        for r in await vault.list_secrets(status=SecretStatus.ACTIVE)
        if await vault._should_rotate(r)
    ]
    assert due == ["expiring"]


# -- crash recovery ---------------------------------------------------------------------------


async def test_crash_between_staging_and_promotion_is_rolled_back(open_vault) -> None:
    a = await open_vault()
    old, pending = distinctive("old"), distinctive("pending")
    await a.store_secret(SecretType.API_KEY, "crash", old)
    new_version = await stage_pending_rotation(a, "crash", pending)
    assert new_version == 2
    assert status_in_db(a, "crash") == "rotating"
    # the pending version is never served, even before recovery
    with pytest.raises(SecretNotFoundError):
        await a.get_secret("crash", version=2)
    assert (await a.get_secret("crash"))[0] == old
    await a.stores.close()  # the "crashed" process goes away without cleaning up

    b = await open_vault()
    value, rec = await b.get_secret("crash")
    assert (value, rec.status, rec.metadata.version) == (old, SecretStatus.ACTIVE, 1)
    assert [h.version for h in await b.history("crash")] == [1]
    conn = raw_db(b)
    try:
        assert conn.execute("SELECT count(*) FROM versions WHERE stage='pending'").fetchone() == (
            0,
        )
    finally:
        conn.close()
    actions = [e.action for e in (await b.get_access_log("crash")).entries]
    assert "rotate_recovered" in actions
    # a new rotation works afterwards and reuses the freed number
    result = await b.rotate_secret("crash", new_value=distinctive("after"))
    assert result.success and result.new_version == 2


async def test_interrupted_verifier_rolls_back(open_vault) -> None:
    a = await open_vault()
    old = distinctive("old")
    await a.store_secret(SecretType.API_KEY, "crash2", old)

    def interrupted(value: str, record: SecretRecord) -> bool:
        raise KeyboardInterrupt  # not an Exception: Ctrl-C during verification

    a.register_verifier("crash2", interrupted)
    with pytest.raises(KeyboardInterrupt):
        await a.rotate_secret("crash2", new_value=distinctive("new"))
    value, rec = await a.get_secret("crash2")
    assert (value, rec.status, rec.metadata.version) == (old, SecretStatus.ACTIVE, 1)
    assert [h.version for h in await a.history("crash2")] == [1]


async def test_live_rotation_left_alone_until_its_owner_dies(open_vault) -> None:
    a = await open_vault()
    old = distinctive("old")
    await a.store_secret(SecretType.API_KEY, "crash3", old)
    await stage_pending_rotation(a, "crash3", distinctive("pending"), owner=live_owner())
    # while the rotating process is alive, another instance leaves its rotation alone
    live = await open_vault()
    assert status_in_db(live, "crash3") == "rotating"
    await live.shutdown()
    # now the rotating process "dies": its owner record names an exited pid
    conn = raw_db(a)
    try:
        n = conn.execute(
            "UPDATE leases SET owner = ? WHERE name LIKE 'rotation:%'", (dead_owner(),)
        ).rowcount
    finally:
        conn.close()
    assert n == 1
    b = await open_vault()
    value, rec = await b.get_secret("crash3")
    assert (value, rec.status) == (old, SecretStatus.ACTIVE)
    assert [h.version for h in await b.history("crash3")] == [1]


async def test_rotation_past_its_lease_is_recovered_even_if_the_pid_lives(open_vault) -> None:
    """A reused pid must not keep a crashed rotation alive forever: the lease runs out."""
    import json
    import os
    import socket
    import time

    a = await open_vault()
    old = distinctive("old")
    await a.store_secret(SecretType.API_KEY, "lease", old)
    stale = json.dumps(
        {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time() - 7200}
    )
    await stage_pending_rotation(a, "lease", distinctive("pending"), owner=stale)
    b = await open_vault()
    value, rec = await b.get_secret("lease")
    assert (value, rec.status) == (old, SecretStatus.ACTIVE)
    assert "pending" not in [h.stage for h in await b.history("lease")]


# -- cache ------------------------------------------------------------------------------------


async def test_cache_invalidated_by_other_instance(open_vault) -> None:
    a = await open_vault(cache_enabled=True)
    b = await open_vault(cache_enabled=True)
    v1, v2, v3 = distinctive("one"), distinctive("two"), distinctive("three")
    await a.store_secret(SecretType.API_KEY, "cached", v1)
    assert (await a.get_secret("cached"))[0] == v1
    assert (await a.get_secret("cached"))[0] == v1  # served from a's cache
    assert a.ops.cache.entries, "the cache should hold the value after a read"
    await b.update_secret("cached", v2)
    assert (await a.get_secret("cached"))[0] == v2
    await b.revoke_secret("cached")
    with pytest.raises(SecretRevokedError):
        await a.get_secret("cached")
    await b.update_metadata("cached", status="active")
    await b.update_secret("cached", v3)
    assert (await a.get_secret("cached"))[0] == v3
    await b.soft_delete_secret("cached")
    with pytest.raises(SecretPendingDeletionError):
        await a.get_secret("cached")


async def test_cache_hits_are_audited_after_shutdown(open_vault) -> None:
    a = await open_vault(cache_enabled=True)
    await a.store_secret(SecretType.API_KEY, "ch", "value-1234567890")
    for _ in range(4):
        await a.get_secret("ch", user="reader", source_ip="10.1.2.3")
    await a.shutdown()
    b = await open_vault()
    reads = [e for e in (await b.get_access_log("ch")).entries if e.action == "read"]
    assert len(reads) == 4
    assert [e.reason for e in reads] == [None, "cache", "cache", "cache"]
    assert all(e.user == "reader" and e.source_ip == "10.1.2.3" and e.success for e in reads)
    assert (await b.verify_audit()).ok


async def test_cache_respects_expiry(open_vault, monkeypatch: pytest.MonkeyPatch) -> None:
    a = await open_vault(cache_enabled=True)
    await a.store_secret(
        SecretType.API_KEY, "ce", "value-1234567890", expires_at=datetime.now(UTC) + timedelta(1)
    )
    await a.get_secret("ce")
    await a.get_secret("ce")
    later = datetime.now(UTC) + timedelta(days=2)
    monkeypatch.setattr(models_mod, "utcnow", lambda: later)
    with pytest.raises(SecretExpiredError):
        await a.get_secret("ce")
