"""``secretvault sync`` and ``secretvault drift``: copy and compare secrets between backends.

``--from``/``--to`` take a backend name from settings (``backends:``) or a backend type
(``local``, ``postgres``, ``vault``, ``aws_secrets_manager``, ``azure_key_vault``).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from secretvault.cli.common import echo_json, fail, guard, json_option, options

if TYPE_CHECKING:
    from secretvault.sync import Difference, SyncReport

FROM = typer.Option(..., "--from", help="Source backend: a name under `backends:` or a type.")
TO = typer.Option(..., "--to", help="Target backend: a name under `backends:` or a type.")
FILTER = typer.Option(
    [], "--filter", help="Only secrets whose name matches this glob (repeat for several)."
)


def _pair(ctx: typer.Context, source: str, target: str, work: Any) -> Any:
    """Open both backends, run ``work(source_vault, target_vault, user)``, close both."""
    import asyncio

    from secretvault.sync import backend_config
    from secretvault.vault import SecretVault

    opts = options(ctx)

    async def main() -> Any:
        base = opts.config()
        a = SecretVault(backend_config(base, source), app=opts.app)
        b = SecretVault(backend_config(base, target), app=opts.app)
        await a.initialize(create=False)
        try:
            await b.initialize(create=True)
            try:
                return await work(a, b, opts.user)
            finally:
                await b.shutdown()
        finally:
            await a.shutdown()

    if source == target:
        raise fail("--from and --to name the same backend", 2)
    return guard(opts, lambda: asyncio.run(main()))


def cmd_sync(
    ctx: typer.Context,
    source: str = FROM,
    target: str = TO,
    patterns: list[str] = FILTER,
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; write nothing."),
    as_json: bool = json_option(),
) -> None:
    """Copy current values and metadata from one backend to another (idempotent, audited on
    both sides; values are never printed)."""
    from secretvault.sync import sync

    async def work(a: Any, b: Any, user: str) -> SyncReport:
        if not sys.stderr.isatty() or as_json:
            return await sync(a, b, patterns, user, dry_run=dry_run)
        from rich.progress import Progress

        names = await a.list_secrets(user=user)
        with Progress(transient=True) as bar:
            task = bar.add_task(f"{source} → {target}", total=len(names))
            return await sync(
                a, b, patterns, user, dry_run=dry_run, progress=lambda _: bar.advance(task)
            )

    report: SyncReport = _pair(ctx, source, target, work)
    if as_json:
        echo_json(report)
    else:
        verb = "would copy" if report.dry_run else "copied"
        typer.echo(
            f"{verb} {source} → {target}: {len(report.created)} created, "
            f"{len(report.updated)} updated, {len(report.unchanged)} unchanged, "
            f"{len(report.skipped)} skipped, {len(report.failed)} failed"
        )
        for name in report.created:
            typer.echo(f"  + {name}")
        for name in report.updated:
            typer.echo(f"  ~ {name}")
        for name, status in report.skipped.items():
            typer.echo(f"  - {name}: skipped, its value cannot be read ({status})")
        for name, why in report.failed.items():
            typer.echo(f"  ! {name}: {why}", err=True)
    if report.failed:
        raise SystemExit(1)


def cmd_drift(
    ctx: typer.Context,
    source: str = FROM,
    target: str = TO,
    patterns: list[str] = FILTER,
    as_json: bool = json_option(),
) -> None:
    """List secrets missing on either side or whose value (compared by a keyed hash, never
    shown) or metadata differ. Exit 1 when there is drift."""
    from secretvault.sync import drift

    async def work(a: Any, b: Any, user: str) -> list[Difference]:
        return await drift(a, b, patterns, user)

    found: list[Difference] = _pair(ctx, source, target, work)
    if as_json:
        echo_json(found)
    elif not found:
        typer.echo(f"no drift between {source} and {target}")
    else:
        for d in found:
            extra = f" ({', '.join(d.fields)})" if d.fields else ""
            typer.echo(f"{d.name}: {d.kind.replace('_', ' ')}{extra}")
    if found:
        raise SystemExit(1)


def register(app: typer.Typer) -> None:
    """Mount these commands on the root app."""
    app.command("sync")(cmd_sync)
    app.command("drift")(cmd_drift)
