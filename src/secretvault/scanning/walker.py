"""Which files a scan reads, and why it reads no others.

``walk`` yields ``(absolute path, posix path relative to the root, size)``. It skips only what
the repository would not commit or did not author:

* paths matched by a ``.gitignore`` or ``.secretvaultignore`` (gitignore syntax, one spec per
  directory, honoured on the way down) or by ``--exclude``;
* version-control metadata (``.git``, ``.hg``, ``.svn``) and virtualenvs, recognised by their
  ``pyvenv.cfg`` rather than their name (a source directory called ``venv`` is scanned);
* binary files (by suffix here, by a NUL byte in the scanner) and files over the size limit.

A directory is never skipped by its name alone: committed ``vendor/``, ``third_party/`` or
``node_modules/`` trees are scanned. ``WalkOptions.skip_dir_names`` (``--skip-dir NAME``, or
``--skip-vendored`` for :data:`VENDORED_DIR_NAMES`) restores name-based pruning on request.
Every skip is counted by reason in a :class:`SkipStats`.
"""

from __future__ import annotations

import fnmatch
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

DEFAULT_PATTERNS: tuple[str, ...] = (
    "*.py",
    "*.js",
    "*.ts",
    "*.yaml",
    "*.yml",
    "*.json",
    "*.env",
    "*.sh",
)
DEFAULT_MAX_FILE_SIZE = 25 * 1024 * 1024
VENV_MARKER = "pyvenv.cfg"  # every venv/virtualenv (>= 20) writes it at the environment root
IGNORE_FILES = (".gitignore", ".secretvaultignore")  # the latter: allowlist.IGNORE_FILE

# Version-control metadata: written by the tool, never authored or committed as content.
VCS_DIRS = frozenset({".git", ".hg", ".svn"})
# Directory names that usually hold third-party or generated code. Not skipped by default (a
# committed vendor tree can hold a committed secret); ``--skip-vendored`` prunes them by name.
VENDORED_DIR_NAMES = frozenset(
    {
        "node_modules",
        "bower_components",
        "vendor",
        "third_party",
        "site-packages",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".idea",
        ".gradle",
        ".terraform",
        ".eggs",
        "jspm_packages",
    }
)

# Reasons a path is not scanned (keys of SkipStats.files / SkipStats.dirs).
SKIP_REASONS = (
    "ignored",
    "excluded",
    "not_matched",
    "binary",
    "too_large",
    "empty",
    "virtualenv",
    "vcs",
    "skip_dir_name",
    "unreadable",
)


@dataclass
class SkipStats:
    """What a walk did not scan, by reason: files, and whole directories pruned unopened."""

    files: Counter[str] = field(default_factory=Counter)
    dirs: Counter[str] = field(default_factory=Counter)

    def merge(self, other: SkipStats) -> None:
        """Add ``other``'s counts to these."""
        self.files.update(other.files)
        self.dirs.update(other.dirs)


BINARY_SUFFIXES = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".bmp",
        ".ico",
        ".webp",
        ".pdf",
        ".zip",
        ".gz",
        ".tgz",
        ".bz2",
        ".xz",
        ".7z",
        ".jar",
        ".war",
        ".class",
        ".so",
        ".dll",
        ".dylib",
        ".exe",
        ".o",
        ".a",
        ".pyc",
        ".pyo",
        ".whl",
        ".woff",
        ".woff2",
        ".ttf",
        ".otf",
        ".eot",
        ".mp3",
        ".mp4",
        ".mov",
        ".avi",
        ".wav",
        ".ogg",
        ".sqlite",
        ".db",
        ".bin",
        ".iso",
        ".dmg",
        ".psd",
        ".parquet",
        ".npy",
        ".npz",
        ".pkl",
        ".pickle",
        ".h5",
        ".onnx",
        ".pt",
        ".lockb",
        ".svgz",
        ".tiff",
    }
)


def matches_patterns(rel_path: str, patterns: Sequence[str] | None) -> bool:
    """Glob match on the file name (and on the whole path for patterns with ``/``).

    A file named exactly ``.env`` matches ``*.env``.
    """
    if not patterns:
        return True
    name = rel_path.rsplit("/", 1)[-1]
    for pat in patterns:
        target = rel_path if "/" in pat else name
        if fnmatch.fnmatchcase(target, pat):
            return True
        if pat.startswith("*.") and name == pat[1:]:
            return True
    return False


def is_binary(head: bytes) -> bool:
    """A NUL byte in the first block means binary (git's heuristic)."""
    return b"\x00" in head


class Matcher(Protocol):
    """A compiled gitignore-style spec (``pathspec.GitIgnoreSpec`` or a prefixed view)."""

    def match_file(self, file: str) -> bool:
        """True when ``file`` (a posix path, ``/``-suffixed for directories) matches."""
        ...


Specs = list[tuple[str, Matcher]]  # (directory relative to the root, its ignore spec)


@dataclass
class WalkOptions:
    """What to include and skip while walking a tree.

    ``skip_dir_names`` is empty by default: directories are pruned by ignore files, markers
    and ``exclude``, never by name unless the caller asks (``--skip-vendored``).
    """

    patterns: Sequence[str] | None = None
    exclude: Sequence[str] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    respect_gitignore: bool = True
    skip_dir_names: frozenset[str] = frozenset()
    stats: SkipStats = field(default_factory=SkipStats)


