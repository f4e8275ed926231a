"""Noticing that a secret changed — in this process or any other — and telling subscribers.

A file watcher cannot see a remote store, so the signal is the store's own change counter
(``SecretStore.generation()``, which every process's write bumps): when it moves, the versions
and statuses of the watched secrets are read (records only, no values) and compared with what
was seen last. A store that cannot tell (-1) is compared on every poll. Polling the counter is
one small read (a ``PRAGMA data_version`` check for the local store), so the default interval
of 0.2 s costs little and keeps the latency from update to callback well under a second.

For a store that is a local file, watchdog (the ``reload`` extra), when installed, wakes the
poll as soon as the file's folder changes: an accelerator only — the counter still decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from secretvault.backends.base import FileBackedStore

if TYPE_CHECKING:
    from secretvault.core.operations import Operations

log = logging.getLogger(__name__)

#: A subscriber: ``callback()`` or ``callback(name)``, sync or async.
Callback = Callable[..., Any]
#: How often the change counter is read, in seconds.
POLL_INTERVAL = 0.2


class Subscription:
    """A registered callback; ``cancel()`` stops it."""

    __slots__ = ("_reloader", "callback", "name")

    def __init__(self, reloader: Reloader, name: str, callback: Callback) -> None:
        self._reloader, self.name, self.callback = reloader, name, callback

    def cancel(self) -> None:
        """Stop calling the callback."""
        subs = self._reloader.subscribers.get(self.name, [])
        if self in subs:
            subs.remove(self)


class Reloader:
    """Watches secrets by name and calls ``on_change(name)`` and the subscribers on a change."""

    def __init__(
        self,
        ops: Operations,
        on_change: Callable[[str], Awaitable[None]] | None = None,
        interval: float = POLL_INTERVAL,
    ) -> None:
        self.ops = ops
        self.on_change = on_change
        self.interval = interval
        self.subscribers: dict[str, list[Subscription]] = {}
        self.seen: dict[str, tuple[int, str] | None] = {}
        self._task: asyncio.Task[None] | None = None
        self._generation: int | None = None
        self._wake: asyncio.Event | None = None
        self._observer: Any = None

    def track(self, name: str) -> None:
        """Watch ``name`` (its current version is taken as the baseline on the next poll)."""
        self.seen.setdefault(name, None)

    def subscribe(self, name: str, callback: Callback) -> Subscription:
        """Call ``callback`` when ``name`` changes; starts watching when a loop is running."""
        sub = Subscription(self, name, callback)
        self.subscribers.setdefault(name, []).append(sub)
        self.track(name)
        if _loop_running():
            self.start()
        return sub

    def start(self) -> None:
        """Start the polling task on the running loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="secret-reload")
            self._watch_file()

    def _watch_file(self) -> None:
        """Wake the poll when the local store's folder changes (module docstring)."""
        store = self.ops.stores.secrets
        if self._observer is not None or not isinstance(store, FileBackedStore):
            return
        try:
            from watchdog.events import FileSystemEvent, FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:
            return
        loop = asyncio.get_running_loop()
        wake = self._wake = asyncio.Event()

        class Wake(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                with contextlib.suppress(RuntimeError):  # the loop may be closing
                    loop.call_soon_threadsafe(wake.set)

        observer = Observer()
        observer.daemon = True
        observer.schedule(Wake(), str(store.path.parent), recursive=False)
        observer.start()
        self._observer = observer

    async def stop(self) -> None:
        """Stop polling."""
        task, self._task = self._task, None
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            await asyncio.to_thread(observer.join, 2)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self) -> None:
        await self.poll()  # take the baseline
        while True:
            await self._sleep()
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a store hiccup must not end the watch; say which
                log.warning("secret reload check failed: %s", type(exc).__name__)

    async def _sleep(self) -> None:
        """The poll interval, cut short by a change to the store's file."""
        wake = self._wake
        if wake is None:
            await asyncio.sleep(self.interval)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), self.interval)
        wake.clear()

    async def poll(self) -> list[str]:
        """Compare the watched secrets with what was seen; act on and return the changed."""
        generation = await self.ops.stores.secrets.generation()
        fresh = [n for n, v in self.seen.items() if v is None]
        if generation == self._generation and generation >= 0 and not fresh:
            return []
        self._generation = generation
        now = await self._versions(list(self.seen))
        changed = [
            n for n, state in now.items() if self.seen.get(n) is not None and state != self.seen[n]
        ]
        self.seen.update(now)
        for name in changed:
            await self._notify(name)
        return changed

    async def _versions(self, names: list[str]) -> dict[str, tuple[int, str]]:
        """(version, status) of each existing name; records only, never values."""
        out: dict[str, tuple[int, str]] = {}
        async with self.ops.unit() as unit:
            for name in names:
                record = await unit.secrets.get(name)
                out[name] = (
                    (record.metadata.version, record.status.value) if record else (0, "absent")
                )
        return out

    async def _notify(self, name: str) -> None:
        if self.on_change is not None:
            try:
                await self.on_change(name)
            except Exception as exc:
                log.warning("re-delivering %s failed: %s", name, type(exc).__name__)
        for sub in list(self.subscribers.get(name, [])):
            try:
                result = sub.callback(name) if _takes_argument(sub.callback) else sub.callback()
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:  # one subscriber's bug must not starve the others
                log.warning("subscriber of %s failed: %s", name, type(exc).__name__)


def _takes_argument(fn: Callback) -> bool:
    try:
        inspect.signature(fn).bind("x")
    except TypeError:
        return False
    except ValueError:  # builtins without a signature
        return True
    return True


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
