"""``secretvault run``: launch a child with secrets in its environment only, supervise it.

The values go into the child's environment block and nowhere else: not its argv, not the
parent's own environment, not a file. The child's exit status is passed through (128 + N when
it died of signal N). SIGTERM, SIGHUP, SIGQUIT, SIGUSR1/2 are forwarded; SIGINT too, except
when the child shares a terminal's foreground group (the terminal already sent it there, and a
second ^C would be a double interrupt).

``--redact`` puts pipes between the child and our stdout/stderr and masks every known value,
also one split across two writes (``Redactor`` holds back a tail that could be the start of a
value until the next chunk says otherwise). ``--watch`` keeps the vault open and restarts the
child (or sends it a signal) when one of its secrets changes.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from secretvault.errors import InjectionError, SecretNotFoundError
from secretvault.injection.bindings import spec_of

if TYPE_CHECKING:
    from secretvault.injection.env import EnvRef
    from secretvault.injection.injector import Injector

#: What a masked value is replaced with.
MASK = b"*****"
#: Signals passed on to the child.
FORWARDED = ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGINT")
#: How long a child asked to stop (restart, forwarded SIGTERM) gets before SIGKILL.
STOP_GRACE_SECONDS = 10.0


class Redactor:
    """Masks known values in a byte stream fed in arbitrary chunks."""

    def __init__(self, values: Iterable[str], mask: bytes = MASK) -> None:
        encoded = sorted({v.encode("utf-8") for v in values if v}, key=len, reverse=True)
        self.values = encoded
        self.mask = mask
        self.pattern = re.compile(b"|".join(re.escape(v) for v in encoded)) if encoded else None
        self.pending = b""

    def feed(self, chunk: bytes) -> bytes:
        """The part of ``pending + chunk`` that is safe to emit now."""
        if self.pattern is None:
            return chunk
        data = self.pattern.sub(self.mask, self.pending + chunk)
        hold = self._held(data)
        self.pending = data[len(data) - hold :] if hold else b""
        return data[: len(data) - hold]

    def flush(self) -> bytes:
        """What is left at the end of the stream (a prefix of a value that never completed)."""
        rest, self.pending = self.pending, b""
        return rest

    def _held(self, data: bytes) -> int:
        """Length of the longest tail of ``data`` that is a proper prefix of some value."""
        best = 0
        for value in self.values:
            for k in range(min(len(value) - 1, len(data)), best, -1):
                if data.endswith(value[:k]):
                    best = k
                    break
        return best


def _pump(src: IO[bytes], dst: IO[bytes], redactor: Redactor) -> None:
    fd = src.fileno()
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        out = redactor.feed(chunk)
        if out:
            dst.write(out)
            dst.flush()
    tail = redactor.flush()
    if tail:
        dst.write(tail)
        dst.flush()


def exit_status(returncode: int) -> int:
    """A shell's exit status for a child's return code (128 + N for death by signal N)."""
    return 128 - returncode if returncode < 0 else returncode


class Child:
    """One launched command, with optional redaction of its output."""

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str], redact: Iterable[str] | None
    ) -> None:
        if not argv:
            raise InjectionError(
                "no command to run", hint="put it after --, e.g. secretvault run -- ./app"
            )
        self.argv = list(argv)
        self.env = dict(env)
        self.redact = list(redact) if redact is not None else None
        self.own_group = not _foreground_tty()
        self.proc: subprocess.Popen[bytes] | None = None
        self.pumps: list[threading.Thread] = []

    def start(self) -> subprocess.Popen[bytes]:
        """Launch the command (``PATH`` of the child's environment is searched)."""
        pipe = subprocess.PIPE if self.redact is not None else None
        try:
            proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=pipe,
                stderr=pipe,
                process_group=0 if self.own_group else None,
            )
        except OSError as exc:
            raise InjectionError(
                f"cannot run {self.argv[0]!r}: {exc.strerror}",
                hint="check the command after -- exists and is executable",
            ) from None
        self.proc = proc
        if self.redact is not None:
            assert proc.stdout is not None and proc.stderr is not None
            self.pumps = [
                threading.Thread(target=_pump, args=(src, dst, Redactor(self.redact)), daemon=True)
                for src, dst in ((proc.stdout, sys.stdout.buffer), (proc.stderr, sys.stderr.buffer))
            ]
            for t in self.pumps:
                t.start()
        return proc

    def send(self, signum: int) -> None:
        """Pass a signal on (ignored once the child is gone)."""
        if self.proc is not None and self.proc.poll() is None:
            if signum == signal.SIGINT and not self.own_group:
                return  # the terminal delivered it to the child's group already
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signum)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for exit; drain the redacting pumps; the child's return code."""
        assert self.proc is not None
        code = self.proc.wait(timeout)
        for t in self.pumps:
            t.join(5)
        return code

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after the grace period; the return code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.wait()


