"""Which files a scan reads: include globs, ``.gitignore``, vendored folders, binaries, size.

``walk`` yields ``(absolute path, posix path relative to the root, size)``; it prunes
``.git``, vendored and virtualenv folders before descending and honours every
``.gitignore`` on the way down (pathspec's gitignore semantics, one spec per directory).
A virtualenv is recognised by its ``pyvenv.cfg``, not by its name: a source directory
called ``venv`` (the standard library's ``venv`` package) is scanned.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
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


@dataclass
class WalkOptions:
    """What to include and skip while walking a tree."""

    patterns: Sequence[str] | None = None
    exclude: Sequence[str] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    respect_gitignore: bool = True
    skip_dirs: frozenset[str] = field(default=SKIP_DIRS)


def _gitignore_spec(directory: str) -> object | None:
    path = os.path.join(directory, ".gitignore")
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)


def _ignored(specs: list[tuple[str, object]], rel: str, is_dir: bool) -> bool:
    target = rel + "/" if is_dir else rel
    for base, spec in specs:
        if base and not target.startswith(base + "/"):
            continue
        sub = target[len(base) + 1 :] if base else target
        if spec.match_file(sub):  # type: ignore[attr-defined]
            return True
    return False


def walk(root: Path, options: WalkOptions | None = None) -> Iterator[tuple[str, str, int]]:
    """Yield ``(abs_path, rel_posix_path, size)`` for every file a scan should read."""
    opts = options or WalkOptions()
    root = root.resolve()
    if root.is_file():
        yield str(root), root.name, root.stat().st_size
        return
    exclude = None
    if opts.exclude:
        import pathspec

        exclude = pathspec.GitIgnoreSpec.from_lines(list(opts.exclude))
    parents = _parent_specs(root) if opts.respect_gitignore else []
    yield from _walk_dir(str(root), "", parents, opts, exclude)


class _Prefixed:
    """A parent directory's .gitignore, matched against paths relative to that directory."""

    def __init__(self, spec: object, prefix: str) -> None:
        self.spec = spec
        self.prefix = prefix

    def match_file(self, path: str) -> bool:
        return bool(self.spec.match_file(self.prefix + path))  # type: ignore[attr-defined]


def _parent_specs(root: Path) -> list[tuple[str, object]]:
    """.gitignore files between the enclosing repository's top and ``root`` (exclusive)."""
    ancestors = []
    for parent in root.parents:
        ancestors.append(parent)
        if (parent / ".git").exists():
            break
    else:
        return []  # not inside a repository: parent .gitignore files do not apply
    specs: list[tuple[str, object]] = []
    for parent in reversed(ancestors):
        spec = _gitignore_spec(str(parent))
        if spec is not None:
            prefix = root.relative_to(parent).as_posix() + "/"
            if spec.match_file(prefix):  # type: ignore[attr-defined]
                return []  # the user named an ignored directory: scan it
            specs.append(("", _Prefixed(spec, prefix)))
    return specs


def _walk_dir(
    top: str, rel_dir: str, specs: list[tuple[str, object]], opts: WalkOptions, exclude: object
) -> Iterator[tuple[str, str, int]]:
    if opts.respect_gitignore:
        spec = _gitignore_spec(top)
        if spec is not None:
            specs = [*specs, (rel_dir, spec)]
    try:
        entries = sorted(os.scandir(top), key=lambda e: e.name)
    except OSError:
        return
    if rel_dir and any(e.name == VENV_MARKER for e in entries):
        return  # a virtualenv below the root (a root the user named is scanned)
    for entry in entries:
        rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
            is_file = entry.is_file(follow_symlinks=False)
        except OSError:
            continue
        if is_dir:
            if entry.name in opts.skip_dirs or _skip(rel, True, specs, opts, exclude):
                continue
            yield from _walk_dir(entry.path, rel, specs, opts, exclude)
        elif is_file:
            if _skip(rel, False, specs, opts, exclude) or not matches_patterns(rel, opts.patterns):
                continue
            if os.path.splitext(entry.name)[1].lower() in BINARY_SUFFIXES:
                continue
            try:
                size = entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
            if size == 0 or size > opts.max_file_size:
                continue
            yield entry.path, rel, size


def _skip(
    rel: str, is_dir: bool, specs: list[tuple[str, object]], opts: WalkOptions, exclude: object
) -> bool:
    if exclude is not None and exclude.match_file(rel + ("/" if is_dir else "")):  # type: ignore[attr-defined]
        return True
    return opts.respect_gitignore and bool(specs) and _ignored(specs, rel, is_dir)
