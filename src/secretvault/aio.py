"""Driving the vault's coroutines from synchronous code.

The CLI's plain ``get`` must start fast, and importing asyncio costs about 40 ms of it. When
the configured store's registry entry declares ``inline_io`` (its coroutines never suspend:
in-process SQLite), ``drive`` runs the coroutine by hand; any other store gets
``asyncio.run``. A store that declares inline I/O and then suspends is a bug in that store,
reported as such.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_inline(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends to completion, without an event loop."""
    try:
        coro.send(None)
    except StopIteration as stop:
        result: T = stop.value
        return result
    coro.close()
    raise RuntimeError(
        "a coroutine suspended although its store declared inline_io; "
        "the store must not declare inline_io"
    )


def drive(coro: Coroutine[Any, Any, T], *, inline: bool) -> T:
    """``run_inline`` when the store allows it, else a fresh asyncio event loop."""
    if inline:
        return run_inline(coro)
    import asyncio

    return asyncio.run(coro)
