"""The settings layers without pydantic: where they are, ``${VAR}`` expansion, section folding,
and ``load_lean`` — the loader of the CLI's fast paths.

``config.load_config`` is the source of truth: it validates the merged layers with
``SecretsConfig`` through pydantic-settings. Importing that machinery costs more than the
whole latency budget of ``secretvault get`` (~100 ms of pydantic and pydantic-settings), so the
fast ``get`` reads the same layers here and converts each value itself — but only the values it
is sure to convert exactly as pydantic would. Anything else (a value pydantic might coerce in a
way this module does not reproduce, an unknown key, a JSON document in an environment variable,
a YAML syntax error) makes ``load_lean`` return None, and the caller takes the full path, which
reports errors as usual. So the lean loader can be slower to say yes, never different:
``tests/unit/vault/test_settings_layers.py`` compares it with ``load_config`` over every layer
combination and keeps ``FIELDS`` equal to ``SecretsConfig``'s fields, types and constraints.

Layers, highest first: overrides (``--vault-dir``), the environment
(``{APP}_SECRETS_MANAGEMENT__FIELD``, nested with ``__``, names case-insensitive),
``settings/local.yaml``, ``settings/{app}.yaml``, defaults. Each layer is folded
(``rotation:``/``scanning:`` sections → flat fields) before the layers are merged.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_APP = "mahavishnu"
DEFAULT_SCAN_PATTERNS = ["*.py", "*.js", "*.ts", "*.yaml", "*.yml", "*.json", "*.env", "*.sh"]

# Flat field -> field of the nested section the guide's YAML shows. The flat fields are the
# source of truth; the nested sections are folded into them, then rebuilt as views.
ROTATION_FIELDS = {
    "rotation_enabled": "enabled",
    "rotation_days": "rotation_days",
    "rotate_before_expiry_days": "rotate_before_expiry_days",
    "verify_after_rotation": "verify_after_rotation",
    "rollback_on_failure": "rollback_on_failure",
    "rotators": "rotators",
    "rotation_verifiers": "verifiers",
    "rotation_policies": "policies",
    "rotation_scheduler_interval_seconds": "scheduler_interval_seconds",
    "rotation_expiry_warning_days": "expiry_warning_days",
    "rotation_webhook_url": "webhook_url",
}
SCANNING_FIELDS = {
    "scan_enabled": "enabled",
    "scan_on_write": "scan_on_write",
    "scan_patterns": "scan_patterns",
}


def fold_sections(data: Any) -> Any:
    """Fold ``rotation:``/``scanning:`` sections into the flat fields they mirror.

    Within one mapping the nested form wins (it is the more specific spelling). Each settings
    layer is folded on its own before layers merge, so a higher layer's nested section beats a
    lower layer's flat field, as precedence promises.
    """
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for section, mapping in (("rotation", ROTATION_FIELDS), ("scanning", SCANNING_FIELDS)):
        nested = data.get(section)
        if hasattr(nested, "model_dump"):  # a RotationConfig/ScanningConfig passed in code
            nested = nested.model_dump(exclude_unset=True)
        if not isinstance(nested, dict):
            continue
        for flat, inner in mapping.items():
            if inner in nested:
                data[flat] = nested[inner]
        data.pop(section)
    return data


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_UNSET = object()


def expand_env(value: Any) -> Any:
    """Expand ``${VAR}`` and ``${VAR:-default}`` in every string of a YAML tree.

    A string that is exactly one unset reference with no default becomes ``_UNSET`` and its key
    is dropped by the caller, so a lower layer or the default applies instead of the literal.
    """
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            expanded = expand_env(v)
            if expanded is not _UNSET:
                out[k] = expanded
        return out
    if isinstance(value, list):
        return [v for v in (expand_env(i) for i in value) if v is not _UNSET]
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = _VAR.fullmatch(value)
    if whole and whole.group(1) not in os.environ and whole.group(2) is None:
        return _UNSET
    return _VAR.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), value)


def env_prefix(app: str) -> str:
    """The environment prefix of the ``secrets_management`` section (upper case)."""
    return f"{app.upper()}_SECRETS_MANAGEMENT__"


def layers_present(app: str, folder: Path) -> bool:
    """Is any settings layer there: an ``{APP}_SECRETS_MANAGEMENT__*`` variable or a YAML file?"""
    prefix = env_prefix(app)
    if any(key.upper().startswith(prefix) for key in os.environ):
        return True
    return (folder / "local.yaml").is_file() or (folder / f"{app}.yaml").is_file()


# -- the lean loader ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    """What ``SecretsConfig`` declares of one field, as far as ``load_lean`` checks it.

    ``kind``: bool, int, float, str, enum (``choices``), list[str], list[dict], dict,
    dict[dict]. ``optional``: None is allowed. ``ge``/``le``/``gt``/``pattern``: the field's
    constraints. ``default``: a callable for mutable defaults.
    """

    kind: str
    default: Any
    optional: bool = False
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    pattern: str | None = None
    choices: tuple[str, ...] = ()


_BACKENDS = ("local", "vault", "aws_secrets_manager", "azure_key_vault", "postgres")
_LEVELS = ("read", "write", "delete", "admin")


def _s(default: str | None = None, **kw: Any) -> Field:
    return Field("str", default, optional=default is None, **kw)


#: ``SecretsConfig``'s fields (a unit test keeps this table equal to the model).
FIELDS: dict[str, Field] = {
    "enabled": Field("bool", True),
    "master_key_path": _s("data/secrets/master.key"),
    "default_backend": Field("enum", "local", choices=_BACKENDS),
    "storage_path": _s("data/secrets/vault.db"),
    "vault_addr": _s(),
    "vault_token": _s(),
    "vault_mount": _s("secret"),
    "vault_auth_method": _s(pattern="^(token|approle|kubernetes)$"),
    "vault_role_id": _s(),
    "vault_secret_id": _s(),
    "vault_approle_mount": _s("approle"),
    "vault_kubernetes_role": _s(),
    "vault_kubernetes_jwt_path": _s("/var/run/secrets/kubernetes.io/serviceaccount/token"),
    "vault_kubernetes_mount": _s("kubernetes"),
    "vault_ca_cert": _s(),
    "vault_tls_verify": Field("bool", True),
    "vault_client_cert": _s(),
    "vault_client_key": _s(),
    "postgres_dsn": _s(),
    "postgres_schema": _s("secretvault"),
    "postgres_pool_size": Field("int", 10, ge=1),
    "postgres_row_cache": Field("int", 4096, ge=0),
    "aws_region": _s(),
    "aws_access_key_id": _s(),
    "aws_secret_access_key": _s(),
    "aws_session_token": _s(),
    "aws_endpoint_url": _s(),
    "aws_secret_prefix": _s("mahavishnu/"),
    "client_side_encryption": Field("bool", False),
    "backend_timeout_seconds": Field("float", 5.0, gt=0),
    "backend_retries": Field("int", 2, ge=0, le=10),
    "azure_vault_url": _s(),
    "azure_tenant_id": _s(),
    "azure_client_id": _s(),
    "azure_client_secret": _s(),
    "azure_client_options": Field("dict", dict),
    "azure_credential_options": Field("dict", dict),
    "rotation_enabled": Field("bool", True),
    "rotation_days": Field("int", 90, ge=1, le=365),
    "rotate_before_expiry_days": Field("int", 7, ge=0),
    "verify_after_rotation": Field("bool", True),
    "rollback_on_failure": Field("bool", True),
    "rotators": Field("list[dict]", list),
    "rotation_verifiers": Field("list[dict]", list),
    "rotation_policies": Field("dict[dict]", dict),
    "rotation_scheduler_interval_seconds": Field("int", 3600, ge=1),
    "rotation_expiry_warning_days": Field("int", 14, ge=0),
    "rotation_webhook_url": _s(),
    "scan_enabled": Field("bool", True),
    "scan_on_write": Field("bool", True),
    "scan_patterns": Field("list[str]", lambda: list(DEFAULT_SCAN_PATTERNS)),
    "access_log_enabled": Field("bool", True),
    "access_log_retention_days": Field("int", 90, ge=1),
    "rbac_enabled": Field("bool", False),
    "default_access_level": Field("enum", "read", choices=_LEVELS),
    "cache_enabled": Field("bool", False),
    "cache_ttl_seconds": Field("int", 300, ge=0),
    "vault_max_connections": Field("int", 10, ge=1),
    "audit_backend": Field("enum", "local", choices=_BACKENDS),
    "backends": Field("dict[dict]", dict),
    "environment": _s("development"),
    "max_versions": Field("int", 10, ge=0),
    "recovery_window_days": Field("int", 30, ge=0),
    "backup_retention": Field("int", 10, ge=1),
    "busy_timeout_ms": Field("int", 15000, ge=0),
    "durability": _s("normal", pattern="^(normal|full)$"),
}
#: The nested ``storage:`` section (``StorageConfig``): two optional strings.
STORAGE_FIELDS = ("encryption_key", "passphrase")

_SCALARS = frozenset({"bool", "int", "float", "str", "enum"})
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


class _Unsure(Exception):
    """A value this module does not convert exactly as pydantic would: take the full path."""


def _convert(spec: Field, value: Any) -> Any:
    """``value`` as ``SecretsConfig`` would hold it, or ``_Unsure``."""
    if value is None:
        if spec.optional:
            return None
        raise _Unsure
    kind = spec.kind
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise _Unsure
    if kind == "int":
        if isinstance(value, str) and _INT.fullmatch(value):
            value = int(value)
        if type(value) is not int:
            raise _Unsure
    elif kind == "float":
        if isinstance(value, str) and _FLOAT.fullmatch(value):
            value = float(value)
        if type(value) not in (int, float):
            raise _Unsure
        value = float(value)
    elif kind in ("str", "enum"):
        if not isinstance(value, str):
            raise _Unsure
        if kind == "enum" and value not in spec.choices:
            raise _Unsure
        if spec.pattern is not None and not re.search(spec.pattern, value):
            raise _Unsure
        return value
    else:
        if not _container_ok(kind, value):
            raise _Unsure
        return value
    if (
        (spec.ge is not None and value < spec.ge)
        or (spec.le is not None and value > spec.le)
        or (spec.gt is not None and value <= spec.gt)
    ):
        raise _Unsure
    return value


def _container_ok(kind: str, value: Any) -> bool:
    if kind == "list[str]":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "list[dict]":
        return isinstance(value, list) and all(isinstance(v, dict) for v in value)
    if kind == "dict":
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, dict) for k, v in value.items()
    )


def _env_layer(app: str) -> dict[str, Any]:
    """The ``{APP}_SECRETS_MANAGEMENT__*`` variables as a nested mapping (names lower-cased,
    as pydantic-settings matches them case-insensitively)."""
    prefix = env_prefix(app)
    section: dict[str, Any] = {}
    for key, value in os.environ.items():
        upper = key.upper()
        if upper == prefix[:-2]:  # the whole section as one JSON document
            raise _Unsure
        if not upper.startswith(prefix):
            continue
        path = key[len(prefix) :].lower().split("__")
        target = section
        for part in path[:-1]:
            nxt = target.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise _Unsure
            target = nxt
        if isinstance(target.get(path[-1]), dict):
            raise _Unsure
        target[path[-1]] = value
    return section


def _yaml_layer(path: Path) -> dict[str, Any]:
    """The ``secrets_management`` mapping of one YAML file, ``${VAR}`` expanded."""
    if not path.is_file():
        return {}
    import yaml  # only when a settings file exists

    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raise _Unsure from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _Unsure
    section = data.get("secrets_management", {})
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise _Unsure
    expanded: dict[str, Any] = expand_env(section)
    return expanded


def _merge(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    """pydantic-settings' deep update: mappings merge key by key, anything else is replaced."""
    out = dict(low)
    for key, value in high.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclass(frozen=True, slots=True)
