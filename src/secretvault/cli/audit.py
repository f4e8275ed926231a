"""``secretvault audit``: read, verify, export and prune the hash-chained access log."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from secretvault.audit.chain import entry_label
from secretvault.cli.common import echo_json, fail, json_option, options, run

if TYPE_CHECKING:
    from secretvault.audit.chain import ChainReport
    from secretvault.models import AccessLog
    from secretvault.vault import SecretVault

app = typer.Typer(help="The audit trail: log, verify, export, purge.", no_args_is_help=True)


@app.command("log")
def log(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="Only this secret's entries."),
    limit: int = typer.Option(50, "--limit", "-n", help="Show the last N entries (0: all)."),
    as_json: bool = json_option(),
) -> None:
    """Show audit entries: time, user, action, secret, success, reason."""
    user = options(ctx).user

    async def go(vault: SecretVault) -> AccessLog:
        return await vault.get_access_log(name, user=user)

    access_log = run(ctx, go)
    entries = access_log.entries[-limit:] if limit else access_log.entries
    if as_json:
        echo_json(access_log.model_copy(update={"entries": entries}))
        return
    typer.echo(
        f"{access_log.total_accesses} entries, {access_log.failed_accesses} failed"
        + (f" (showing last {len(entries)})" if len(entries) < access_log.total_accesses else "")
    )
    for e in entries:
        mark = "ok  " if e.success else "FAIL"
        what = e.secret_name or "-"
        why = f"  ({e.reason})" if e.reason else ""
        typer.echo(
            f"{entry_label(e.lane, e.seq):>6} {e.timestamp:%Y-%m-%d %H:%M:%S} {mark} {e.user:<16} "
            f"{e.action:<14} {what}{why}"
        )


@app.command("verify")
def verify(ctx: typer.Context, as_json: bool = json_option()) -> None:
    """Check the hash chain: exit 11 if any entry was edited, deleted, inserted or reordered."""

    async def go(vault: SecretVault) -> ChainReport:
        return await vault.verify_audit()

    report = run(ctx, go)
    if as_json:
        echo_json(report)
        if not report.ok:
            raise SystemExit(11)
        return
    if not report.ok:
        raise fail(
            f"audit trail does NOT verify{report.problem}",
            11,
            "the audit table was tampered with or damaged; restore a backup and investigate",
        )
    typer.echo(f"audit trail verified: {report.checked} entries, chain intact")


@app.command("export")
def export(
    ctx: typer.Context,
    output: Path | None = typer.Option(None, "--output", "-o", help="File (default: stdout)."),
    name: str | None = typer.Option(None, "--name", help="Only this secret's entries."),
) -> None:
    """Export entries as JSON lines for a SIEM (no values are ever in entries)."""
    user = options(ctx).user

    async def go(vault: SecretVault) -> AccessLog:
        return await vault.get_access_log(name, user=user)

    entries = run(ctx, go).entries
    lines = "".join(e.model_dump_json() + "\n" for e in entries)
    if output is None:
        typer.echo(lines, nl=False)
    else:
        output.write_text(lines, encoding="utf-8")
        typer.echo(f"wrote {len(entries)} entries to {output}", err=True)


@app.command("purge")
def purge(
    ctx: typer.Context,
    days: int | None = typer.Option(
        None, "--days", min=1, help="Keep this many days [default: access_log_retention_days]."
    ),
) -> None:
    """Delete entries past retention; the remaining chain still verifies (anchored)."""
    user = options(ctx).user

    async def go(vault: SecretVault) -> int:
        return await vault.purge_audit(days, user=user)

    typer.echo(f"purged {run(ctx, go)} audit entries", err=True)
