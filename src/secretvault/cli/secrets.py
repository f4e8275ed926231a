"""Commands on secrets: set, get, list, history, update, rotate, delete, restore, purge, revoke."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from secretvault.cli.common import echo_json, fail, json_option, options, read_value, run
from secretvault.models import SecretStatus, SecretType

if TYPE_CHECKING:
    from secretvault.models import RotationResult, SecretRecord, SecretVersionInfo
    from secretvault.vault import SecretVault

FROM_FILE = typer.Option(None, "--from-file", help="Read the value from this file.")
STDIN = typer.Option(False, "--stdin", help="Read the value from standard input.")


def cmd_set(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Secret name: letters, digits, '-', '_', '.'."),
    secret_type: SecretType = typer.Option(SecretType.API_KEY, "--type", "-t"),
    description: str = typer.Option("", "--description", "-d"),
    tag: list[str] = typer.Option([], "--tag", help="Repeat for several tags."),
    service: str | None = typer.Option(None, "--service"),
    rotation_days: int | None = typer.Option(None, "--rotation-days", min=1, max=365),
    expires_at: datetime | None = typer.Option(None, "--expires-at", help="ISO date/time."),
    environment: str | None = typer.Option(None, "--environment"),
    from_file: Path | None = FROM_FILE,
    stdin: bool = STDIN,
    as_json: bool = json_option(),
) -> None:
    """Store a new secret. The value comes from --from-file, stdin, or a hidden prompt."""
    value = read_value(from_file, stdin)
    user = options(ctx).user

    async def go(vault: SecretVault) -> str:
        return await vault.store_secret(
            secret_type,
            name,
            value,
            description=description,
            tags=tag,
            service=service,
            rotation_days=rotation_days,
            expires_at=expires_at,
            created_by=user,
            environment=environment,
        )

    secret_id = run(ctx, go, create=True)
    if as_json:
        echo_json({"name": name, "id": secret_id, "version": 1})
        return
    typer.echo(f"stored {name} (id {secret_id[:12]}…, version 1)", err=True)


def cmd_get(
    ctx: typer.Context,
    name: str,
    version: int | None = typer.Option(None, "--version", "-v", min=1, help="An older version."),
    as_json: bool = typer.Option(False, "--json", help="Value and metadata as JSON."),
) -> None:
    """Print a secret's value (plain, for piping) or, with --json, value and metadata."""
    user = options(ctx).user

    async def go(vault: SecretVault) -> tuple[str, object]:
        return await vault.get_secret(name, user=user, version=version)

    value, record = run(ctx, go)
    if as_json:
        echo_json({"name": name, "value": value, "record": record})
    else:
        sys.stdout.write(value + ("\n" if sys.stdout.isatty() else ""))


def cmd_list(
    ctx: typer.Context,
    status: SecretStatus | None = typer.Option(None, "--status"),
    secret_type: SecretType | None = typer.Option(None, "--type", "-t"),
    tag: list[str] = typer.Option([], "--tag", help="Only secrets with every given tag."),
    service: str | None = typer.Option(None, "--service"),
    environment: str | None = typer.Option(None, "--environment"),
    as_json: bool = json_option(),
) -> None:
    """List secrets (names and metadata, never values)."""
    user = options(ctx).user

    async def go(vault: SecretVault) -> list[SecretRecord]:
        return await vault.list_secrets(status, secret_type, tag, service, environment, user)

    records = run(ctx, go)
    if as_json:
        echo_json(records)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "type", "status", "version", "service", "tags", "updated", box=None)
    for r in records:
        md = r.metadata
        table.add_row(
            r.name,
            r.secret_type.value,
            r.status.value,
            str(md.version),
            md.service or "",
            ",".join(md.tags),
            md.updated_at.strftime("%Y-%m-%d %H:%M"),
        )
    Console().print(table if records else "no secrets")


def cmd_history(ctx: typer.Context, name: str, as_json: bool = json_option()) -> None:
    """List the stored versions of a secret (newest first)."""
    user = options(ctx).user

    async def go(vault: SecretVault) -> list[SecretVersionInfo]:
        return await vault.history(name, user=user)

    versions = run(ctx, go)
    if as_json:
        echo_json(versions)
        return
    for v in versions:
        stage = f" [{v.stage}]" if v.stage else ""
        typer.echo(f"v{v.version}{stage}  {v.created_at:%Y-%m-%d %H:%M:%S}  by {v.created_by}")
    rotation_history(ctx, name)


def rotation_history(ctx: typer.Context, name: str) -> None:
    """Each rotation's outcome from the audit trail (admins only when RBAC is on)."""
    from secretvault.cli.rotation import print_rotations
    from secretvault.errors import AuthorizationError

    user = options(ctx).user

    async def go(vault: SecretVault) -> list[Any]:
        try:
            return (await vault.get_access_log(name, user=user)).entries
        except AuthorizationError:
            return []

    print_rotations(run(ctx, go))


