"""``secretvault`` command line: the root app, global options and command registration.

Exit codes: 0 ok · 1 error / scan findings · 2 bad input (usage, name, value) or scan error ·
3 configuration · 4 not found · 5 already exists · 6 access denied · 7 expired, revoked or
pending deletion · 8 encryption/decryption (wrong key or altered data) · 9 master key ·
10 store unavailable (locked, unreadable, corrupt) · 11 audit · 12 rotation · 13 injection ·
14 version conflict · 130 interrupted.
"""

from __future__ import annotations

from pathlib import Path

import typer

from secretvault.cli import access, admin, audit, rotation, secrets, sync
from secretvault.cli.common import Options

app = typer.Typer(
    name="secretvault",
    help="Secrets management: an encrypted local vault, audit trail, RBAC and a secret scanner.\n\n"
    "Settings come from $MAHAVISHNU_SECRETS_MANAGEMENT__*, settings/local.yaml, "
    "settings/mahavishnu.yaml, then defaults (data/secrets/vault.db, data/secrets/master.key).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from secretvault import __version__

        typer.echo(f"secretvault {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    app_name: str = typer.Option(
        "mahavishnu", "--app", help="Settings namespace: env prefix APP_, settings/APP.yaml."
    ),
    settings_dir: Path = typer.Option(
        Path("settings"), "--settings-dir", help="Folder holding local.yaml and APP.yaml."
    ),
    vault_dir: Path | None = typer.Option(
        None,
        "--vault-dir",
        envvar="SECRETVAULT_DIR",
        help="Use DIR/vault.db and DIR/master.key instead of the configured paths.",
    ),
    user: str | None = typer.Option(
        None,
        "--user",
        envvar="SECRETVAULT_USER",
        help="Principal recorded in the audit trail and checked by RBAC [default: login name].",
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Global options; see each command's --help."""
    opts = Options(app=app_name, settings_dir=settings_dir, vault_dir=vault_dir, debug=debug)
    if user:
        opts.user = user
    ctx.obj = opts


secrets.register(app)
admin.register(app)
sync.register(app)
rotation.register(app)
app.add_typer(audit.app, name="audit")
app.add_typer(access.app, name="access")


def _register_scanner() -> None:
    from secretvault.cli import scan

    scan.register(app)


_register_scanner()


def _register_injection() -> None:
    """run, inject, render, export, import (cli/inject.py; docs/injection.md)."""
    from secretvault.cli import inject

    inject.register(app)


_register_injection()


if __name__ == "__main__":
    app()
