"""Console-script entry point, with a fast path for the plainest, most frequent call.

``secretvault [--vault-dir D] [--user U] [--app A] [--settings-dir S] get NAME [--version N]``
is what scripts run in a loop (``$(secretvault get db-password)``), and its latency target is
100 ms for the whole process — less than importing pydantic, typer and rich costs. So this one
shape is parsed here and read by ``cli/fast_get.py`` when the case is plain, else run through
the same ``Options``/``run_with`` code as the typer command; anything else — ``--json``,
``--help``, ``--debug``, a typo — goes to typer unchanged.
"""

from __future__ import annotations

import os
import sys

# Skip pydantic's entry-point scan for plugins (~10 ms) unless the user configured plugins.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

_GLOBAL_VALUE_OPTIONS = {"--vault-dir", "--user", "--app", "--settings-dir"}


def _parse_fast_get(argv: list[str]) -> tuple[dict[str, str], str, int | None] | None:
    """(global options, name, version) when argv is the simple ``get`` shape, else None."""
    opts: dict[str, str] = {}
    args = list(argv)
    while args and args[0].startswith("--"):
        flag, eq, value = args.pop(0).partition("=")
        if flag not in _GLOBAL_VALUE_OPTIONS:
            return None
        if not eq:
            if not args:
                return None
            value = args.pop(0)
        opts[flag] = value
    if len(args) not in (2, 4) or args[0] != "get" or args[1].startswith("-"):
        return None
    version = None
    if len(args) == 4:
        if args[2] not in ("--version", "-v") or not args[3].isdigit() or int(args[3]) < 1:
            return None
        version = int(args[3])
    return opts, args[1], version


def _fast_get(parsed: tuple[dict[str, str], str, int | None]) -> None:
    from secretvault.cli.common import resolved_flags
    from secretvault.cli.fast_get import plain_get

    given, name, version = parsed
    flags = resolved_flags(given)
    value = plain_get(flags, name, flags["--user"], version)
    if value is None:  # not the plain case, or an error: the full path reports it
        value = _full_get(flags, name, version)
    sys.stdout.write(value + ("\n" if sys.stdout.isatty() else ""))


def _full_get(flags: dict[str, str], name: str, version: int | None) -> str:
    """``get`` through the vault facade (settings validated by ``load_config``)."""
    from secretvault.cli.common import options_from_flags, run_with

    opts = options_from_flags(flags)

    async def go(vault):  # type: ignore[no-untyped-def]
        return await vault.get_secret(name, user=opts.user, version=version)

    value, _ = run_with(opts, go)
    return str(value)


def run() -> None:
    """``secretvault`` console script. ``SECRETVAULT_NO_FAST_PATH=1`` sends every command
    through the full CLI (to rule the fast paths out when diagnosing)."""
    if os.environ.get("SECRETVAULT_NO_FAST_PATH"):
        from secretvault.cli.main import app

        app()
        return
    parsed = _parse_fast_get(sys.argv[1:])
    if parsed is not None:
        _fast_get(parsed)
        return
    if "run" in sys.argv[1:10]:  # the launcher has a fast path too (cli/run_cmd.py)
        from secretvault.cli.run_cmd import fast_run

        code = fast_run(sys.argv[1:])
        if code is not None:
            sys.exit(code)
    from secretvault.cli.main import app

    app()
