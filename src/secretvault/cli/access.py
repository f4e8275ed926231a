"""``secretvault access``: manage RBAC grants (effective when rbac_enabled is true)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from secretvault.cli.common import echo_json, json_option, options, run

if TYPE_CHECKING:
    from secretvault.access.rbac import Grant
    from secretvault.vault import SecretVault

app = typer.Typer(
    help="RBAC grants. Roles: admin, developer, operator, auditor (or a bare level: read, "
    "write, delete, admin). Scopes: a name glob ('prod-*'), 'tag:T' or 'service:S'.",
    no_args_is_help=True,
)


@app.command("grant")
def grant(
    ctx: typer.Context,
    principal: str = typer.Argument(..., help="User name, or '*' for everyone."),
    role: str | None = typer.Argument(None, help="Role or level [default: default_access_level]."),
    scope: str = typer.Option("*", "--scope", "-s", help="Name glob, tag:T or service:S."),
) -> None:
    """Grant PRINCIPAL a ROLE on SCOPE. Needs admin once any admin grant exists."""
    user = options(ctx).user

    async def go(vault: SecretVault) -> Grant:
        return await vault.grant(principal, role, scope, user=user)

    g = run(ctx, go)
    typer.echo(f"granted {g.role} on {g.scope} to {g.principal}", err=True)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    principal: str,
    role: str | None = typer.Option(None, "--role"),
    scope: str | None = typer.Option(None, "--scope", "-s"),
) -> None:
    """Remove PRINCIPAL's grants (narrowed by --role and --scope)."""
    user = options(ctx).user

    async def go(vault: SecretVault) -> int:
        return await vault.revoke_grant(principal, role, scope, user=user)

    typer.echo(f"removed {run(ctx, go)} grant(s)", err=True)


@app.command("list")
def list_grants(ctx: typer.Context, as_json: bool = json_option()) -> None:
    """Show every grant."""

    async def go(vault: SecretVault) -> list[Grant]:
        return await vault.list_grants()

    grants = run(ctx, go)
    if as_json:
        echo_json([{"principal": g.principal, "role": g.role, "scope": g.scope} for g in grants])
        return
    for g in grants:
        typer.echo(f"{g.principal:<20} {g.role:<10} {g.scope}")
    if not grants:
        typer.echo("no grants")
