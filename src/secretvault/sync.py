"""Moving and comparing secrets between two backends: ``secretvault sync`` and ``drift``.

A backend is named either in settings (``backends: {prod: {default_backend: postgres, …}}``,
each entry a set of overrides on top of the loaded settings) or by its type
(``local``, ``postgres``, ``vault``, ``aws_secrets_manager``, ``azure_key_vault``) with the
loaded settings. Both sides are ordinary ``SecretVault`` instances, so every read and write
goes through access control and is audited on its own side — a copy is a read on the source
and a create or update on the target, by the same user.

Values are compared by a keyed hash (HMAC-SHA256 under a random key made for this run and
forgotten with it), so neither ``drift`` nor a ``--dry-run`` ever prints, stores or logs a
value or anything a value could be guessed from offline.

``sync`` copies each selected secret's *current* value and its metadata (type, description,
tags, service, environment, rotation interval, expiry). It is idempotent: a secret whose value
and metadata already match is left alone, so running it twice writes nothing the second time.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from secretvault.config import SecretsConfig
from secretvault.errors import ConfigurationError
from secretvault.models import BackendType, SecretRecord, SecretStatus
from secretvault.vault import SecretVault

#: Metadata fields ``sync`` copies and ``drift`` compares.
SYNCED_METADATA = ("description", "tags", "service", "environment", "rotation_days", "expires_at")


def backend_config(base: SecretsConfig, name: str) -> SecretsConfig:
    """The settings of backend ``name``: a ``backends`` entry over ``base``, or ``base`` with
    ``default_backend`` set to the backend type ``name`` spells."""
    if name in base.backends:
        merged = {
            **base.model_dump(exclude={"backends", "rotation", "scanning"}),
            **base.backends[name],
        }
        try:
            return SecretsConfig(**merged)
        except ValueError as exc:
            raise ConfigurationError(f"settings of backend {name!r}: {exc}") from None
    try:
        backend = BackendType(name)
    except ValueError:
        known = sorted(base.backends) + [t.value for t in BackendType]
        raise ConfigurationError(
            f"unknown backend {name!r}",
            hint=f"name one of: {', '.join(known)} (named backends live under `backends:` in "
            "settings)",
        ) from None
    return base.model_copy(update={"default_backend": backend})


@dataclass(slots=True)
class Difference:
    """How one secret differs between the two sides (no values, ever)."""

    name: str
    kind: str  # "missing_in_target" | "missing_in_source" | "status" | "value" | "metadata"
    fields: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SyncReport:
    """What ``sync`` did (or, with ``dry_run``, would do), per secret name."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    #: Source secrets not copied because their value cannot be read (name → status).
    skipped: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False


class _Digest:
    """A keyed hash of values, under a key that lives only as long as this object."""

    def __init__(self) -> None:
        self._key = os.urandom(32)

    def __call__(self, value: str) -> str:
        return hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()


#: Statuses whose value can be read (and so copied or compared).
READABLE = (SecretStatus.ACTIVE, SecretStatus.ROTATING)


def _selected(records: Iterable[SecretRecord], patterns: list[str]) -> dict[str, SecretRecord]:
    """Secrets, in any status, whose name matches any pattern (all when none are given)."""
    return {
        r.name: r
        for r in records
        if not patterns or any(fnmatch.fnmatch(r.name, p) for p in patterns)
    }


def _metadata_differs(source: SecretRecord, target: SecretRecord) -> list[str]:
    """Metadata fields (and the type) whose values differ between the two sides."""
    fields = [
        f for f in SYNCED_METADATA if getattr(source.metadata, f) != getattr(target.metadata, f)
    ]
    if source.secret_type != target.secret_type:
        fields.insert(0, "secret_type")
    return fields


