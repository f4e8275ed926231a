"""``scan_repository()``: the guide's scanning entry point (sync; the vault awaits it in a
thread)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from secretvault.errors import ScanError
from secretvault.models import SecretScanReport, SecretType
from secretvault.scanning.allowlist import Allowlist
from secretvault.scanning.scanner import RawMatch, Scanner
from secretvault.scanning.walker import (
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_PATTERNS,
    SkipStats,
    WalkOptions,
    walk,
)


def build_report(
    root: str,
    matches: list[RawMatch],
    files: int,
    nbytes: int,
    started: float,
    engine: str,
    skipped: SkipStats | None = None,
) -> SecretScanReport:
    """Wrap redacted findings, counts and skip reasons into a :class:`SecretScanReport`."""
    return SecretScanReport(
        repository_path=root,
        files_scanned=files,
        bytes_scanned=nbytes,
        findings=[m.to_finding() for m in matches],
        duration_seconds=round(time.perf_counter() - started, 6),
        engine=engine,
        skipped_files=dict(sorted(skipped.files.items())) if skipped else {},
        skipped_dirs=dict(sorted(skipped.dirs.items())) if skipped else {},
    )


def scan_tree_raw(
    repository_path: str | Path,
    file_patterns: Sequence[str] | None = None,
    secret_types: Sequence[SecretType] | None = None,
    *,
    engine: str = "auto",
    jobs: int | None = None,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    exclude: Sequence[str] = (),
    respect_gitignore: bool = True,
    skip_dir_names: frozenset[str] = frozenset(),
    skipped: SkipStats | None = None,
    known_secrets: Mapping[str, str] | None = None,
    known_types: Mapping[str, SecretType] | None = None,
    allowlist: Allowlist | None = None,
    generic_detection: bool = True,
    progress: Callable[[int, int], None] | None = None,
    scanner: Scanner | None = None,
) -> tuple[list[RawMatch], int, int, str]:
    """Scan a directory or file; returns unredacted matches (internal: fix/baseline need them).

    Returns ``(matches, files scanned, bytes scanned, engine name)``; what was not scanned is
    added to ``skipped`` by reason when one is given.
    """
    root = Path(repository_path)
    if not root.exists():
        raise ScanError(f"path does not exist: {root}", hint="pass an existing file or directory")
    base = root if root.is_dir() else root.parent
    allow = Allowlist.load(base)
    if allowlist is not None:
        allow = allow.merged(allowlist)
    scanner = scanner or Scanner(
        engine=engine,
        secret_types=secret_types,
        allowlist=allow,
        known_secrets=known_secrets,
        known_types=known_types,
        generic_detection=generic_detection,
    )
    opts = WalkOptions(
        patterns=file_patterns,
        exclude=exclude,
        max_file_size=max_file_size,
        respect_gitignore=respect_gitignore,
        skip_dir_names=skip_dir_names,
        stats=skipped if skipped is not None else SkipStats(),
    )
    matches, stats = scanner.scan_paths(walk(root, opts), jobs=jobs, progress=progress)
    if stats.binary_files:
        opts.stats.files["binary"] += stats.binary_files
    return matches, stats.files_scanned, stats.bytes_scanned, scanner.engine_name


def scan_repository(
    repository_path: str | Path,
    file_patterns: Sequence[str] | None = None,
    secret_types: Sequence[SecretType] | None = None,
    **options: object,
) -> SecretScanReport:
    """Scan a repository (or one file) for hardcoded secrets.

    ``file_patterns=None`` means the guide's default ``scan_patterns``; pass ``["*"]`` for every
    text file. ``secret_types=None`` scans for all types. ``options`` are those of
    :func:`scan_tree_raw` (``engine``, ``jobs``, ``max_file_size``, ``exclude``,
    ``known_secrets`` ...). Findings are redacted; nothing returned holds a secret.
    """
    started = time.perf_counter()
    patterns = list(DEFAULT_PATTERNS) if file_patterns is None else list(file_patterns)
    skipped = SkipStats()
    matches, files, nbytes, engine = scan_tree_raw(
        repository_path,
        patterns,
        secret_types,
        skipped=skipped,
        **options,  # type: ignore[arg-type]
    )
    return build_report(str(repository_path), matches, files, nbytes, started, engine, skipped)
