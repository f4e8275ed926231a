"""Contract of the control-store role (``ControlSession`` and ``ControlStore``)."""

from __future__ import annotations

from datetime import timedelta

from secretvault.audit.chain import AuditEvent, verify_trail
from secretvault.backends.base import Binding
from secretvault.backends.stores import Stores
from secretvault.crypto.keyring import check_envelope
from secretvault.crypto.keys import MasterKey
from secretvault.models import utcnow

MAC_KEY = b"k" * 32


async def test_audit_chain_appends_verify_and_purge_keeps_an_anchor(stores: Stores) -> None:
    control = stores.control
    empty = await control.audit_trail()
    assert all(lane.head is None for lane in empty.lanes)
    assert verify_trail(MAC_KEY, [], empty).ok
    old = utcnow() - timedelta(days=10)
    async with stores.unit() as unit:
        for i in range(3):
            event = AuditEvent(user="u", action=f"a{i}", secret_name="s", timestamp=old)
            await unit.control.append_audit(event, MAC_KEY)
        await unit.control.append_audit(AuditEvent(user="u", action="new"), MAC_KEY)
    entries = await control.audit_entries()
    # one unit writes one lane: its entries are consecutive
    assert len({e.lane for e in entries}) == 1
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    trail = await control.audit_trail()
    (lane,) = [state for state in trail.lanes if state.lane == entries[0].lane]
    assert lane.head is not None and lane.head[0] == 4
    assert verify_trail(MAC_KEY, entries, trail).ok
    assert not verify_trail(b"another key" * 3, entries, trail).ok
    assert [e.action for e in await control.audit_entries("s")] == ["a0", "a1", "a2"]

    async with stores.unit() as unit:
        assert await unit.control.purge_audit_before(utcnow() - timedelta(days=1)) == 3
    trail = await control.audit_trail()
    (lane,) = [state for state in trail.lanes if state.lane == entries[0].lane]
    assert lane.anchor_seq == 3
    rest = await control.audit_entries()
    assert [e.action for e in rest] == ["new"]
    assert verify_trail(MAC_KEY, rest, trail).ok


async def test_meta_key_ring_grants_and_generation(stores: Stores) -> None:
    first, second = MasterKey.generate(), MasterKey.generate()
    before = await stores.control.control_generation()
    async with stores.unit() as unit:
        assert await unit.control.meta_get("nothing") is None
        await unit.control.meta_set("k", "v1")
        await unit.control.meta_set("k", "v2")
        await unit.control.add_key(first.key_id, check_envelope(first))
        await unit.control.add_key(second.key_id, check_envelope(second))
        await unit.control.add_grant("ann", "developer", "name", "app-*", "admin")
        await unit.control.add_grant("ann", "developer", "name", "app-*", "admin")  # dup
        await unit.control.add_grant("bob", "auditor", "tag", "prod", "admin")
    assert await stores.control.control_generation() != before
    async with stores.unit() as unit:
        assert await unit.control.meta_get("k") == "v2"
        ring = await unit.control.keys()
        assert [(k.key_id, k.status) for k in ring] == [
            (second.key_id, "active"),
            (first.key_id, "retired"),
        ]
        assert await unit.control.active_key_id() == second.key_id
        assert await unit.control.grants() == [
            ("ann", "developer", "name", "app-*"),
            ("bob", "auditor", "tag", "prod"),
        ]
        assert await unit.control.remove_grants("ann", "developer", ("name", "app-*")) == 1
        assert await unit.control.remove_grants("nobody") == 0
    async with stores.unit() as unit:
        assert [g[0] for g in await unit.control.grants()] == ["bob"]


async def test_leases_and_injection_bindings(stores: Stores) -> None:
    async with stores.unit() as unit:
        assert await unit.control.lease_get("rotation:x:2") is None
        await unit.control.lease_put("rotation:x:2", '{"pid": 1}')
        await unit.control.lease_put("rotation:x:2", '{"pid": 2}')
        await unit.control.binding_put(Binding("web", "db-password", "env_var", '{"var": "DB"}'))
        await unit.control.binding_put(Binding("web", "api-key", "file_mount", "{}"))
        await unit.control.binding_put(Binding("worker", "api-key", "env_var", "{}"))
        await unit.control.binding_put(Binding("web", "api-key", "env_var", '{"var": "K"}'))
    async with stores.unit() as unit:
        assert await unit.control.lease_get("rotation:x:2") == '{"pid": 2}'
        await unit.control.lease_drop("rotation:x:2")
        await unit.control.lease_drop("rotation:x:2")  # absent is fine
        assert await unit.control.lease_get("rotation:x:2") is None
        web = await unit.control.bindings(target="web")
        assert [(b.secret_name, b.kind, b.spec) for b in web] == [
            ("api-key", "env_var", '{"var": "K"}'),
            ("db-password", "env_var", '{"var": "DB"}'),
        ]
        assert [b.target for b in await unit.control.bindings(secret_name="api-key")] == [
            "web",
            "worker",
        ]
        assert await unit.control.binding_drop("web", "api-key") == 1
        assert await unit.control.binding_drop("web", "api-key") == 0
        assert len(await unit.control.bindings()) == 2
