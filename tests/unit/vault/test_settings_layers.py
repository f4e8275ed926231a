"""The lean settings loader (CLI fast paths) against ``load_config``, the source of truth.

``load_lean`` must either give exactly what ``load_config`` gives or decline (None). These
tests build every combination of the three layers (committed YAML, local YAML, environment)
from a pool of values — plain ones it must accept and tricky ones it may decline — and compare
field by field. Declining when ``load_config`` succeeds is allowed only for the tricky pool;
succeeding when ``load_config`` fails is never allowed.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml

from secretvault.config import SecretsConfig, StorageConfig, load_config
from secretvault.errors import ConfigurationError
from secretvault.settings_layers import FIELDS, STORAGE_FIELDS, LeanSettings, load_lean


def _comparable(cfg: SecretsConfig) -> dict[str, Any]:
    out = cfg.model_dump(mode="json", exclude={"rotation", "scanning", "storage"})
    out["storage"] = cfg.storage.model_dump()
    return out


def _lean_comparable(lean: LeanSettings) -> dict[str, Any]:
    out = dict(lean.values)
    out["storage"] = {k: getattr(lean.storage, k) for k in STORAGE_FIELDS}
    return out


def _check(folder: Path, plain: bool, **overrides: str) -> None:
    """lean == load_config, or lean declined (allowed when load_config fails too, or when the
    layers hold a value outside the plain pool)."""
    expected: dict[str, Any] | None
    try:
        expected = _comparable(load_config("mahavishnu", folder, **overrides))
    except ConfigurationError:
        expected = None
    lean = load_lean("mahavishnu", folder, **overrides)
    if lean is None:
        assert expected is None or not plain, "the lean loader declined a plain configuration"
        return
    assert expected is not None, "the lean loader accepted settings load_config rejects"
    assert _lean_comparable(lean) == expected


def test_fields_table_mirrors_secrets_config() -> None:
    """FIELDS names every SecretsConfig field (but the nested views) with the same default,
    optionality and constraints."""
    model = SecretsConfig.model_fields
    flat = {n for n in model if n not in ("rotation", "scanning", "storage")}
    assert set(FIELDS) == flat
    defaults = SecretsConfig().model_dump(mode="json")
    for name, spec in FIELDS.items():
        default = spec.default() if callable(spec.default) else spec.default
        assert default == defaults[name], name
        info = model[name]
        assert spec.optional == ("None" in str(info.annotation)), name
        constraints: dict[str, Any] = {}
        for meta in info.metadata:
            for attr in ("ge", "le", "gt", "pattern"):
                if getattr(meta, attr, None) is not None:
                    constraints[attr] = getattr(meta, attr)
        attrs = ("ge", "le", "gt", "pattern")
        mine = {a: getattr(spec, a) for a in attrs if getattr(spec, a) is not None}
        assert mine == constraints, name
        if spec.kind == "enum":
            enum = info.annotation
            assert spec.choices == tuple(m.value for m in enum), name  # type: ignore[union-attr]
    assert set(STORAGE_FIELDS) == set(StorageConfig.model_fields)


# Each layer option: (YAML/env mapping, plain?). Plain ones must be accepted by the lean loader.
# Fixture values only; they look like secrets on purpose.
TEST_KEY = "a2V5LWtleS1rZXkta2V5LWtleS1rZXkta2V5LWtleS0="  # secretvault:allow
PASSPHRASE = "p4ss-phrase-x"  # secretvault:allow

COMMITTED = [
    ({}, True),
    ({"storage_path": "c/vault.db", "rotation_days": 30, "rbac_enabled": True}, True),
    (
        {
            "default_backend": "vault",
            "rotation": {"rotation_days": 15, "enabled": False},
            "scanning": {"scan_patterns": ["*.py"]},
            "storage": {"passphrase": "${SV_TEST_PASS:-pw-default}"},
        },
        True,
    ),
    ({"rotation_days": "45", "durability": "full", "backend_timeout_seconds": 2}, True),
    ({"rotation_days": 400}, True),  # invalid: both must refuse (lean by declining)
    ({"rbac_enabled": "maybe"}, True),
    ({"unknown_field": 1}, True),
    ({"busy_timeout_ms": True}, False),  # pydantic coerces True to 1; lean declines
    ({"vault_mount": 5}, True),  # pydantic refuses int for str
]
LOCAL = [
    ({}, True),
    ({"storage_path": "l/vault.db", "rotation": {"rotation_days": 7}}, True),
    ({"access_log_enabled": False, "storage": {"encryption_key": "${SV_TEST_KEY}"}}, True),
    ({"default_access_level": "WRITE"}, True),  # enum values are case-sensitive: invalid
]
ENV = [
    ({}, True),
    ({"STORAGE_PATH": "e/vault.db", "ROTATION_DAYS": "33", "RBAC_ENABLED": "yes"}, True),
    ({"STORAGE__PASSPHRASE": "hunter2-hunter2", "ROTATION__ROTATION_DAYS": "12"}, True),
    ({"SCAN_PATTERNS": '["*.go"]'}, False),  # JSON in env: pydantic-settings decodes it
    ({"ROTATION_DAYS": "5_0"}, False),  # pydantic reads 50; lean declines
    ({"BUSY_TIMEOUT_MS": "-1"}, True),
]


def _write(folder: Path, name: str, section: dict[str, Any]) -> None:
    path = folder / name
    if section:
        path.write_text(yaml.safe_dump({"secrets_management": section}))
    elif path.exists():
        path.unlink()


@pytest.mark.parametrize("committed", range(len(COMMITTED)))
def test_lean_equals_load_config_over_layer_combinations(
    committed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SV_TEST_KEY", TEST_KEY)
    c_section, c_plain = COMMITTED[committed]
    _write(tmp_path, "mahavishnu.yaml", c_section)
    for (l_section, l_plain), (env, e_plain) in itertools.product(LOCAL, ENV):
        _write(tmp_path, "local.yaml", l_section)
        with monkeypatch.context() as m:
            for key, value in env.items():
                m.setenv(f"MAHAVISHNU_SECRETS_MANAGEMENT__{key}", value)
            plain = c_plain and l_plain and e_plain
            _check(tmp_path, plain)
            _check(tmp_path, plain, storage_path="o/vault.db", master_key_path="o/master.key")


def test_env_names_are_case_insensitive_like_pydantic_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("mahavishnu_secrets_management__storage_path", "lower/vault.db")
    _check(tmp_path, True)
    lean = load_lean("mahavishnu", tmp_path)
    assert lean is not None and lean.storage_path == "lower/vault.db"


def test_other_app_namespace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "billing.yaml").write_text("secrets_management:\n  rotation_days: 20\n")
    monkeypatch.setenv("BILLING_SECRETS_MANAGEMENT__ENVIRONMENT", "prod")
    lean = load_lean("billing", tmp_path)
    assert lean is not None
    assert _lean_comparable(lean) == _comparable(load_config("billing", tmp_path))


@pytest.mark.parametrize(
    "text",
    ["secrets_management: [1, 2]\n", "secrets_management:\n  storage_path: [unclosed\n", "- 1\n"],
)
def test_broken_yaml_is_left_to_the_full_loader(tmp_path: Path, text: str) -> None:
    (tmp_path / "mahavishnu.yaml").write_text(text)
    assert load_lean("mahavishnu", tmp_path) is None
    with pytest.raises(ConfigurationError):
        load_config("mahavishnu", tmp_path)


def test_repr_hides_key_material(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MAHAVISHNU_SECRETS_MANAGEMENT__STORAGE__PASSPHRASE", PASSPHRASE)
    lean = load_lean("mahavishnu", tmp_path)
    assert lean is not None and lean.storage.passphrase == PASSPHRASE
    assert "p4ss" not in repr(lean) and "p4ss" not in repr(lean.storage)
