"""What every CLI command shares: global options, opening the vault, reading values, errors.

Values are read from a file, standard input or a hidden prompt — never from argv, where other
users can see them in ``ps``. Errors print one line (plus a hint) to stderr and exit with the
error's ``exit_code``; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import typer

    from secretvault.config import SecretsConfig
    from secretvault.vault import SecretVault

T = TypeVar("T")


@dataclass(slots=True)
class Options:
    """Global options (``secretvault [OPTIONS] COMMAND``)."""

    app: str = "mahavishnu"
    settings_dir: Path = Path("settings")
    vault_dir: Path | None = None
    user: str = field(default_factory=lambda: os.environ.get("SECRETVAULT_USER") or _login())
    debug: bool = False
    _config: SecretsConfig | None = field(default=None, repr=False)

    def config(self) -> SecretsConfig:
        """Settings through every layer, with ``--vault-dir`` overriding both paths (loaded
        once per invocation)."""
        if self._config is None:
            from secretvault.config import load_config

            overrides: dict[str, Any] = {}
            if self.vault_dir is not None:
                overrides["storage_path"] = str(self.vault_dir / "vault.db")
                overrides["master_key_path"] = str(self.vault_dir / "master.key")
            self._config = load_config(self.app, self.settings_dir, **overrides)
        return self._config


def resolved_flags(flags: dict[str, str]) -> dict[str, str]:
    """The global flags the fast paths parse themselves (``--app``, ``--settings-dir``,
    ``--vault-dir``, ``--user``) with the environment's defaults filled in, as typer fills
    them: ``--vault-dir`` from ``SECRETVAULT_DIR``, ``--user`` from ``SECRETVAULT_USER`` or the
    login name."""
    out = dict(flags)
    vault_dir = flags.get("--vault-dir") or os.environ.get("SECRETVAULT_DIR")
    if vault_dir:
        out["--vault-dir"] = vault_dir
    if "--user" not in out:
        out["--user"] = os.environ.get("SECRETVAULT_USER") or _login()
    return out


def options_from_flags(flags: dict[str, str]) -> Options:
    """``Options`` from the fast paths' global flags (``resolved_flags``)."""
    flags = resolved_flags(flags)
    vault_dir = flags.get("--vault-dir")
    return Options(
        app=flags.get("--app", "mahavishnu"),
        settings_dir=Path(flags.get("--settings-dir", "settings")),
        vault_dir=Path(vault_dir) if vault_dir else None,
        user=flags["--user"],
    )


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def options(ctx: typer.Context) -> Options:
    """The global options of this invocation."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Options) else Options()


def fail(message: str, code: int = 1, hint: str | None = None) -> SystemExit:
    """Print an error line (and hint) to stderr; return the SystemExit to raise."""
    sys.stderr.write(f"error: {message}\n" + (f"hint: {hint}\n" if hint else ""))
    return SystemExit(code)


def run(
    ctx: typer.Context,
    fn: Callable[[SecretVault], Awaitable[T]],
    *,
    create: bool = False,
    loop: bool = False,
) -> T:
    """Open the vault, run ``fn(vault)``, close it; map library errors to exit codes.
    ``loop``: ``fn`` needs an asyncio event loop (it waits on the network, timers, threads)."""
    return run_with(options(ctx), fn, create=create, loop=loop)


def run_with(
    opts: Options,
    fn: Callable[[SecretVault], Awaitable[T]],
    *,
    create: bool = False,
    loop: bool = False,
) -> T:
    """``run`` without a typer context (the fast ``get`` path in ``cli.entry`` uses it)."""

    async def main(config: SecretsConfig) -> T:
        from secretvault.vault import SecretVault

        vault = SecretVault(config, app=opts.app)
        await vault.initialize(create=create)
        try:
            return await fn(vault)
        finally:
            await vault.shutdown()

    def go() -> T:
        # Settings first: a settings error must surface before any coroutine exists (else
        # Python warns at exit that the coroutine was never awaited).
        config = opts.config()
        return _drive(config, main(config), loop)

    return guard(opts, go)


def _drive(config: SecretsConfig, coro: Coroutine[Any, Any, T], loop: bool = False) -> T:
    """Stores that declare inline I/O run their coroutines without an event loop (importing
    asyncio costs ~40 ms of a plain ``get``); every other store gets asyncio. Rotators and
    verifiers in the settings talk to their targets (a rotation, or the recovery of one in
    ``initialize``), so they need the loop too."""
    from secretvault.aio import drive
    from secretvault.backends.registry import spec_for

    rotation_io = bool(config.rotators or config.rotation_verifiers)
    inline = spec_for(config.default_backend).inline_io and not (loop or rotation_io)
    return drive(coro, inline=inline)


def guard(opts: Options, fn: Callable[[], T]) -> T:
    """Run ``fn``; turn SecretVaultError into a one-line error and its exit code."""
    from secretvault.errors import SecretVaultError

    try:
        return fn()
    except SecretVaultError as exc:
        if opts.debug:
            raise
        msg = Exception.__str__(exc)
        raise fail(msg, exc.exit_code, exc.hint) from None
    except KeyboardInterrupt:
        raise fail("interrupted", 130) from None


def read_value(from_file: Path | None, use_stdin: bool, prompt: str = "Value") -> str:
    """The secret value from ``--from-file``, ``--stdin`` (or piped input), or a hidden prompt."""
    if from_file is not None:
        try:
            raw = from_file.read_bytes()
        except OSError as exc:
            raise fail(f"cannot read {from_file}: {exc.strerror}", 2) from None
        return _text(raw, str(from_file))
    if use_stdin or not sys.stdin.isatty():
        return _text(sys.stdin.buffer.read(), "standard input")
    import typer

    value: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return value


def _text(raw: bytes, where: str) -> str:
    """Decode a value strictly as UTF-8 and drop one trailing newline (``echo`` adds one)."""
    try:
        data = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise fail(
            f"the value from {where} is not UTF-8 text", 2, "store binary material base64-encoded"
        ) from None
    return data[:-1] if data.endswith("\n") else data


def json_option() -> Any:
    """The ``--json`` flag every command that prints data takes (one definition, one help)."""
    import typer

    return typer.Option(False, "--json", help="Print the result as JSON on stdout.")


def echo_json(data: Any) -> None:
    """Print JSON: pydantic models, dataclasses, paths and datetimes welcome (ciphertext fields
    of records are left out)."""
    import dataclasses
    import json
    from datetime import datetime

    from pydantic import BaseModel

    def default(o: Any) -> Any:
        if isinstance(o, BaseModel):
            return o.model_dump(mode="json", exclude={"encrypted_value", "nonce", "salt"})
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return dataclasses.asdict(o)
        if isinstance(o, datetime):
            return o.isoformat()
        return str(o)

    print(json.dumps(data, default=default, indent=2))
