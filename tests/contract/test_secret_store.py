"""Contract of the secret-store role (``SecretSession``), store by store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from secretvault.backends.base import (
    STAGE_CURRENT,
    STAGE_PENDING,
    STAGE_PREVIOUS,
    NativeValue,
    SecretFilter,
    StoredVersion,
)
from secretvault.backends.stores import Stores
from secretvault.crypto.envelope import encrypt_value
from secretvault.crypto.keys import MasterKey
from secretvault.errors import VersionConflictError
from secretvault.models import (
    SecretMetadata,
    SecretRecord,
    SecretStatus,
    SecretType,
    secret_id_for,
)

KEY = MasterKey.generate()


def _record(name: str, **meta: object) -> SecretRecord:
    return SecretRecord(
        id=secret_id_for(name),
        name=name,
        secret_type=SecretType.API_KEY,
        metadata=SecretMetadata(**meta),  # type: ignore[arg-type]
    )


def _version(stores: Stores, name: str, n: int, stage: str = STAGE_CURRENT) -> StoredVersion:
    """A version as the facade would hand it to this store: our envelope, or the plain value
    for a store that encrypts natively (``KeyManager.seal``)."""
    plain = f"value-{n}-of-{name}"
    if stores.secrets.features.native_encryption:
        return StoredVersion(n, NativeValue(plain), datetime.now(UTC), "tester", stage)
    env = encrypt_value(KEY, secret_id_for(name), n, plain)
    return StoredVersion(n, env, datetime.now(UTC), "tester", stage)


async def _create(stores: Stores, name: str, **meta: object) -> SecretRecord:
    record = _record(name, **meta)
    async with stores.unit() as unit:
        await unit.secrets.create(record, _version(stores, name, 1))
    return record


async def test_create_then_read_current(stores: Stores) -> None:
    await _create(stores, "alpha", service="svc", tags=["a"])
    async with stores.unit() as unit:
        found = await unit.secrets.read("alpha")
        assert found is not None
        record, stored = found
        assert record.name == "alpha" and record.metadata.service == "svc"
        assert stored is not None and stored.version == 1 and stored.stage == STAGE_CURRENT
        assert await unit.secrets.get("missing") is None
        assert await unit.secrets.read("missing") is None
        assert await unit.secrets.secret_name(record.id) == "alpha"


async def test_add_version_demotes_current_and_is_compare_and_set(stores: Stores) -> None:
    record = await _create(stores, "beta")
    async with stores.unit() as unit:
        record.metadata = record.metadata.model_copy(update={"version": 2})
        await unit.secrets.add_version(record, _version(stores, "beta", 2), 10, cas=1)
    async with stores.unit() as unit:
        assert [(v.version, v.stage) for v in await unit.secrets.versions(record.id)] == [
            (2, STAGE_CURRENT),
            (1, STAGE_PREVIOUS),
        ]
        old = await unit.secrets.read("beta", 1)
        assert old is not None and old[1] is not None and old[1].stage == STAGE_PREVIOUS
    # a writer that saw version 1 loses against the store's version 2, and writes nothing
    record.metadata = record.metadata.model_copy(update={"version": 3})
    with pytest.raises(VersionConflictError, match="another writer"):
        async with stores.unit() as unit:
            await unit.secrets.add_version(record, _version(stores, "beta", 3), 10, cas=1)
    async with stores.unit() as unit:
        assert await unit.secrets.max_version(record.id) == 2


async def test_max_versions_prunes_unlabelled_history(stores: Stores) -> None:
    record = await _create(stores, "gamma")
    for n in range(2, 6):
        async with stores.unit() as unit:
            record.metadata = record.metadata.model_copy(update={"version": n})
            await unit.secrets.add_version(record, _version(stores, "gamma", n), 3, cas=n - 1)
    async with stores.unit() as unit:
        assert [v.version for v in await unit.secrets.versions(record.id)] == [5, 4, 3]


async def test_pending_stage_promote_and_drop(stores: Stores) -> None:
    record = await _create(stores, "delta")
    async with stores.unit() as unit:
        await unit.secrets.add_version(
            record, _version(stores, "delta", 2, STAGE_PENDING), 0, cas=1
        )
    async with stores.unit() as unit:
        assert await unit.secrets.pending_versions() == [(record.id, 2)]
        found = await unit.secrets.read("delta")
        assert found is not None and found[1] is not None and found[1].version == 1
        await unit.secrets.set_stage(record.id, 2, STAGE_CURRENT)
    async with stores.unit() as unit:
        stages = {v.version: v.stage for v in await unit.secrets.versions(record.id)}
        assert stages == {2: STAGE_CURRENT, 1: STAGE_PREVIOUS}
        assert await unit.secrets.pending_versions() == []
        await unit.secrets.add_version(
            record, _version(stores, "delta", 3, STAGE_PENDING), 0, cas=1
        )
        await unit.secrets.drop_version(record.id, 3)
    async with stores.unit() as unit:
        assert await unit.secrets.get_version(record.id, 3) is None
        # drop_version only ever removes a pending version
        await unit.secrets.drop_version(record.id, 2)
        assert await unit.secrets.get_version(record.id, 2) is not None


async def test_status_update_purge_and_list_filters(stores: Stores) -> None:
    await _create(stores, "one", service="pay", environment="prod", tags=["x", "y"])
    await _create(stores, "two", service="pay", environment="dev", tags=["x"])
    three = await _create(stores, "three", service="web")
    async with stores.unit() as unit:
        three.status = SecretStatus.PENDING_DELETION
        await unit.secrets.update(three)

    async def names(flt: SecretFilter) -> list[str]:
        async with stores.unit() as unit:
            return [r.name for r in await unit.secrets.list_records(flt)]

    assert await names(SecretFilter()) == ["one", "three", "two"]
    assert await names(SecretFilter(service="pay")) == ["one", "two"]
    assert await names(SecretFilter(environment="prod")) == ["one"]
    assert await names(SecretFilter(tags=("x", "y"))) == ["one"]
    assert await names(SecretFilter(status=SecretStatus.PENDING_DELETION)) == ["three"]
    assert await names(SecretFilter(secret_type=SecretType.DATABASE_PASSWORD)) == []
    async with stores.unit() as unit:
        await unit.secrets.purge(three.id)
    assert await names(SecretFilter()) == ["one", "two"]
    async with stores.unit() as unit:
        assert await unit.secrets.versions(three.id) == []


async def test_a_failed_unit_writes_nothing(stores: Stores) -> None:
    with pytest.raises(RuntimeError):
        async with stores.unit() as unit:
            await unit.secrets.create(_record("ghost"), _version(stores, "ghost", 1))
            raise RuntimeError("boom")
    async with stores.unit() as unit:
        assert await unit.secrets.get("ghost") is None


async def test_envelopes_and_rewrap(stores: Stores) -> None:
    record = await _create(stores, "eps")
    if stores.secrets.features.native_encryption:
        # the store encrypts the values itself: rekey has no envelope of ours to re-wrap
        async with stores.unit() as unit:
            assert await unit.secrets.envelopes() == []
            stored = await unit.secrets.get_version(record.id, 1)
        assert stored is not None and isinstance(stored.payload, NativeValue)
        assert stored.payload.value == "value-1-of-eps"
        return
    other = MasterKey.generate()
    async with stores.unit() as unit:
        listed = await unit.secrets.envelopes()
        assert [(s, v) for s, v, _ in listed] == [(record.id, 1)]
        await unit.secrets.rewrap(
            record.id, 1, encrypt_value(other, record.id, 1, "value-1-of-eps")
        )
    async with stores.unit() as unit:
        stored = await unit.secrets.get_version(record.id, 1)
        assert stored is not None
        assert getattr(stored.payload, "key_id", None) == other.key_id
