"""Rotation commands beyond a single ``rotate NAME``: ``rotate --due`` (one scheduler pass, for
cron), ``scheduler`` (long-running), and the rotation part of ``history`` (docs/rotation.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from secretvault.cli.common import echo_json, options, run

if TYPE_CHECKING:
    from secretvault.models import AccessLogEntry, RotationResult
    from secretvault.rotation.scheduler import PassReport
    from secretvault.vault import SecretVault

#: Audit actions that end a rotation (the outcome ``history`` shows).
OUTCOMES = ("rotate", "rotate_rollback", "rotate_recovered", "rotate_restore")

STORE_ONLY_WARNING = (
    "warning: only the stored value of {name} changed — no rotator matches it, so nothing "
    "told the system that checks this {type} (configure rotation.rotators, or pass "
    "--store-only to acknowledge)"
)


def warn_store_only(result: RotationResult, secret_type: str, store_only: bool) -> None:
    """The store-only warning for one rotation, unless acknowledged."""
    if result.success and result.target_untouched and not store_only:
        typer.echo(STORE_ONLY_WARNING.format(name=result.secret_name, type=secret_type), err=True)


def rotate_due(ctx: typer.Context, as_json: bool) -> None:
    """One scheduler pass: progress bar, summary table, exit 12 if any rotation failed."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    user = options(ctx).user

    async def go(vault: SecretVault) -> PassReport:
        scheduler = vault.scheduler()
        with Progress(console=console, transient=True, disable=as_json) as bar:
            task = bar.add_task("rotating due secrets", total=None)

            def step(name: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, description=name)

            return await scheduler.run_once(user=user, progress=step)

    report = run(ctx, go, loop=True)
    if as_json:
        echo_json(
            {
                "rotated": report.rotated,
                "failed": report.failed,
                "skipped": report.skipped,
                "expired": report.expired,
                "expiring": [{"name": n, "expires_at": e} for n, e in report.expiring],
            }
        )
    else:
        print_report(console, report)
    if not report.ok:
        raise SystemExit(12)


def print_report(console: Any, report: PassReport) -> None:
    """The summary table of one pass."""
    from rich.table import Table

    table = Table(title="rotation pass", show_lines=False)
    for column in ("secret", "outcome", "versions", "step", "detail"):
        table.add_column(column)
    for r in report.rotated:
        table.add_row(
            r.secret_name,
            "rotated",
            f"v{r.old_version} → v{r.new_version}",
            r.step or "",
            r.rotator or "store only",
        )
    for r in report.failed:
        outcome = "failed, rolled back" if r.rolled_back else "failed"
        table.add_row(
            r.secret_name, outcome, f"v{r.old_version}", r.failed_step or "", r.error or ""
        )
    for name in report.skipped:
        table.add_row(name, "skipped", "", "", "claimed by another scheduler or no longer due")
    for name in report.expired:
        table.add_row(name, "expired", "", "", "past expires_at: marked EXPIRED")
    for name, when in report.expiring:
        table.add_row(name, "expiring", "", "", f"expires {when:%Y-%m-%d %H:%M} UTC")
    if table.row_count:
        console.print(table)
    console.print(
        f"{len(report.rotated)} rotated, {len(report.failed)} failed, "
        f"{len(report.skipped)} skipped, {len(report.expired)} expired, "
        f"{len(report.expiring)} expiring soon"
    )


def cmd_scheduler(
    ctx: typer.Context,
    interval: int | None = typer.Option(
        None, "--interval", min=1, help="Seconds between passes [default: rotation setting]."
    ),
    once: bool = typer.Option(False, "--once", help="Run one pass and exit."),
) -> None:
    """Rotate due secrets pass after pass until SIGTERM/SIGINT (the pass in progress finishes)."""
    import asyncio
    import signal

    from rich.console import Console

    console = Console(stderr=True)

    async def go(vault: SecretVault) -> bool:
        stop = asyncio.Event()
        if once:
            stop.set()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        every = interval or vault.config.rotation_scheduler_interval_seconds
        failed = False

        def report(r: PassReport) -> None:
            nonlocal failed
            failed = failed or not r.ok
            print_report(console, r)

        console.print(f"scheduler: a pass every {every}s (SIGTERM stops)")
        await vault.scheduler().run(stop, every, report)
        console.print("scheduler: stopped")
        return failed

    if run(ctx, go, loop=True) and once:
        raise SystemExit(12)


def rotation_events(entries: list[AccessLogEntry]) -> list[AccessLogEntry]:
    """The entries that say how each rotation ended (and rotations refused at the start)."""
    return [
        e for e in entries if e.action in OUTCOMES or (e.action == "rotate_start" and not e.success)
    ]


def print_rotations(entries: list[AccessLogEntry]) -> None:
    """``history NAME``'s rotation section: who, when, outcome, failed step."""
    events = rotation_events(entries)
    if not events:
        typer.echo("rotations: none")
        return
    typer.echo("rotations:")
    for e in events:
        outcome = {
            "rotate": "rotated",
            "rotate_rollback": "rolled back",
            "rotate_recovered": "recovered after a crash",
            "rotate_restore": "target restored" if e.success else "target restore FAILED",
            "rotate_start": "refused",
        }[e.action]
        detail = f"  ({e.reason})" if e.reason else ""
        typer.echo(f"  {e.timestamp:%Y-%m-%d %H:%M:%S}  by {e.user}  {outcome}{detail}")


def register(app: typer.Typer) -> None:
    """Mount the scheduler command on the root app."""
    app.command("scheduler")(cmd_scheduler)