def cmd_update(
    ctx: typer.Context,
    name: str,
    from_file: Path | None = FROM_FILE,
    stdin: bool = STDIN,
    metadata_only: bool = typer.Option(
        False, "--metadata-only", help="Change only the metadata options below; no new value."
    ),
    description: str | None = typer.Option(None, "--description", "-d"),
    tag: list[str] = typer.Option([], "--tag", help="Replace the tags (repeat)."),
    service: str | None = typer.Option(None, "--service"),
    rotation_days: int | None = typer.Option(None, "--rotation-days", min=1, max=365),
    expires_at: datetime | None = typer.Option(None, "--expires-at"),
    environment: str | None = typer.Option(None, "--environment"),
    status: SecretStatus | None = typer.Option(
        None,
        "--status",
        help="Set the status (admin), e.g. 'active' to reinstate a revoked secret.",
    ),
    as_json: bool = json_option(),
) -> None:
    """Write a new version of a secret, and/or change its metadata."""
    user = options(ctx).user
    value = None if metadata_only else read_value(from_file, stdin, "New value")
    meta: dict[str, Any] = dict(
        status=status,
        description=description,
        tags=tag or None,
        service=service,
        rotation_days=rotation_days,
        expires_at=expires_at,
        environment=environment,
    )

    async def go(vault: SecretVault) -> SecretRecord:
        record = None
        # Metadata first: a new --expires-at must be in place before the value is written.
        if any(v is not None for v in meta.values()):
            record = await vault.update_metadata(name, user=user, **meta)
        if value is not None:
            record = await vault.update_secret(name, value, user=user)
        if record is None:
            raise fail("nothing to update: give a value or a metadata option", 2)
        return record

    record = run(ctx, go)
    if as_json:
        echo_json(record)
        return
    typer.echo(f"updated {name} (version {record.metadata.version})", err=True)


def cmd_rotate(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="Secret to rotate (omit with --due)."),
    due: bool = typer.Option(False, "--due", help="Rotate every due secret (one pass, for cron)."),
    store_only: bool = typer.Option(
        False, "--store-only", help="Acknowledge that no rotator tells the target (no warning)."
    ),
    generate: bool = typer.Option(
        True, "--generate/--value", help="Generate the new value, or read it (file/stdin/prompt)."
    ),
    from_file: Path | None = FROM_FILE,
    stdin: bool = STDIN,
    verify: bool = typer.Option(True, "--verify/--no-verify"),
    rollback: bool = typer.Option(True, "--rollback/--no-rollback"),
    as_json: bool = json_option(),
) -> None:
    """Rotate: stage a new version, apply it to its target (a rotator), verify it, promote it
    (failure keeps the current one). --due rotates every due secret and exits 12 on a failure."""
    from secretvault.cli.rotation import rotate_due, warn_store_only

    if due:
        if name is not None:
            raise fail("give a NAME or --due, not both", 2)
        rotate_due(ctx, as_json)
        return
    if name is None:
        raise fail("missing NAME", 2, hint="`secretvault rotate NAME`, or --due for every due one")
    user = options(ctx).user
    explicit = from_file is not None or stdin or not generate
    new_value = read_value(from_file, stdin, "New value") if explicit else None

    async def go(vault: SecretVault) -> RotationResult:
        return await vault.rotate_secret(name, new_value, verify, rollback, user=user)

    result = run(ctx, go, loop=True)
    warn_store_only(result, "credential", store_only)
    if as_json:
        echo_json(result)
        if not result.success:
            raise SystemExit(12)
        return
    if result.success:
        typer.echo(f"rotated {name}: v{result.old_version} -> v{result.new_version}", err=True)
        return
    note = " (rolled back)" if result.rolled_back else ""
    if result.restored is not None:
        note += "; previous credential restored" if result.restored else ""
    raise fail(f"rotation of {name} failed at {result.error}{note}", 12)


