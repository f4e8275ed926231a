"""The pair of stores one vault works with, and the unit of work that spans them.

``Stores.shared(store)``: one database plays both roles (the local backend), and a unit is that
database's transaction — an operation and its audit row commit together.

``Stores(secrets, control)``: two stores. A unit opens the control transaction, then the secret
session; on the way out it commits the secret side first and the control side (the audit row)
second, rolling the control side back when the secret side fails. So an acknowledged write or a
returned value always has its audit entry committed; a failed remote call never leaves an
audit entry that claims success (the facade audits the failure in a unit of its own).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from types import TracebackType

from secretvault.backends.base import (
    ControlSession,
    ControlStore,
    SecretSession,
    SecretStore,
    SharedStore,
    Unit,
)


class Stores:
    """The secret store and the control store of one vault."""

    __slots__ = ("control", "secrets", "shared_store")

    def __init__(
        self, secrets: SecretStore, control: ControlStore, shared: SharedStore | None = None
    ) -> None:
        self.secrets = secrets
        self.control = control
        self.shared_store = shared

    @classmethod
    def shared(cls, store: SharedStore) -> Stores:
        """One store in both roles: every unit is one transaction."""
        return cls(store, store, store)

    @property
    def is_shared(self) -> bool:
        """True when both roles live in one database (units are single transactions)."""
        return self.shared_store is not None

    def unit(self) -> AbstractAsyncContextManager[Unit]:
        """A unit of work over both roles (see the module docstring for the commit order)."""
        if self.shared_store is not None:
            return self.shared_store.unit()
        return _SplitUnit(self.secrets, self.control)

    async def open(self, *, create: bool) -> None:
        """Open both stores (the control store first: it holds the key ring)."""
        await self.control.open(create=create)
        if self.shared_store is None:
            try:
                await self.secrets.open(create=create)
            except BaseException:
                await self.control.close()
                raise

    async def close(self) -> None:
        """Close both stores (idempotent)."""
        try:
            if self.shared_store is None:
                await self.secrets.close()
        finally:
            await self.control.close()


class _SplitUnit:
    """A unit over two stores: the secret side commits first, the audit side second."""

    __slots__ = ("_control_ctx", "_secret_ctx", "control", "secrets")

    def __init__(self, secrets: SecretStore, control: ControlStore) -> None:
        self._secret_ctx = secrets.session()
        self._control_ctx = control.transaction()
        self.secrets: SecretSession
        self.control: ControlSession

    async def __aenter__(self) -> _SplitUnit:
        self.control = await self._control_ctx.__aenter__()
        try:
            self.secrets = await self._secret_ctx.__aenter__()
        except BaseException as exc:
            await self._control_ctx.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._secret_ctx.__aexit__(exc_type, exc, tb)
        except BaseException as err:
            await self._control_ctx.__aexit__(type(err), err, err.__traceback__)
            raise
        await self._control_ctx.__aexit__(exc_type, exc, tb)
