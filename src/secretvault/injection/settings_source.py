"""The vault as a configuration source for applications.

``SecretVaultSettingsSource`` is a pydantic-settings source: an application's ``BaseSettings``
fields (``SecretStr`` welcome) are filled from the vault, at whatever precedence the
application gives it in ``settings_customise_sources`` (docs/injection.md shows the usual
order: init arguments, environment, the vault, .env, file secrets, defaults). A field reads the
secret named in ``json_schema_extra={"secret": "name"}``, else its alias, else its name with
``_`` → ``-`` (``openai_api_key`` → ``openai-api-key``), else its name as is. A secret that does
not exist (or no vault at all) leaves the field to the next source; any other failure (denied,
revoked) is raised.

``SecretsConfig``-independent Oneiric-style lookups: ``ConfigWithSecrets.get("secrets.name")``
and ``await ConfigWithSecrets.get_secret(name)`` try the vault first, then the guide's layers —
``{APP}_SECRETS__NAME`` in the environment, then a ``secrets:`` section of
``settings/local.yaml`` and ``settings/{app}.yaml`` — as the guide's
``MahavishnuConfigWithSecrets`` does.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from secretvault.config import DEFAULT_APP, EnvSecretsSource
from secretvault.errors import SecretNotFoundError

if TYPE_CHECKING:
    from secretvault.vault import SecretVault

T = TypeVar("T")


def _call(coro: Coroutine[Any, Any, T]) -> T:
    """Run a vault coroutine from synchronous code, inside a running event loop or not.

    Settings are built synchronously, often while an application's loop runs; a loop cannot be
    re-entered, so then the coroutine runs on a loop of its own in a short-lived thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    t = threading.Thread(target=work, name="secretvault-settings")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def candidates(field_name: str, field: FieldInfo) -> list[str]:
    """The secret names a settings field may be stored under, best first."""
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    named = extra.get("secret")
    if isinstance(named, str):
        return [named]
    names = [field.alias] if field.alias else []
    names += [field_name.replace("_", "-"), field_name]
    return list(dict.fromkeys(names))


def _call_on(vault: SecretVault | None, coro: Coroutine[Any, Any, T]) -> T:
    """``_call``, except that a store whose coroutines never suspend (the local one) runs
    inline: its connection belongs to the thread that opened it, so no second thread."""
    from secretvault.aio import run_inline
    from secretvault.backends.registry import spec_for

    if vault is not None and vault.is_open and spec_for(vault.config.default_backend).inline_io:
        return run_inline(coro)
    return _call(coro)


async def _read_first(vault: SecretVault, names: list[str], user: str) -> str | None:
    for name in names:
        try:
            value, _ = await vault.get_secret(name, user=user)
            return value
        except SecretNotFoundError:
            continue
    return None


class SecretVaultSettingsSource(PydanticBaseSettingsSource):
    """Fills ``BaseSettings`` fields from the vault (module docstring).

    ``vault``: an open vault whose loop is not the current one, or None to open a vault from
    the settings layers of ``app``/``settings_dir`` for the duration of the call.
    """

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        vault: SecretVault | None = None,
        *,
        app: str = DEFAULT_APP,
        settings_dir: str | Path = "settings",
        user: str = "system",
    ) -> None:
        super().__init__(settings_cls)
        self.vault = vault
        self.app = app
        self.settings_dir = settings_dir
        self.user = user

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: ``__call__`` reads every field in one vault session."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        """Field name → value for each field whose secret exists."""
        wanted = {
            name: candidates(name, field) for name, field in self.settings_cls.model_fields.items()
        }
        return _call_on(self.vault, self._read_all(wanted))

    async def _read_all(self, wanted: dict[str, list[str]]) -> dict[str, Any]:
        vault, opened = self.vault, False
        if vault is None:
            from secretvault.vault import SecretVault  # the facade, opened only when asked for

            vault = SecretVault(app=self.app, settings_dir=self.settings_dir)
            try:
                await vault.initialize(create=False)
            except SecretNotFoundError:
                return {}  # no vault here (a CI job, a fresh checkout): the other sources decide
            opened = True
        try:
            out: dict[str, Any] = {}
            for field_name, names in wanted.items():
                value = await _read_first(vault, names, self.user)
                if value is not None:
                    out[field_name] = value
            return out
        finally:
            if opened:
                await vault.shutdown()


class ConfigWithSecrets:
    """``config.get("secrets.name")`` and ``await config.get_secret(name)``: the vault first,
    then the guide's layers (module docstring). Other dotted keys read the YAML layers."""

    def __init__(
        self,
        vault: SecretVault | None = None,
        *,
        app: str = DEFAULT_APP,
        settings_dir: str | Path = "settings",
        user: str = "system",
    ) -> None:
        self._secret_vault = vault
        self.app = app
        self.settings_dir = Path(settings_dir)
        self.user = user
        self.env = EnvSecretsSource(app)

    async def get_secret(self, name: str) -> str | None:
        """The guide's ``MahavishnuConfigWithSecrets.get_secret``: vault, then layers."""
        if self._secret_vault is not None and self._secret_vault.is_open:
            value = await _read_first(
                self._secret_vault, list(dict.fromkeys([name, name.replace("_", "-")])), self.user
            )
            if value is not None:
                return value
        found = self.get(f"secrets.{name}", layers_only=True)
        return None if found is None else str(found)

    def get(self, key: str, default: Any = None, *, layers_only: bool = False) -> Any:
        """A dotted key. ``secrets.NAME`` tries the vault (unless ``layers_only``), then
        ``{APP}_SECRETS__NAME``, then the YAML layers; other keys read the YAML layers."""
        head, _, rest = key.partition(".")
        if head == "secrets" and rest:
            if not layers_only and self._secret_vault is not None and self._secret_vault.is_open:
                names = list(dict.fromkeys([rest, rest.replace("_", "-")]))
                value = _call_on(
                    self._secret_vault, _read_first(self._secret_vault, names, self.user)
                )
                if value is not None:
                    return value
            env_value = self.env.get(rest)
            if env_value is not None:
                return env_value
        node: Any = None
        for layer in self._layers():
            node = layer
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if node is not None:
                return node
        return default

    def _layers(self) -> list[dict[str, Any]]:
        """``local.yaml`` then ``{app}.yaml`` (highest first), each a mapping."""
        out = []
        for name in ("local.yaml", f"{self.app}.yaml"):
            path = self.settings_dir / name
            if path.is_file():
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
                if isinstance(data, dict):
                    out.append(data)
        return out