def _copyable(source: SecretRecord, target: SecretRecord) -> list[str]:
    """The differing fields ``sync`` can write: a field the source leaves empty is not
    cleared on the target, and the type of an existing secret is not changed (``drift``
    reports both)."""
    return [
        f
        for f in _metadata_differs(source, target)
        if f != "secret_type" and getattr(source.metadata, f) is not None
    ]


async def _values(
    vault: SecretVault, names: Iterable[str], user: str, digest: _Digest
) -> dict[str, str]:
    """name → keyed hash of the current value (each read audited on its side)."""
    out: dict[str, str] = {}
    for name in names:
        value, _ = await vault.get_secret(name, user=user)
        out[name] = digest(value)
    return out


async def drift(
    source: SecretVault, target: SecretVault, patterns: list[str], user: str
) -> list[Difference]:
    """Secrets missing on either side, or whose status, value or metadata differ, by name.
    Secrets in every status count for presence and status; values are compared where both
    sides can be read."""
    digest = _Digest()
    ours = _selected(await source.list_secrets(user=user), patterns)
    theirs = _selected(await target.list_secrets(user=user), patterns)
    out = [Difference(n, "missing_in_target") for n in sorted(ours.keys() - theirs.keys())]
    out += [Difference(n, "missing_in_source") for n in sorted(theirs.keys() - ours.keys())]
    both = sorted(ours.keys() & theirs.keys())
    readable = [n for n in both if ours[n].status in READABLE and theirs[n].status in READABLE]
    a = await _values(source, readable, user, digest)
    b = await _values(target, readable, user, digest)
    for name in both:
        if ours[name].status != theirs[name].status:
            states = [f"source {ours[name].status.value}", f"target {theirs[name].status.value}"]
            out.append(Difference(name, "status", states))
        elif name in a and a[name] != b[name]:
            out.append(Difference(name, "value"))
        changed = _metadata_differs(ours[name], theirs[name])
        if changed:
            out.append(Difference(name, "metadata", changed))
    return sorted(out, key=lambda d: (d.name, d.kind))


async def sync(
    source: SecretVault,
    target: SecretVault,
    patterns: list[str],
    user: str,
    *,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> SyncReport:
    """Copy current values and metadata of the selected secrets from ``source`` to
    ``target``; a failure on one secret is reported and the others go on."""
    digest = _Digest()
    report = SyncReport(dry_run=dry_run)
    ours = _selected(await source.list_secrets(user=user), patterns)
    theirs = {r.name: r for r in await target.list_secrets(user=user)}
    for name, record in sorted(ours.items()):
        if record.status not in READABLE:
            report.skipped[name] = record.status.value  # no value to copy: said, not hidden
            continue
        try:
            value, _ = await source.get_secret(name, user=user)
            existing = theirs.get(name)
            if existing is None:
                report.created.append(name)
                if not dry_run:
                    await target.store_secret(
                        record.secret_type, name, value, created_by=user, **_metadata(record)
                    )
            else:
                current, _ = await target.get_secret(name, user=user)
                changed = _copyable(record, existing)
                if digest(current) == digest(value) and not changed:
                    report.unchanged.append(name)
                else:
                    report.updated.append(name)
                    if not dry_run:
                        await _update(target, name, value, current, record, changed, user)
        except Exception as exc:  # one secret's failure must not stop the rest
            report.failed[name] = f"{type(exc).__name__}: {exc}"
        if progress is not None:
            progress(name)
    return report


def _metadata(record: SecretRecord) -> dict[str, Any]:
    md = record.metadata
    return {f: getattr(md, f) for f in SYNCED_METADATA}


async def _update(
    target: SecretVault,
    name: str,
    value: str,
    current: str,
    record: SecretRecord,
    changed: list[str],
    user: str,
) -> None:
    meta = {f: getattr(record.metadata, f) for f in changed}
    if meta:
        await target.update_metadata(name, user=user, **meta)
    if not hmac.compare_digest(current.encode(), value.encode()):
        await target.update_secret(name, value, user=user)