def _foreground_tty() -> bool:
    """True when we run in a terminal's foreground process group (^C reaches the child)."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError, AttributeError):
        return False


def forward_signals(child: Child) -> dict[int, Any]:
    """Install handlers passing the ``FORWARDED`` signals to ``child``; returns the old ones."""
    old: dict[int, Any] = {}
    for name in FORWARDED:
        signum = getattr(signal, name, None)
        if signum is not None:
            old[signum] = signal.signal(signum, lambda s, _f: child.send(s))
    return old


def restore_signals(old: Mapping[int, Any]) -> None:
    """Put back the handlers ``forward_signals`` replaced."""
    for signum, handler in old.items():
        signal.signal(signum, handler)


def run_child(argv: Sequence[str], env: Mapping[str, str], redact: Iterable[str] | None) -> int:
    """Launch, forward signals, wait; the shell exit status."""
    child = Child(argv, env, redact)
    child.start()
    old = forward_signals(child)
    try:
        while True:
            try:
                return exit_status(child.wait())
            except InterruptedError:  # pragma: no cover - PEP 475 retries for us
                continue
    finally:
        restore_signals(old)


async def supervise(
    injector: Injector,
    refs: Sequence[EnvRef],
    target: str | None,
    user: str,
    argv: Sequence[str],
    base_env: Mapping[str, str],
    redact: bool,
    on_change: int | None = None,
) -> int:
    """``run --watch``: start the child; when one of its secrets changes, restart it with fresh
    values — or send it ``on_change`` (``--signal``). ``target``'s files and templates are kept
    fresh too; when only those changed, or only environment bindings injected with
    ``restart_required=False``, the child gets SIGHUP instead of a restart. Returns the exit
    status once the child exits by itself."""
    import asyncio

    restart_names = {r.secret_name for r in refs}
    watched = set(restart_names)
    if target is not None:
        for b in await injector.bindings(target):
            spec = spec_of(b)
            watched.add(b.secret_name)
            if spec.get("env") and spec.get("restart", True):
                restart_names.add(b.secret_name)
        # re-render the target's files and templates; its variables live in the child only
        await injector.follow(target, user, set_env=False)
    changed: set[str] = set()
    for name in sorted(watched):
        injector.subscribe(name, changed.add)
    await injector.reloader.poll()  # baseline before the values are read
    holder: list[Child] = []

    async def launch() -> Child:
        env = await child_environment(injector, refs, target, user)
        child = Child(argv, {**base_env, **env}, env.values() if redact else None)
        await asyncio.to_thread(child.start)
        return child

    holder.append(await launch())
    loop = asyncio.get_running_loop()
    installed = []
    for sig in FORWARDED:
        signum = getattr(signal, sig, None)
        if signum is not None:
            loop.add_signal_handler(signum, _send_current, holder, signum)
            installed.append(signum)
    injector.reloader.start()
    try:
        while True:
            proc = holder[-1].proc
            assert proc is not None
            if proc.poll() is not None:
                return exit_status(await asyncio.to_thread(holder[-1].wait))
            if changed:
                restart = on_change is None and bool(changed & restart_names)
                changed.clear()
                if not restart:
                    holder[-1].send(on_change if on_change is not None else signal.SIGHUP)
                else:
                    await asyncio.to_thread(holder[-1].stop)
                    holder.append(await launch())
            await asyncio.sleep(0.05)
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
        await injector.close()


def _send_current(holder: list[Child], signum: int) -> None:
    holder[-1].send(signum)


async def child_environment(
    injector: Injector, refs: Sequence[EnvRef], target: str | None, user: str
) -> dict[str, str]:
    """Variable → value: the target's env bindings, then ``refs`` (later wins). Each value is
    read through the vault (RBAC, audit); a missing secret names the variable."""
    env = await injector.env_for(target, user) if target else {}
    for ref in refs:
        try:
            env[ref.var] = await injector.read(ref.secret_name, user, ref.version)
        except SecretNotFoundError:
            raise InjectionError(
                f"{ref.var}: secret {ref.secret_name!r}"
                + (f" version {ref.version}" if ref.version else "")
                + " not found",
                hint="check the name with `secretvault list`",
            ) from None
    return env