class LeanStorage:
    """The ``storage:`` section (alternative master-key sources)."""

    encryption_key: str | None = None
    passphrase: str | None = None

    def __repr__(self) -> str:  # both fields may be the key itself
        return "LeanStorage(<redacted>)"


class LeanSettings:
    """Every ``SecretsConfig`` field's value as plain Python values (enums as their strings):
    the fields the fast paths read are typed properties, the rest reachable as attributes."""

    __slots__ = ("storage", "values")

    def __init__(self, values: dict[str, Any], storage: LeanStorage) -> None:
        self.values = values
        self.storage = storage

    @property
    def default_backend(self) -> str:
        """The secret store's type (``BackendType`` value)."""
        return str(self.values["default_backend"])

    @property
    def storage_path(self) -> str:
        """The local vault file."""
        return str(self.values["storage_path"])

    @property
    def master_key_path(self) -> str:
        """The master key file."""
        return str(self.values["master_key_path"])

    @property
    def busy_timeout_ms(self) -> int:
        """How long a locked database is waited for."""
        return int(self.values["busy_timeout_ms"])

    @property
    def durability(self) -> str:
        """``normal`` or ``full`` (SQLite synchronous mode)."""
        return str(self.values["durability"])

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"LeanSettings(default_backend={self.default_backend!r}, …)"


