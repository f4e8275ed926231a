"""``secretvault run``: what the typer command and the console script's fast path share.

``secretvault run --env X=name -- cmd`` is a launcher that sits in front of every start of an
application, so its own start-up matters: building the typer app costs about a quarter of a
plain ``get``. ``fast_run`` handles the common shapes (global value options, then ``run`` with
``--env``/``-e``, ``--env-file``, ``--target``, ``--redact``, then ``--``) without typer;
anything else (``--watch``, ``--signal``, ``--help``, ``--debug``, a typo) goes to typer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from secretvault.cli.common import Options, guard, options_from_flags, run_with

if TYPE_CHECKING:
    from secretvault.injection.env import EnvRef
    from secretvault.vault import SecretVault

_VALUE_FLAGS = {"--env": "env", "-e": "env", "--env-file": "env_file", "--target": "target"}


def execute(
    opts: Options,
    command: list[str],
    env: list[str],
    env_file: Path | None,
    target: str | None,
    redact: bool,
    watch: bool = False,
    on_change: str | None = None,
) -> int:
    """Resolve the child's secrets, launch it, and return its exit status."""

    def parse() -> tuple[dict[str, str], list[EnvRef], int | None]:
        from secretvault.errors import InjectionError
        from secretvault.injection.env import parse_env_spec, read_env_file
        from secretvault.injection.injector import parse_signal

        plain, refs = read_env_file(env_file) if env_file else ({}, [])
        refs += [parse_env_spec(spec) for spec in env]
        if not refs and target is None:
            raise InjectionError(
                "nothing to inject", hint="give --env VAR=secret-name, --env-file or --target"
            )
        return plain, refs, int(parse_signal(on_change)) if on_change else None

    plain, refs, sig = guard(opts, parse)
    base_env = {**os.environ, **plain}
    if watch:
        return guard(opts, lambda: _watch(opts, command, refs, target, base_env, redact, sig))
    from secretvault.injection.process import child_environment, run_child

    async def resolve(vault: SecretVault) -> dict[str, str]:
        return await child_environment(vault.injection, refs, target, opts.user)

    values = run_with(opts, resolve)
    return guard(
        opts,
        lambda: run_child(command, {**base_env, **values}, values.values() if redact else None),
    )


def _watch(
    opts: Options,
    command: list[str],
    refs: list[EnvRef],
    target: str | None,
    base_env: dict[str, str],
    redact: bool,
    sig: int | None,
) -> int:
    import asyncio

    from secretvault.injection.process import supervise
    from secretvault.vault import SecretVault

    async def main() -> int:
        vault = SecretVault(opts.config(), app=opts.app)
        await vault.initialize(create=False)
        try:
            return await supervise(
                vault.injection, refs, target, opts.user, command, base_env, redact, sig
            )
        finally:
            await vault.shutdown()

    return asyncio.run(main())


def fast_run(argv: list[str]) -> int | None:
    """Run the simple ``run`` shapes without typer (module docstring); None otherwise."""
    from secretvault.cli.entry import _GLOBAL_VALUE_OPTIONS

    args = list(argv)
    flags: dict[str, str] = {}
    while args and args[0].startswith("--"):
        flag, eq, value = args.pop(0).partition("=")
        if flag not in _GLOBAL_VALUE_OPTIONS or (not eq and not args):
            return None
        flags[flag] = value if eq else args.pop(0)
    if not args or args[0] != "run" or "--" not in args:
        return None
    split = args.index("--")
    options, command = args[1:split], args[split + 1 :]
    got: dict[str, list[str]] = {"env": [], "env_file": [], "target": []}
    redact = False
    while options:
        flag, eq, value = options.pop(0).partition("=")
        if flag == "--redact" and not eq:
            redact = True
            continue
        if flag not in _VALUE_FLAGS or (not eq and not options):
            return None
        got[_VALUE_FLAGS[flag]].append(value if eq else options.pop(0))
    if len(got["env_file"]) > 1 or len(got["target"]) > 1 or not command:
        return None
    opts = options_from_flags(flags)
    env_file = Path(got["env_file"][0]) if got["env_file"] else None
    target = got["target"][0] if got["target"] else None
    return execute(opts, command, got["env"], env_file, target, redact)
