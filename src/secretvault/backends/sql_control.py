"""The control role over SQL, written once for the SQLite and PostgreSQL stores.

Grants, roles, the key ring, leases, injection bindings and meta values are the same tables and
the same statements in both databases. Statements here use ``?`` placeholders and a ``{s}``
table prefix; each store runs them through its own four primitives (``_one``, ``_all``,
``_run``, ``_count``), which put in its placeholder style and schema. Only syntax both
databases accept is used (``ON CONFLICT … DO UPDATE/NOTHING`` with ``excluded``). The audit
chain's append stays in each store: its locking differs (SQLite's write lock, PostgreSQL's
chain lock) and it is on every operation's hot path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from secretvault.backends.base import Binding
from secretvault.crypto.envelope import Envelope
from secretvault.crypto.keyring import KeyInfo


class SqlControlRole:
    """``ControlSession`` methods over the four primitives a SQL transaction provides."""

    __slots__ = ()

    if TYPE_CHECKING:  # what the store's transaction class provides

        async def _one(self, sql: str, args: tuple[Any, ...] = ()) -> tuple[Any, ...] | None: ...

        async def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]: ...

        async def _run(self, sql: str, args: tuple[Any, ...] = ()) -> None: ...

        async def _count(self, sql: str, args: tuple[Any, ...] = ()) -> int: ...

        async def _changed(self) -> None:
            """Record that this transaction changed what other processes cache (grants)."""

    # -- meta and key ring ------------------------------------------------------------------

    async def meta_get(self, key: str) -> str | None:
        """A value from the meta table."""
        row = await self._one("SELECT value FROM {s}meta WHERE key = ?", (key,))
        return str(row[0]) if row else None

    async def meta_set(self, key: str, value: str) -> None:
        """Insert or replace a meta value."""
        await self._run(
            "INSERT INTO {s}meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def keys(self) -> list[KeyInfo]:
        """The key ring, active key first."""
        rows = await self._all(
            "SELECT key_id, status, created_at, check_ct, check_nonce, check_salt FROM {s}keys "
            "ORDER BY status = 'active' DESC, created_at DESC"
        )
        return [
            KeyInfo(k, s, c, Envelope(bytes(ct), bytes(n), bytes(salt), k))
            for k, s, c, ct, n, salt in rows
        ]

    async def add_key(self, key_id: str, check: Envelope) -> None:
        """Make ``key_id`` the active key; every other key becomes retired."""
        await self._run("UPDATE {s}keys SET status = 'retired' WHERE status = 'active'")
        await self._run(
            "INSERT INTO {s}keys VALUES (?, 'active', ?, ?, ?, ?) ON CONFLICT (key_id) "
            "DO UPDATE SET status = 'active', check_ct = excluded.check_ct, "
            "check_nonce = excluded.check_nonce, check_salt = excluded.check_salt",
            (key_id, datetime.now(UTC).isoformat(), check.ciphertext, check.nonce, check.salt),
        )

    async def active_key_id(self) -> str:
        """Id of the key new versions must be written under ("" before the first key)."""
        row = await self._one("SELECT key_id FROM {s}keys WHERE status = 'active'")
        return str(row[0]) if row else ""

    # -- RBAC storage (the policy itself lives in access/) ----------------------------------

    async def grants(self) -> list[tuple[str, str, str, str]]:
        """(principal, role, scope type, pattern) of every grant, oldest first."""
        rows = await self._all(
            "SELECT principal, role, scope_type, pattern FROM {s}grants ORDER BY id"
        )
        return [(str(p), str(r), str(t), str(x)) for p, r, t, x in rows]

    async def roles(self) -> list[tuple[str, str]]:
        """(name, JSON list of levels) of every custom role."""
        rows = await self._all("SELECT name, levels FROM {s}roles")
        return [(str(n), str(lv)) for n, lv in rows]

    async def add_grant(
        self, principal: str, role: str, scope_type: str, pattern: str, by: str
    ) -> None:
        """Store a grant (a duplicate is ignored)."""
        await self._run(
            "INSERT INTO {s}grants (principal, role, scope_type, pattern, created_at, "
            "created_by) VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (principal, role, scope_type, pattern, datetime.now(UTC).isoformat(), by),
        )
        await self._changed()

    async def remove_grants(
        self, principal: str, role: str | None = None, scope: tuple[str, str] | None = None
    ) -> int:
        """Delete ``principal``'s grants, narrowed by role and (scope type, pattern)."""
        sql, args = "DELETE FROM {s}grants WHERE principal = ?", [principal]
        if role:
            sql += " AND role = ?"
            args.append(role)
        if scope:
            sql += " AND scope_type = ? AND pattern = ?"
            args += list(scope)
        n = await self._count(sql, tuple(args))
        await self._changed()
        return n

    # -- leases and injection bindings --------------------------------------------------------

    async def lease_get(self, name: str) -> str | None:
        """The owner record of lease ``name``; None when nobody holds it."""
        row = await self._one("SELECT owner FROM {s}leases WHERE name = ?", (name,))
        return str(row[0]) if row else None

    async def lease_put(self, name: str, owner: str) -> None:
        """Record ``owner`` as holding lease ``name`` (replacing a previous holder)."""
        await self._run(
            "INSERT INTO {s}leases(name, owner) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET owner = excluded.owner",
            (name, owner),
        )

    async def lease_drop(self, name: str) -> None:
        """Release lease ``name`` (absent is fine)."""
        await self._run("DELETE FROM {s}leases WHERE name = ?", (name,))

    async def binding_put(self, binding: Binding) -> None:
        """Record (or replace) an injection binding."""
        await self._run(
            "INSERT INTO {s}bindings(target, secret_name, kind, spec) VALUES (?,?,?,?) "
            "ON CONFLICT(target, secret_name) DO UPDATE SET kind = excluded.kind, "
            "spec = excluded.spec",
            (binding.target, binding.secret_name, binding.kind, binding.spec),
        )

    async def bindings(
        self, target: str | None = None, secret_name: str | None = None
    ) -> list[Binding]:
        """Bindings, narrowed to one target and/or one secret, by target then name."""
        sql, args = "SELECT target, secret_name, kind, spec FROM {s}bindings WHERE 1=1", []
        if target is not None:
            sql += " AND target = ?"
            args.append(target)
        if secret_name is not None:
            sql += " AND secret_name = ?"
            args.append(secret_name)
        rows = await self._all(sql + " ORDER BY target, secret_name", tuple(args))
        return [Binding(*row) for row in rows]

    async def binding_drop(self, target: str, secret_name: str) -> int:
        """Remove one binding; returns how many rows went (0 or 1)."""
        return await self._count(
            "DELETE FROM {s}bindings WHERE target = ? AND secret_name = ?", (target, secret_name)
        )