def cmd_delete(
    ctx: typer.Context,
    name: str,
    hard: bool = typer.Option(False, "--hard", help="Delete permanently (no recovery)."),
    recovery_days: int | None = typer.Option(None, "--recovery-days", min=0),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Soft-delete a secret (restorable during the recovery window), or --hard delete it."""
    user = options(ctx).user
    if hard and not yes:
        typer.confirm(f"Permanently delete {name} and all its versions?", abort=True)

    async def go(vault: SecretVault) -> str:
        if hard:
            if not await vault.delete_secret(name, user=user):
                raise fail(f"secret {name!r} not found", 4)
            return f"deleted {name} permanently"
        rec = await vault.soft_delete_secret(name, user=user, recovery_window_days=recovery_days)
        return f"{name} is pending deletion until {rec.purge_after:%Y-%m-%d %H:%M} UTC"

    typer.echo(run(ctx, go), err=True)


def cmd_restore(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="Secret to restore from pending deletion."),
    from_backup: Path | None = typer.Option(
        None,
        "--from-backup",
        help="Restore the whole vault from this file of `secretvault backup` instead "
        "(.db for a local vault, .pgdump on PostgreSQL).",
    ),
    yes: bool = typer.Option(False, "--yes", "-y"),
) -> None:
    """Restore a soft-deleted secret, or the whole vault from a backup (current state saved).

    --from-backup checks the backup first: it must open under this vault's
    master key (or a retired key that rekey kept in backups/). Then the
    current state is saved as a new backup, so nothing is lost.

    Local vault: the .db copy replaces the database, also when the database is
    too damaged to open.

    PostgreSQL: pg_restore --clean --if-exists --no-owner --single-transaction
    of the .pgdump into postgres_schema; every host sees the old contents or
    the new ones. The server must be reachable (on a new, empty database run
    `secretvault init` first) and the role must own the schema's tables.
    """
    user = options(ctx).user
    if (name is None) == (from_backup is None):
        raise fail("give either a secret NAME or --from-backup FILE", 2)
    if from_backup is not None and not yes:
        typer.confirm(f"Replace the vault's contents with {from_backup}?", abort=True)

    async def go(vault: SecretVault) -> str:
        if from_backup is not None:
            saved = await vault.restore(from_backup, user=user)
            return f"restored vault from {from_backup}; previous state saved as {saved}"
        assert name is not None  # checked above: NAME or --from-backup
        await vault.restore_secret(name, user=user)
        return f"restored {name}"

    if from_backup is not None and _is_local_file(ctx) and not _vault_opens(ctx):
        typer.echo(_restore_damaged(ctx, from_backup), err=True)
        return
    typer.echo(run(ctx, go), err=True)


def _is_local_file(ctx: typer.Context) -> bool:
    """True when the vault is a local SQLite file: only then can a vault that does not open be
    restored by replacing the file (a server's vault must be reachable to be restored)."""
    from secretvault.backends.registry import control_backend
    from secretvault.cli.common import guard
    from secretvault.models import BackendType

    opts = options(ctx)
    return guard(opts, lambda: control_backend(opts.config())) == BackendType.LOCAL


def _vault_opens(ctx: typer.Context) -> bool:
    """False when the database is missing or too damaged to open (restore takes another path)."""
    import asyncio

    from secretvault.errors import BackendUnavailableError, SecretNotFoundError
    from secretvault.vault import SecretVault

    async def probe() -> None:
        vault = SecretVault(options(ctx).config())
        await vault.initialize(create=False)
        await vault.shutdown()

    try:
        asyncio.run(probe())
    except (BackendUnavailableError, SecretNotFoundError):
        return False
    except Exception:
        return True  # other problems (wrong key, ...) are reported by the normal path
    return True


def _restore_damaged(ctx: typer.Context, source: Path) -> str:
    import asyncio

    from secretvault.cli.common import guard
    from secretvault.restore import restore_unopenable_vault

    opts = options(ctx)
    damaged = guard(
        opts,
        lambda: asyncio.run(restore_unopenable_vault(opts.config(), source, opts.user)),
    )
    kept = f"; the damaged database is kept as {damaged}" if damaged else ""
    return f"restored vault from {source}{kept}"


def cmd_purge(
    ctx: typer.Context,
    name: str | None = typer.Argument(None),
    expired: bool = typer.Option(False, "--expired", help="Purge every secret past its window."),
    yes: bool = typer.Option(False, "--yes", "-y"),
) -> None:
    """Permanently remove a secret that is pending deletion (or all whose window ended)."""
    user = options(ctx).user
    if (name is not None) == expired:
        raise fail("give either a secret NAME or --expired", 2)
    if name is not None and not yes:
        typer.confirm(f"Permanently purge {name}?", abort=True)

    async def go(vault: SecretVault) -> str:
        if expired:
            gone = await vault.purge_expired_deletions(user=user)
            return f"purged {len(gone)} secret(s)" + (f": {', '.join(gone)}" if gone else "")
        assert name is not None  # checked above: NAME or --expired
        await vault.purge_secret(name, user=user)
        return f"purged {name}"

    typer.echo(run(ctx, go), err=True)


def cmd_revoke(
    ctx: typer.Context, name: str, reason: str | None = typer.Option(None, "--reason")
) -> None:
    """Revoke a secret: every further read is denied (and audited)."""
    user = options(ctx).user

    async def go(vault: SecretVault) -> None:
        await vault.revoke_secret(name, user=user, reason=reason)

    run(ctx, go)
    typer.echo(f"revoked {name}", err=True)


def register(app: typer.Typer) -> None:
    """Mount these commands on the root app."""
    for name, fn in (
        ("set", cmd_set),
        ("get", cmd_get),
        ("list", cmd_list),
        ("history", cmd_history),
        ("update", cmd_update),
        ("rotate", cmd_rotate),
        ("delete", cmd_delete),
        ("restore", cmd_restore),
        ("purge", cmd_purge),
        ("revoke", cmd_revoke),
    ):
        app.command(name)(fn)
