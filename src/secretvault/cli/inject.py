"""Commands that deliver secrets to programs: run, inject, render, export, import.

docs/injection.md is the guide. Values never pass through argv: ``run`` puts them in the
child's environment only, ``inject``/``render`` write owner-only files atomically, ``export``
refuses a terminal without ``--reveal``, ``import`` echoes names, never values.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from secretvault.cli.common import fail, guard, options, run

if TYPE_CHECKING:
    from secretvault.vault import SecretVault

RUN_HELP = """Run a command with secrets in its environment (only there: not argv, not disk).

\b
  secretvault run --env OPENAI_API_KEY=openai-api-key -- python app.py
  secretvault run --target my-app -- ./server          # every ENV binding of my-app
  secretvault run --env-file .env -- ./server          # .env lines VAR=secret://name(#N)
  secretvault run --target my-app --watch -- ./server  # restart when a secret changes
  secretvault run --env DB_PW=db-password --redact -- ./job   # mask values in its output

The command's exit status is passed through; SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1/2 are
forwarded to it. With --watch --signal HUP the child is signalled instead of restarted.
"""


def cmd_run(
    ctx: typer.Context,
    command: list[str] = typer.Argument(..., help="The command and its arguments, after --."),
    env: list[str] = typer.Option(
        [], "--env", "-e", help="VAR=secret-name(#N) (repeat). Names only, never values."
    ),
    env_file: Path | None = typer.Option(
        None,
        "--env-file",
        help=".env file; values secret://name(#N) are read from the vault.",
    ),
    target: str | None = typer.Option(
        None, "--target", help="Give the child every ENV binding recorded for this target."
    ),
    watch: bool = typer.Option(
        False, "--watch", help="Keep watching; restart the child when one of its secrets changes."
    ),
    on_change: str | None = typer.Option(
        None, "--signal", help="With --watch: send this signal (e.g. HUP) instead of restarting."
    ),
    redact: bool = typer.Option(
        False, "--redact", help="Mask the secrets' values in the child's stdout and stderr."
    ),
) -> None:
    from secretvault.cli.run_cmd import execute

    opts = options(ctx)
    raise typer.Exit(execute(opts, command, env, env_file, target, redact, watch, on_change))


def cmd_inject(
    ctx: typer.Context,
    target: str = typer.Option(..., "--target", help="The target whose bindings to apply."),
    watch: bool = typer.Option(
        False,
        "--watch",
        help="Keep running: re-write files, re-render templates and send the bindings' "
        "signals whenever a bound secret changes (like Vault Agent).",
    ),
) -> None:
    """Apply every binding of a target: write its files and render its templates.

    Bindings are recorded by inject_secret(..., target=T) — FILE_MOUNT (file_path),
    TEMPLATE_REFERENCE (the template is file_path, or the one an earlier injection bound to T),
    DYNAMIC_UPDATE (signal/pid/pidfile to notify). ENV bindings are applied by
    `secretvault run --target T`.
    """
    opts = options(ctx)

    async def go(vault: SecretVault) -> list[Path]:
        return await vault.injection.apply_target(target, opts.user)

    if not watch:
        for path in run(ctx, go):
            typer.echo(f"wrote {path}", err=True)
        return
    import asyncio

    from secretvault.vault import SecretVault

    async def main() -> None:
        vault = SecretVault(opts.config(), app=opts.app)
        await vault.initialize(create=False)
        try:
            for path in await go(vault):
                typer.echo(f"wrote {path}", err=True)
            await vault.injection.follow(target, opts.user)
            typer.echo(f"watching {target}; ^C to stop", err=True)
            await asyncio.Event().wait()
        finally:
            await vault.shutdown()

    guard(opts, lambda: asyncio.run(main()))


def cmd_render(
    ctx: typer.Context,
    template: Path = typer.Argument(..., help="The template file."),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Where to write (default: <stem>.injected<suffix>, beside the template).",
    ),
    target: str | None = typer.Option(
        None, "--target", help="Use this target's placeholder → secret mappings."
    ),
) -> None:
    """Render a template's placeholders from the vault into an owner-only (0400) file.

    \b
    Placeholders:  {{ POSTGRES_PASSWORD }}   the secret postgres-password (or POSTGRES_PASSWORD,
                                             or the one a --target binding maps it to)
                   {{ secret "db-password" }} the secret db-password
    Filters:       | yaml  | json  | shell  | env  | raw — quote the value for that syntax.
                   Without one, .yaml/.yml/.json/.env/.sh outputs are quoted for their kind.

    All or nothing: if any placeholder cannot be resolved, all of them are named and nothing
    is written.
    """
    opts = options(ctx)

    async def go(vault: SecretVault) -> Path:
        out, _ = await vault.injection.render_file(
            template.absolute(), output, target=target, user=opts.user
        )
        return out

    typer.echo(f"wrote {run(ctx, go)}", err=True)


def cmd_export(
    ctx: typer.Context,
    fmt: str = typer.Option("dotenv", "--format", "-f", help="dotenv | json | k8s | docker-env."),
    name: list[str] = typer.Option([], "--name", help="Only these secrets (repeat)."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write to this file (0600, atomic) instead of stdout."
    ),
    k8s_name: str = typer.Option(
        "mahavishnu-secrets", "--k8s-name", help="metadata.name of the Kubernetes Secret."
    ),
    reveal: bool = typer.Option(False, "--reveal", help="Allow printing values to a terminal."),
) -> None:
    """Write secrets in another tool's format: dotenv, json, a Kubernetes Secret (base64
    data), or docker --env-file lines. Refuses to print to a terminal without --reveal."""
    from secretvault.injection.exports import FORMATS, export

    opts = options(ctx)
    if fmt not in FORMATS:
        raise fail(f"unknown format {fmt!r}", 2, f"use one of {', '.join(FORMATS)}")
    if output is None and sys.stdout.isatty() and not reveal:
        raise fail(
            "refusing to print secret values to a terminal",
            2,
            "redirect to a file or pipe, use -o FILE, or pass --reveal",
        )

    async def go(vault: SecretVault) -> dict[str, str]:
        from secretvault.models import SecretStatus

        # every readable secret by default: revoked, expired and deleted ones are not exported
        active = await vault.list_secrets(status=SecretStatus.ACTIVE, user=opts.user)
        names = name or [r.name for r in active]
        return {n: (await vault.get_secret(n, user=opts.user))[0] for n in names}

    values = run(ctx, go)
    text = guard(opts, lambda: export(values, fmt, k8s_name))
    if output is None:
        sys.stdout.write(text)
        return
    from secretvault.injection.files import atomic_write

    config = opts.config()
    guard(
        opts,
        lambda: atomic_write(
            output, text.encode("utf-8"), 0o600, scan_on_write=config.scan_on_write
        ),
    )
    typer.echo(f"wrote {len(values)} secrets to {output}", err=True)


def cmd_import(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A .env file, a JSON object, or a Kubernetes Secret."),
    update: bool = typer.Option(
        False, "--update", help="Write a new version of secrets that already exist."
    ),
) -> None:
    """Bring existing secrets under management (types guessed from names and values).

    .env variables become lower-case dashed names (OPENAI_API_KEY → openai-api-key); JSON keys
    and Kubernetes data keys are kept. Only names are echoed, never values.
    """
    from secretvault.injection.exports import guess_type, parse_import

    opts = options(ctx)

    def parse() -> dict[str, str]:
        from secretvault.validation import validate_name, validate_value

        found = parse_import(file)
        for secret, value in found.items():  # all checked before anything is stored
            validate_name(secret)
            validate_value(value)
        return found

    values = guard(opts, parse)

    async def go(vault: SecretVault) -> tuple[list[str], list[str], list[str]]:
        from secretvault.errors import SecretAlreadyExistsError

        added: list[str] = []
        updated: list[str] = []
        skipped: list[str] = []
        for secret, value in sorted(values.items()):
            try:
                await vault.store_secret(
                    guess_type(secret, value),
                    secret,
                    value,
                    created_by=opts.user,
                    description=f"imported from {file.name}",
                )
                added.append(secret)
            except SecretAlreadyExistsError:
                if update:
                    await vault.update_secret(secret, value, user=opts.user)
                    updated.append(secret)
                else:
                    skipped.append(secret)
        return added, updated, skipped

    added, updated, skipped = run(ctx, go, create=True)
    for label, names in (("imported", added), ("updated", updated), ("skipped", skipped)):
        if names:
            typer.echo(f"{label} {len(names)}: {', '.join(names)}", err=True)
    if skipped:
        typer.echo("hint: existing secrets were left alone; --update writes new versions", err=True)


def register(app: typer.Typer) -> None:
    """Add the injection commands to the root app."""
    app.command(
        "run",
        help=RUN_HELP,
        context_settings={"allow_interspersed_args": False},
    )(cmd_run)
    app.command("inject")(cmd_inject)
    app.command("render")(cmd_render)
    app.command("export")(cmd_export)
    app.command("import")(cmd_import)
