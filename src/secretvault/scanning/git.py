"""Git modes: what ``git commit`` would add (``--staged``), commits since a revision
(``--since``), and every commit in history (``--history``).

All three read ``-U0`` unified diffs and scan only *added* lines, with their line numbers in
the new file. History reports each secret once, at the first commit that added it, with
commit, author and date. Output is streamed, so memory stays bounded on long histories.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from secretvault.errors import ScanError
from secretvault.scanning.scanner import RawMatch, Scanner
from secretvault.scanning.walker import matches_patterns

_SEP = "\x1e"
_HEADER = "\x1fcommit" + _SEP


@dataclass
class DiffBlock:
    """Added lines of one file in one commit (or in the index)."""

    path: str
    lines: list[bytes] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    commit: str | None = None
    author: str | None = None
    date: datetime | None = None


def _git(repo: Path, *args: str) -> subprocess.Popen[bytes]:
    cmd = ["git", "-C", str(repo), "-c", "core.quotePath=false", *args]
    try:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise ScanError("git is not installed", hint="install git or scan a directory") from None


def repo_root(path: str | Path) -> Path:
    """The top of the work tree containing ``path``; ScanError when it is not a repository."""
    proc = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--show-toplevel"], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise ScanError(f"{path} is not inside a git repository", hint="run `git init` first")
    return Path(proc.stdout.strip())


def _unquote(p: str) -> str:
    if p.startswith('"') and p.endswith('"'):
        p = p[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
    return p


def parse_diff(stream: Iterator[bytes]) -> Iterator[DiffBlock]:
    """Blocks of added lines from ``git diff``/``git log -p`` output (``-U0``)."""
    commit: tuple[str | None, str | None, datetime | None] = (None, None, None)
    block: DiffBlock | None = None
    new_line = 0
    old_left = new_left = 0  # lines still expected in the current hunk
    for raw in stream:
        line = raw.rstrip(b"\n")
        if old_left or new_left:  # inside a hunk: content, even if it looks like a header
            if line.startswith(b"+"):
                new_left -= 1
                if block is not None:
                    block.lines.append(line[1:])
                    block.numbers.append(new_line)
                new_line += 1
            elif line.startswith(b"-"):
                old_left -= 1
            continue
        if line.startswith(_HEADER.encode()):
            if block is not None and block.lines:
                yield block
            block = None
            _, sha, author, date = line.decode("utf-8", "replace").split(_SEP)
            commit = (sha, author, datetime.fromisoformat(date) if date else None)
        elif line.startswith(b"diff --git "):
            if block is not None and block.lines:
                yield block
            block = None
        elif line.startswith(b"+++ "):
            raw_target = line[4:].decode("utf-8", "replace")
            target = _unquote(raw_target[:-1] if raw_target.endswith("\t") else raw_target)
            if target == "/dev/null":
                block = None
                continue
            path = target[2:] if target.startswith("b/") else target
            block = DiffBlock(path, commit=commit[0], author=commit[1], date=commit[2])
        elif line.startswith(b"@@"):
            new_line, old_left, new_left = _hunk_header(line)
    if block is not None and block.lines:
        yield block


def _hunk_header(line: bytes) -> tuple[int, int, int]:
    """(first new line, old line count, new line count) of ``@@ -a,b +c,d @@``."""
    _, minus, plus = line.split(b" ")[:3]
    _, _, b = minus[1:].partition(b",")
    c, _, d = plus[1:].partition(b",")
    return int(c), int(b) if b else 1, int(d) if d else 1


# A diff has no file system to look for ``pyvenv.cfg`` in: a directory with a virtualenv's
# name counts as one when the path continues into a virtualenv's own layout.
_VENV_NAMES = frozenset({"venv", ".venv", "env", ".env", "virtualenv", ".virtualenv"})
_VENV_LAYOUT = frozenset(
    {"bin", "lib", "lib64", "include", "share", "Scripts", "Lib", "Include", "pyvenv.cfg"}
)


def _in_virtualenv(parts: list[str]) -> bool:
    return any(p in _VENV_NAMES and parts[i + 1] in _VENV_LAYOUT for i, p in enumerate(parts[:-1]))


def _wanted(
    path: str,
    patterns: Sequence[str] | None,
    scanner: Scanner,
    skip_dir_names: frozenset[str] = frozenset(),
) -> bool:
    """Whether a changed path is scanned: committed vendored trees are (by name only on request)."""
    parts = path.split("/")
    if any(p in skip_dir_names for p in parts[:-1]) or _in_virtualenv(parts):
        return False
    return matches_patterns(path, patterns) and not scanner.allowlist.path_allowed(path)


def scan_blocks(
    scanner: Scanner,
    blocks: Iterator[DiffBlock],
    patterns: Sequence[str] | None = None,
    *,
    once: bool = False,
    progress: Callable[[int, int], None] | None = None,
    skip_dir_names: frozenset[str] = frozenset(),
) -> tuple[list[RawMatch], int, int]:
    """Scan diff blocks; ``once`` keeps only the first occurrence of each (rule, secret)."""
    seen: set[tuple[str, str]] = set()
    out: list[RawMatch] = []
    files: set[str] = set()
    nbytes = 0
    for i, b in enumerate(blocks):
        if not _wanted(b.path, patterns, scanner, skip_dir_names):
            continue
        data = b"\n".join(b.lines) + b"\n"
        nbytes += len(data)
        files.add(b.path)
        found = scanner.scan_bytes(data, b.path, line_numbers=b.numbers)
        for m in found:
            key = (m.rule_id, m.secret)
            if once and key in seen:
                continue
            seen.add(key)
            m.commit, m.author, m.date = b.commit, b.author, b.date
            out.append(m)
        if progress is not None:
            progress(i + 1, 0)
    return out, len(files), nbytes


def _run_blocks(repo: Path, args: Sequence[str]) -> Iterator[DiffBlock]:
    proc = _git(repo, *args)
    assert proc.stdout is not None
    try:
        yield from parse_diff(iter(proc.stdout.readline, b""))
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        if proc.wait() != 0:
            raise ScanError(f"git {args[0]} failed: {err.strip()}")


_DIFF_OPTS = ("-U0", "--no-color", "--no-ext-diff", "--no-renames", "--diff-filter=ACMRT")


def staged_blocks(repo: Path) -> Iterator[DiffBlock]:
    """Lines the next ``git commit`` would add."""
    return _run_blocks(repo, ["diff", "--cached", *_DIFF_OPTS])


def history_blocks(
    repo: Path, since: str | None = None, all_refs: bool = False
) -> Iterator[DiffBlock]:
    """Added lines of every commit (oldest first), or of the commits after ``since``."""
    fmt = "--format=%x1fcommit%x1e%H%x1e%an <%ae>%x1e%aI"
    args = ["log", "-p", "--reverse", fmt, *_DIFF_OPTS]
    if since:
        args.append(f"{since}..HEAD")
    elif all_refs:
        args.append("--all")
    return _run_blocks(repo, args)


def has_commits(repo: Path) -> bool:
    """False for a repository without any commit yet."""
    proc = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "-q", "HEAD"], capture_output=True
    )
    return proc.returncode == 0
