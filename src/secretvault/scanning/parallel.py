"""Process-pool tree scanning: the parent forks after building the scanner, so workers share
the compiled rules and the Hyperscan database copy-on-write and nothing is recompiled."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from secretvault.scanning.scanner import RawMatch, Scanner, ScanStats

_WORKER: Scanner | None = None


def fork_is_safe() -> bool:
    """Forking is only safe from a single-threaded process (else a lock held by another
    thread, e.g. asyncio's executor, could deadlock the child), and where fork exists."""
    import threading

    return "fork" in mp.get_all_start_methods() and threading.active_count() == 1


def _work(batch: list[tuple[str, str, int]]) -> tuple[list[RawMatch], int, int, list[str], int]:
    assert _WORKER is not None
    out: list[RawMatch] = []
    files = nbytes = 0
    errors: list[str] = []
    for abs_path, rel, _ in batch:
        try:
            found, n = _WORKER.scan_file(abs_path, rel)
        except OSError as exc:
            errors.append(f"{rel}: {exc.strerror or exc}")
            continue
        out.extend(found)
        files += 1 if n else 0
        nbytes += n
    return out, files, nbytes, errors, len(batch)


FileEntry = tuple[str, str, int]


def _batches(files: Iterable[FileEntry], target: int) -> Iterator[list[FileEntry]]:
    cur: list[FileEntry] = []
    size = 0
    for f in files:
        cur.append(f)
        size += f[2]
        if size >= target or len(cur) >= 64:
            yield cur
            cur, size = [], 0
    if cur:
        yield cur


def scan_parallel(
    scanner: Scanner,
    files: Iterable[FileEntry],
    jobs: int,
    progress: Callable[[int, int], None] | None,
    total: int = 0,
) -> tuple[list[RawMatch], ScanStats]:
    """Scan ``files`` (possibly a lazy walk) with ``jobs`` forked workers.

    Callers check :func:`fork_is_safe` first. The pool forks before the walk is consumed
    (by the pool's feeder thread), so walking and scanning overlap.
    """
    from secretvault.scanning.scanner import ScanStats

    global _WORKER
    for cr in scanner.compiled:  # load lazily-loaded rules once, before forking, not per worker
        _ = cr.rule
    _WORKER = scanner
    stats = ScanStats()
    matches: list[RawMatch] = []
    done = 0
    ctx = mp.get_context("fork")
    try:
        with ctx.Pool(jobs) as pool:
            for found, n, nbytes, errors, count in pool.imap_unordered(
                _work, _batches(files, 1 << 20)
            ):
                matches.extend(found)
                stats.files_scanned += n
                stats.binary_files += count - n - len(errors)
                stats.bytes_scanned += nbytes
                stats.errors.extend(errors)
                done += count
                if progress is not None:
                    progress(done, total)
    finally:
        _WORKER = None
    return matches, stats
