"""sync and drift between two vaults: copies values and metadata, idempotent, audited on both
sides, values never in a report; drift finds exactly what differs."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from vaulttest_helpers import distinctive, make_config

from secretvault import SecretType, SecretVault
from secretvault.config import SecretsConfig
from secretvault.errors import ConfigurationError
from secretvault.models import BackendType
from secretvault.sync import backend_config, drift, sync


async def _open(root: Path) -> SecretVault:
    vault = SecretVault(make_config(root))
    await vault.initialize()
    return vault


async def test_sync_copies_values_and_metadata_and_is_idempotent(tmp_path: Path) -> None:
    a, b = await _open(tmp_path / "a"), await _open(tmp_path / "b")
    try:
        expiry = datetime.now(UTC) + timedelta(days=40)
        values = {f"app-{i}": distinctive(f"v{i}") for i in range(5)}
        for i, (name, value) in enumerate(values.items()):
            await a.store_secret(
                SecretType.DATABASE_PASSWORD if i % 2 else SecretType.API_KEY,
                name,
                value,
                description=f"secret {i}",
                tags=["team", f"t{i}"],
                service="billing",
                environment="prod",
                rotation_days=30 + i,
                expires_at=expiry,
            )
        await a.store_secret(SecretType.API_KEY, "other", distinctive("o"))
        report = await sync(a, b, ["app-*"], "syncer")
        assert sorted(report.created) == sorted(values) and not report.failed
        for name, value in values.items():
            got, record = await b.get_secret(name)
            src = (await a.get_secret(name))[1]
            assert got == value
            assert record.secret_type == src.secret_type
            for f in ("description", "tags", "service", "environment", "rotation_days"):
                assert getattr(record.metadata, f) == getattr(src.metadata, f)
            assert record.metadata.expires_at == src.metadata.expires_at
        assert [r.name for r in await b.list_secrets()] == sorted(values)  # the filter held
        again = await sync(a, b, ["app-*"], "syncer")
        assert sorted(again.unchanged) == sorted(values) and not again.created + again.updated
        assert await drift(a, b, ["app-*"], "syncer") == []
        # audited on both sides, by the syncing user; never a value in any entry
        src_log = (await a.get_access_log()).entries
        dst_log = (await b.get_access_log()).entries
        assert any(e.user == "syncer" and e.action == "read" for e in src_log)
        assert sum(e.user == "syncer" and e.action == "create" for e in dst_log) == len(values)
        for entry in [*src_log, *dst_log]:
            assert not any(v in entry.model_dump_json() for v in values.values())
    finally:
        await a.shutdown()
        await b.shutdown()


async def test_drift_reports_exactly_the_planted_differences(tmp_path: Path) -> None:
    a, b = await _open(tmp_path / "a"), await _open(tmp_path / "b")
    try:
        for name in ("same", "changed-value", "changed-meta", "only-source"):
            await a.store_secret(SecretType.API_KEY, name, distinctive(name), service="s")
        await sync(a, b, [], "u")
        await b.store_secret(SecretType.API_KEY, "only-target", distinctive("t"))
        await b.delete_secret("only-source")
        secret_new = distinctive("new")
        await b.update_secret("changed-value", secret_new)
        await b.update_metadata("changed-meta", service="elsewhere", tags=["x"])
        found = await drift(a, b, [], "u")
        assert [(d.name, d.kind, d.fields) for d in found] == [
            ("changed-meta", "metadata", ["tags", "service"]),
            ("changed-value", "value", []),
            ("only-source", "missing_in_target", []),
            ("only-target", "missing_in_source", []),
        ]
        assert secret_new not in json.dumps([asdict(d) for d in found])
        dry = await sync(a, b, [], "u", dry_run=True)
        assert (dry.created, sorted(dry.updated)) == (
            ["only-source"],
            ["changed-meta", "changed-value"],
        )
        assert len(await drift(a, b, [], "u")) == 4  # a dry run wrote nothing
        await sync(a, b, [], "u")
        assert [(d.name, d.kind) for d in await drift(a, b, [], "u")] == [
            ("only-target", "missing_in_source")
        ]
        assert (await b.get_secret("changed-value"))[0] != secret_new
    finally:
        await a.shutdown()
        await b.shutdown()


def test_backend_names_come_from_settings_or_are_types(tmp_path: Path) -> None:
    base = make_config(
        tmp_path,
        backends={"prod": {"default_backend": "postgres", "postgres_dsn": "postgresql://h/db"}},
    )
    prod = backend_config(base, "prod")
    assert prod.default_backend == BackendType.POSTGRES and prod.postgres_dsn
    assert prod.storage_path == base.storage_path  # everything else inherited
    assert backend_config(base, "local").default_backend == BackendType.LOCAL
    with pytest.raises(ConfigurationError, match="unknown backend 'nope'") as info:
        backend_config(base, "nope")
    assert info.value.hint is not None and "prod" in info.value.hint
    bad = SecretsConfig(backends={"x": {"max_versions": -1}})
    with pytest.raises(ConfigurationError, match="backend 'x'"):
        backend_config(bad, "x")


async def test_secrets_that_cannot_be_read_are_reported_not_silently_dropped(
    tmp_path: Path,
) -> None:
    a, b = await _open(tmp_path / "a"), await _open(tmp_path / "b")
    try:
        for name in ("live", "revoked-at-source", "revoked-at-target"):
            await a.store_secret(SecretType.API_KEY, name, distinctive(name))
        await sync(a, b, [], "u")
        await a.revoke_secret("revoked-at-source")
        await b.revoke_secret("revoked-at-target")
        await a.store_secret(SecretType.API_KEY, "new-but-revoked", distinctive("n"))
        await a.revoke_secret("new-but-revoked")
        found = await drift(a, b, [], "u")
        assert [(d.name, d.kind, d.fields) for d in found] == [
            ("new-but-revoked", "missing_in_target", []),
            ("revoked-at-source", "status", ["source revoked", "target active"]),
            ("revoked-at-target", "status", ["source active", "target revoked"]),
        ]
        report = await sync(a, b, [], "u")
        assert report.skipped == {"new-but-revoked": "revoked", "revoked-at-source": "revoked"}
        assert report.unchanged == ["live"]
        assert list(report.failed) == ["revoked-at-target"]  # its target value is unreadable
        assert "new-but-revoked" not in [r.name for r in await b.list_secrets()]
    finally:
        await a.shutdown()
        await b.shutdown()