def _ignore_spec(directory: str, present: Sequence[str] = IGNORE_FILES) -> Matcher | None:
    """The combined ``.gitignore`` + ``.secretvaultignore`` of one directory, if any.

    ``present`` names the ignore files known to exist (the walker already listed the
    directory, so it opens only those).
    """
    from secretvault.scanning.allowlist import IGNORE_FILE, Allowlist

    lines: list[str] = []
    for name in present:
        try:
            with open(os.path.join(directory, name), encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        # .secretvaultignore also holds rule:/regex:/stopword:/fingerprint: lines; only its
        # path patterns say what to skip.
        lines.extend(Allowlist.parse(text).paths if name == IGNORE_FILE else text.splitlines())
    if not lines:
        return None
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)


def _ignored(specs: Specs, rel: str, is_dir: bool) -> bool:
    target = rel + "/" if is_dir else rel
    for base, spec in specs:
        if base and not target.startswith(base + "/"):
            continue
        sub = target[len(base) + 1 :] if base else target
        if spec.match_file(sub):
            return True
    return False


def walk(root: Path, options: WalkOptions | None = None) -> Iterator[tuple[str, str, int]]:
    """Yield ``(abs_path, rel_posix_path, size)`` for every file a scan should read.

    What is not yielded is counted in ``options.stats`` by reason.
    """
    opts = options or WalkOptions()
    root = root.resolve()
    if root.is_file():
        yield str(root), root.name, root.stat().st_size
        return
    exclude: Matcher | None = None
    if opts.exclude:
        import pathspec

        exclude = pathspec.GitIgnoreSpec.from_lines(list(opts.exclude))
    parents = _parent_specs(root) if opts.respect_gitignore else []
    yield from _walk_dir(str(root), "", parents, opts, exclude)


class _Prefixed:
    """A parent directory's ignore spec, matched against paths relative to that directory."""

    def __init__(self, spec: Matcher, prefix: str) -> None:
        self.spec = spec
        self.prefix = prefix

    def match_file(self, file: str) -> bool:
        return bool(self.spec.match_file(self.prefix + file))


def _parent_specs(root: Path) -> Specs:
    """Ignore files between the enclosing repository's top and ``root`` (exclusive)."""
    ancestors = []
    for parent in root.parents:
        ancestors.append(parent)
        if (parent / ".git").exists():
            break
    else:
        return []  # not inside a repository: parent ignore files do not apply
    specs: Specs = []
    for parent in reversed(ancestors):
        spec = _ignore_spec(str(parent))
        if spec is not None:
            prefix = root.relative_to(parent).as_posix() + "/"
            if spec.match_file(prefix):
                return []  # the user named an ignored directory: scan it
            specs.append(("", _Prefixed(spec, prefix)))
    return specs


def _walk_dir(
    top: str, rel_dir: str, specs: Specs, opts: WalkOptions, exclude: Matcher | None
) -> Iterator[tuple[str, str, int]]:
    try:
        entries = sorted(os.scandir(top), key=lambda e: e.name)
    except OSError:
        opts.stats.dirs["unreadable"] += 1
        return
    if opts.respect_gitignore:
        present = [e.name for e in entries if e.name in IGNORE_FILES]
        spec = _ignore_spec(top, present) if present else None
        if spec is not None:
            specs = [*specs, (rel_dir, spec)]
    skipped = opts.stats
    for entry in entries:
        rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
            is_file = entry.is_file(follow_symlinks=False)
        except OSError:
            skipped.files["unreadable"] += 1
            continue
        if is_dir:
            reason = _dir_skip_reason(entry.path, entry.name, rel, specs, opts, exclude)
            if reason is not None:
                skipped.dirs[reason] += 1
                continue
            yield from _walk_dir(entry.path, rel, specs, opts, exclude)
        elif is_file:
            reason = _path_skip_reason(rel, False, specs, opts, exclude)
            if reason is None and not matches_patterns(rel, opts.patterns):
                reason = "not_matched"
            if reason is None and os.path.splitext(entry.name)[1].lower() in BINARY_SUFFIXES:
                reason = "binary"
            size = 0
            if reason is None:
                try:
                    size = entry.stat(follow_symlinks=False).st_size
                except OSError:
                    reason = "unreadable"
            if reason is None and size == 0:
                reason = "empty"
            if reason is None and size > opts.max_file_size:
                reason = "too_large"
            if reason is not None:
                skipped.files[reason] += 1
                continue
            yield entry.path, rel, size


def _dir_skip_reason(
    path: str, name: str, rel: str, specs: Specs, opts: WalkOptions, exclude: Matcher | None
) -> str | None:
    """Why a directory below the root is pruned, or None to descend into it."""
    if name in VCS_DIRS:
        return "vcs"
    if name in opts.skip_dir_names:
        return "skip_dir_name"
    reason = _path_skip_reason(rel, True, specs, opts, exclude)
    if reason is None and os.path.isfile(os.path.join(path, VENV_MARKER)):
        return "virtualenv"  # installed, not authored (a root the user named is scanned)
    return reason


def _path_skip_reason(
    rel: str, is_dir: bool, specs: Specs, opts: WalkOptions, exclude: Matcher | None
) -> str | None:
    if exclude is not None and exclude.match_file(rel + ("/" if is_dir else "")):
        return "excluded"
    if opts.respect_gitignore and specs and _ignored(specs, rel, is_dir):
        return "ignored"
    return None
