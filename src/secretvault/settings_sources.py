"""The settings layers as pydantic-settings sources, and the one place that orders them.

Layers, highest first: explicit overrides, environment (``{APP}_SECRETS_MANAGEMENT__FIELD``,
nested with ``__``), ``settings/local.yaml``, ``settings/{app}.yaml``, defaults. Each layer is
its own source class and is folded (``rotation:``/``scanning:`` sections → flat fields) before
the layers merge. Imported only when some layer is present (see ``config.load_config``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from secretvault.config import DEFAULT_APP, SecretsConfig, expand_env, fold_sections
from secretvault.errors import ConfigurationError

if TYPE_CHECKING:
    from importlib.abc import Traversable


class FoldedSource(PydanticBaseSettingsSource):
    """Wraps one layer and folds its nested sections before the layers are merged."""

    def __init__(self, inner: PydanticBaseSettingsSource) -> None:
        super().__init__(inner.settings_cls)
        self.inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        """Unused: ``__call__`` delegates whole-document loading to the wrapped source."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        data = self.inner()
        section = data.get("secrets_management")
        if isinstance(section, dict):
            data = {**data, "secrets_management": fold_sections(section)}
        return data


class ExpandingYamlSource(YamlConfigSettingsSource):
    """A YAML layer with ``${VAR}`` expansion and errors that name the file and line."""

    def _read_file(self, file_path: Path | Traversable) -> dict[str, Any]:
        import yaml

        try:
            data: object = super()._read_file(file_path)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise ConfigurationError(
                f"{file_path}{where}: not valid YAML",
                hint="fix the syntax (indentation, quotes) and try again",
            ) from None
        if data is None:
            return {}
        if not isinstance(data, dict):  # a YAML file may hold a list or a scalar
            raise ConfigurationError(f"{file_path}: expected a mapping at the top level")
        expanded: dict[str, Any] = expand_env(data)
        return expanded


class AppSettings(BaseSettings):
    """The application's settings document: ``secrets_management`` plus the plain-secret layer."""

    model_config = SettingsConfigDict(
        env_prefix="MAHAVISHNU_", env_nested_delimiter="__", extra="ignore"
    )

    app_name: ClassVar[str] = DEFAULT_APP
    settings_folder: ClassVar[str] = "settings"

    secrets_management: SecretsConfig = Field(default_factory=SecretsConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The one place that states precedence: init > env > local.yaml > {app}.yaml."""
        folder = Path(settings_cls.settings_folder)  # type: ignore[attr-defined]
        app = settings_cls.app_name  # type: ignore[attr-defined]
        layers = (
            init_settings,
            env_settings,
            ExpandingYamlSource(settings_cls, yaml_file=folder / "local.yaml"),
            ExpandingYamlSource(settings_cls, yaml_file=folder / f"{app}.yaml"),
        )
        return tuple(FoldedSource(layer) for layer in layers)


@cache
def settings_class(app: str, settings_dir: str) -> type[AppSettings]:
    """A settings class bound to one namespace and folder (env prefix ``APP_``)."""
    return type(
        f"{app.title()}Settings",
        (AppSettings,),
        {
            "model_config": SettingsConfigDict(
                env_prefix=f"{app.upper()}_", env_nested_delimiter="__", extra="ignore"
            ),
            "app_name": app,
            "settings_folder": settings_dir,
        },
    )