def load_lean(
    app: str = DEFAULT_APP, settings_dir: str | Path = "settings", **overrides: str
) -> LeanSettings | None:
    """The settings ``load_config(app, settings_dir, **overrides)`` would give, or None when
    some layer holds a value this module does not convert itself (the module docstring)."""
    folder = Path(settings_dir)
    try:
        env_section = fold_sections(_env_layer(app))
        # pydantic-settings decodes containers given in the environment (JSON, nested keys)
        # by rules of its own: leave those to it.
        if any(FIELDS[k].kind not in _SCALARS for k in env_section if k in FIELDS):
            raise _Unsure
        merged: dict[str, Any] = {}
        for layer in (
            _yaml_layer(folder / f"{app}.yaml"),
            _yaml_layer(folder / "local.yaml"),
            env_section,
            dict(overrides),
        ):
            merged = _merge(merged, fold_sections(layer))
        values: dict[str, Any] = {}
        storage = merged.pop("storage", {})
        for name, spec in FIELDS.items():
            if name in merged:
                values[name] = _convert(spec, merged.pop(name))
            else:
                values[name] = spec.default() if callable(spec.default) else spec.default
        if merged or not isinstance(storage, dict):  # unknown keys: the full path names them
            raise _Unsure
        parts = {k: _convert(_s(), storage.get(k)) for k in STORAGE_FIELDS}
    except _Unsure:
        return None
    return LeanSettings(values, LeanStorage(**parts))
