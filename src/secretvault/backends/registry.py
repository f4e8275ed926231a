"""Which module builds the store for each ``BackendType`` — the one place stores are named.

Each entry names a module and a factory ``factory(config) -> SecretStore``; the module is
imported only when that backend is configured, so the local vault never imports a cloud SDK.
When a backend's SDK is missing, the error names the extra that installs it. ``register``
adds or replaces an entry (a plug-in store, or a test's)::

    from secretvault.backends.registry import BackendSpec, register
    register(BackendType.VAULT, BackendSpec("mypkg.store", "vault_store", extra="vault"))

``build_stores`` pairs the configured secret store with its control store: the local backend
plays both roles in one database; a store without a control role of its own gets the local
SQLite control store at ``storage_path`` (audit trail, grants, key ring beside the app).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, cast

from secretvault.errors import ConfigurationError
from secretvault.models import BackendType

if TYPE_CHECKING:
    from secretvault.backends.base import ControlStore, SecretStore, SharedStore
    from secretvault.backends.stores import Stores
    from secretvault.config import SecretsConfig


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """Where a backend lives and what it needs.

    ``module``/``factory``: imported on first use. ``extra``: the pip extra that installs its
    SDK (named in the error when the import fails). ``inline_io``: its coroutines never suspend
    (lets synchronous callers skip the event loop; see ``secretvault.aio``). ``control``: the
    store plays the control role too, in the same transactions (a ``SharedStore``)."""

    module: str
    factory: str
    extra: str | None = None
    inline_io: bool = False
    control: bool = False


_REGISTRY: dict[BackendType, BackendSpec] = {
    BackendType.LOCAL: BackendSpec(
        "secretvault.backends.local", "local_store", inline_io=True, control=True
    ),
    BackendType.POSTGRES: BackendSpec(
        "secretvault.backends.postgres", "postgres_store", extra="postgres", control=True
    ),
    BackendType.VAULT: BackendSpec("secretvault.backends.vault", "vault_store", extra="vault"),
    BackendType.AWS_SECRETS_MANAGER: BackendSpec(
        "secretvault.backends.aws", "aws_store", extra="aws"
    ),
    BackendType.AZURE_KEY_VAULT: BackendSpec(
        "secretvault.backends.azure", "azure_store", extra="azure"
    ),
}


def register(backend_type: BackendType, spec: BackendSpec) -> BackendSpec | None:
    """Add or replace the store for ``backend_type``; returns the entry it replaced."""
    previous = _REGISTRY.get(backend_type)
    _REGISTRY[backend_type] = spec
    return previous


def unregister(backend_type: BackendType) -> None:
    """Remove a backend's entry (absent is fine)."""
    _REGISTRY.pop(backend_type, None)


def registered() -> list[BackendType]:
    """The backend types this build can open."""
    return list(_REGISTRY)


def spec_for(backend_type: BackendType) -> BackendSpec:
    """The entry for ``backend_type``; ConfigurationError when this build has none."""
    spec = _REGISTRY.get(backend_type)
    if spec is None:
        available = ", ".join(t.value for t in _REGISTRY)
        raise ConfigurationError(
            f"backend {backend_type.value!r} is not available in this build",
            hint=f"use default_backend: one of {available}",
        )
    return spec


def build_secret_store(config: SecretsConfig) -> SecretStore:
    """Construct (not open) the secret store ``config.default_backend`` names."""
    backend_type = config.default_backend
    spec = spec_for(backend_type)
    try:
        module = import_module(spec.module)
    except ImportError as exc:
        extra = f"secretvault[{spec.extra}]" if spec.extra else "secretvault"
        raise ConfigurationError(
            f"backend {backend_type.value!r} needs {exc.name or 'a module'}, which is not "
            "installed",
            hint=f"pip install '{extra}'",
        ) from None
    factory = cast("Callable[[SecretsConfig], SecretStore]", getattr(module, spec.factory))
    return factory(config)


def build_stores(config: SecretsConfig) -> Stores:
    """The secret store and control store for ``config``, not yet opened.

    A store with a control role of its own keeps both roles. Any other gets the control store
    ``audit_backend`` names: ``local`` (default: the SQLite file at ``storage_path``) or
    ``postgres`` (one audit trail, grant table and key ring for a whole fleet)."""
    from secretvault.backends.stores import Stores

    secrets = build_secret_store(config)
    if spec_for(config.default_backend).control:
        return Stores.shared(cast("SharedStore", secrets))
    return Stores(secrets, build_control_store(config))


def control_backend(config: SecretsConfig) -> BackendType:
    """The backend that keeps ``config``'s control role (key ring, audit trail): the secret
    store itself when it plays both roles, else the one ``audit_backend`` names. Lets a caller
    tell a vault that is a local file from one a server keeps, without opening it."""
    if spec_for(config.default_backend).control:
        return config.default_backend
    return config.audit_backend


def build_control_store(config: SecretsConfig) -> ControlStore:
    """The control store ``audit_backend`` names, for a secret store without one."""
    audit = config.audit_backend
    if audit == BackendType.LOCAL:
        from secretvault.backends.local import local_store

        return local_store(config)
    if audit == BackendType.POSTGRES:
        spec_for(BackendType.POSTGRES)
        from secretvault.backends.postgres import postgres_store

        return postgres_store(config)
    raise ConfigurationError(
        f"audit_backend {audit.value!r} cannot keep the audit trail",
        hint="use audit_backend: local or postgres",
    )
