"""Vault administration: init, backup, rekey, doctor."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from secretvault.cli.common import Options, echo_json, guard, json_option, options, run

if TYPE_CHECKING:
    from secretvault.backends.base import Check
    from secretvault.vault import SecretVault


def cmd_init(ctx: typer.Context) -> None:
    """Create the vault and its master key (0400) if they do not exist; safe to re-run."""
    opts = options(ctx)
    cfg = guard(opts, opts.config)
    existed = Path(cfg.storage_path).exists()

    async def go(vault: SecretVault) -> str:
        return vault.key_id

    key_id = run(ctx, go, create=True)
    verb = "opened existing" if existed else "created"
    typer.echo(f"{verb} vault {cfg.storage_path} (master key {cfg.master_key_path}, id {key_id})")
    if not existed:
        typer.echo(
            "back up the master key separately: without it the vault cannot be read", err=True
        )


def cmd_backup(
    ctx: typer.Context,
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Target file, never overwritten, written mode 0600 (default: "
        "data/secrets/backups/vault-<time>.db, or .pgdump on PostgreSQL).",
    ),
    list_only: bool = typer.Option(False, "--list", help="List existing backups instead."),
    as_json: bool = json_option(),
) -> None:
    """Consistent online backup of the vault; keeps the last backup_retention copies.

    Local vault (SQLite): a copy made with SQLite's backup API, vault-<time>.db.

    PostgreSQL: pg_dump --format=custom --no-owner of postgres_schema,
    vault-<time>.pgdump (the whole vault with default_backend: postgres; the
    key ring, grants and audit trail with audit_backend: postgres). Needs
    pg_dump of the server's major version or newer (Debian: postgresql-client).
    The password reaches pg_dump only through its environment, never argv.
    For high availability and point-in-time recovery use PostgreSQL's own
    replication and WAL archiving (docs/multi-host.md, "Backups").

    A backup holds only ciphertext: back up the master key separately.
    """
    opts = options(ctx)
    if list_only:
        from secretvault.backends.base import BACKUP_SUFFIXES, backups_folder

        folder = backups_folder(guard(opts, opts.config).storage_path)
        found = [
            (p, p.stat().st_size)
            for p in sorted(folder.glob("vault-*"))
            if p.suffix in BACKUP_SUFFIXES and p.is_file()
        ]
        if as_json:
            echo_json([{"path": str(p.resolve()), "bytes": n} for p, n in found])
            return
        for path, size in found:
            typer.echo(f"{path}  {size} bytes")
        return

    async def go(vault: SecretVault) -> Path:
        return await vault.backup(output, user=opts.user)

    written = run(ctx, go)
    if as_json:
        echo_json({"path": str(written.resolve())})
        return
    typer.echo(f"backup written to {written}")
    typer.echo("restore with: secretvault restore --from-backup FILE", err=True)


def cmd_rekey(
    ctx: typer.Context,
    yes: bool = typer.Option(False, "--yes", "-y"),
    as_json: bool = json_option(),
) -> None:
    """Rotate the master key: re-encrypt every version under a new key in one transaction."""
    if not yes:
        typer.confirm("Generate a new master key and re-encrypt every secret?", abort=True)
    user = options(ctx).user

    async def go(vault: SecretVault) -> tuple[str, str]:
        old = vault.key_id
        return old, await vault.rekey(user=user)

    old, new = run(ctx, go)
    from secretvault.crypto.keyring import retired_key_name

    if as_json:
        echo_json({"old_key_id": old, "new_key_id": new, "retired_key": retired_key_name(old)})
        return
    typer.echo(
        f"master key rotated: {old} -> {new}; old key kept in backups/{retired_key_name(old)}"
    )


def cmd_doctor(ctx: typer.Context, as_json: bool = json_option()) -> None:
    """Check settings layers, the backend end to end, key permissions, key matches data, DB
    integrity and the audit chain; print the fix for each failure. Exit 1 if any check fails."""
    from secretvault.backends.base import Check
    from secretvault.config import layers_in_effect
    from secretvault.models import BackendType

    opts = options(ctx)
    checks: list[Check] = []

    def report(ok: bool, text: str, fix: str | None = None) -> None:
        checks.append(Check(ok, text, fix))
        if not as_json:
            typer.echo(f"[{'ok' if ok else 'FAIL'}] {text}")
            if not ok and fix:
                typer.echo(f"       fix: {fix}")

    def finish() -> NoReturn:
        failed = sum(not c.ok for c in checks)
        if as_json:
            echo_json(
                {
                    "settings_layers": layers,
                    "backend": cfg.default_backend.value,
                    "ok": not failed,
                    "checks": checks,
                }
            )
        raise typer.Exit(1 if failed else 0)

    layers = [str(layer) for layer in layers_in_effect(opts.app, opts.settings_dir)]
    cfg = guard(opts, opts.config)
    if not as_json:
        typer.echo("settings layers (highest first):")
        for layer in layers:
            typer.echo(f"  - {layer}")
        typer.echo(f"backend: {cfg.default_backend.value}")
    for check in asyncio.run(_check_backend(opts)):
        report(check.ok, check.text, check.fix)
    key_path, db_path = Path(cfg.master_key_path), Path(cfg.storage_path)
    if cfg.storage.encryption_key or cfg.storage.passphrase:
        report(True, "master key comes from settings (storage.encryption_key / passphrase)")
    elif key_path.exists():
        mode = stat.S_IMODE(key_path.stat().st_mode)
        report(
            not mode & 0o077,
            f"master key {key_path} mode {mode:04o} (want 0400)",
            f"chmod 400 {key_path}",
        )
    else:
        report(False, f"master key {key_path} is missing", "restore it from your key backup")
    if cfg.default_backend == BackendType.LOCAL:  # a file this host owns: check it exists
        if not db_path.exists():
            report(False, f"vault database {db_path} is missing", "run `secretvault init`")
            finish()
        mode = stat.S_IMODE(db_path.stat().st_mode)
        report(
            not mode & 0o077,
            f"vault database {db_path} mode {mode:04o} (want 0600)",
            f"chmod 600 {db_path}",
        )
    report(*asyncio.run(_check_open(opts)))
    finish()


async def _check_backend(opts: Options) -> list[Check]:
    """End-to-end checks of a server-backed store (none for the local one: it is a file,
    checked below)."""
    from secretvault.backends.base import Check, DiagnosableStore
    from secretvault.backends.registry import build_secret_store
    from secretvault.errors import SecretVaultError

    try:
        store = build_secret_store(opts.config())
    except SecretVaultError as exc:
        return [Check(False, Exception.__str__(exc), exc.hint)]
    if not isinstance(store, DiagnosableStore):
        return []
    try:
        return await store.diagnose()
    finally:
        await store.close()


async def _check_open(opts: Options) -> tuple[bool, str]:
    from secretvault.errors import SecretVaultError
    from secretvault.vault import SecretVault

    vault = SecretVault(opts.config(), app=opts.app)
    try:
        await vault.initialize(create=False)
    except SecretVaultError as exc:
        return False, f"opening the vault: {exc}"
    try:
        if vault.is_file_backed:
            integrity = await vault.integrity_check()
            if integrity != "ok":
                return False, f"database integrity: {integrity}"
        chain = await vault.verify_audit()
        if not chain.ok:
            return False, f"audit chain broken{chain.problem}"
        integrity = "; integrity ok" if vault.is_file_backed else ""
        return True, (
            f"key {vault.key_id} matches the data{integrity}; audit chain of "
            f"{chain.checked} entries verifies"
        )
    finally:
        await vault.shutdown()


def register(app: typer.Typer) -> None:
    """Mount these commands on the root app."""
    for name, fn in (
        ("init", cmd_init),
        ("backup", cmd_backup),
        ("rekey", cmd_rekey),
        ("doctor", cmd_doctor),
    ):
        app.command(name)(fn)
