"""Writing injected files: atomically, owner-only, never through a symlink, never into a
world-writable directory, and (with ``scan_on_write``) never where git would commit them.

A reader of the file sees either the old content or the new one, never a partial write: the
bytes go to a temporary file in the same directory (created 0600, so they are never readable
by others), which is fsynced, given its final mode and renamed over the target.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from secretvault.errors import InjectionError

#: The mode of an injected file or rendered template unless the caller says otherwise.
DEFAULT_FILE_MODE = 0o400


def read_text(path: Path, what: str, hint: str) -> str:
    """A UTF-8 input file (template, .env, import); an unreadable one is an InjectionError."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InjectionError(f"cannot read {what} {path}: {reason}", hint=hint) from None


def parse_mode(mode: str | int | None) -> int:
    """``"0400"``/``"400"``/``0o400`` → 0o400; modes granting anything to others are refused
    (a secret in a world-readable file is a leak)."""
    if mode is None:
        return DEFAULT_FILE_MODE
    try:
        value = mode if isinstance(mode, int) else int(str(mode), 8)
    except ValueError:
        raise InjectionError(
            f"bad file_permissions {mode!r}", hint='give an octal mode such as "0400" or "0440"'
        ) from None
    if not 0 <= value <= 0o777:
        raise InjectionError(f"bad file_permissions {mode!r}", hint='e.g. "0400"')
    if value & 0o007:
        raise InjectionError(
            f"file_permissions {oct(value)} would let other users read or change a secret",
            hint='use an owner (or group) mode such as "0400" or "0440"',
        )
    return value


def check_target(
    path: Path, *, allow_symlink: bool = False, allow_world_writable: bool = False
) -> None:
    """Refuse a target that is a symlink, not a regular file, or in a world-writable folder."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        st = None
    if st is not None:
        if stat.S_ISLNK(st.st_mode) and not allow_symlink:
            raise InjectionError(
                f"refusing to write {path}: it is a symbolic link",
                hint="remove the link, or pass allow_symlink=True if you mean to write its target",
            )
        if not stat.S_ISLNK(st.st_mode) and not stat.S_ISREG(st.st_mode):
            raise InjectionError(
                f"refusing to write {path}: it exists and is not a regular file",
                hint="choose a file path",
            )
    parent = path.parent
    try:
        pst = parent.stat()
    except FileNotFoundError:
        return  # created by us, owner-only
    if pst.st_mode & stat.S_IWOTH and not allow_world_writable:
        raise InjectionError(
            f"refusing to write into {parent}: the folder is world-writable",
            hint="anyone could swap the file; pick a private folder, or pass "
            "allow_world_writable=True",
        )


def git_worktree(path: Path) -> Path | None:
    """The root of the git work tree holding ``path``, if any (a ``.git`` dir or file)."""
    for folder in [path.parent, *path.parent.parents]:
        if (folder / ".git").exists():
            return folder
    return None


def check_not_committable(path: Path) -> None:
    """``scan_on_write``: refuse a path inside a git work tree unless git ignores it."""
    path = path.absolute()
    root = git_worktree(path)
    if root is None:
        return
    rel = path.relative_to(root).as_posix()
    git = shutil.which("git")
    ignored = False
    if git is not None:
        ignored = (
            subprocess.run(
                [git, "-C", str(root), "check-ignore", "-q", rel],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            ).returncode
            == 0
        )
    if not ignored:
        raise InjectionError(
            f"refusing to write a secret to {rel} inside the git work tree {root}: "
            "git does not ignore it",
            hint=f"add the line '/{rel}' to {root / '.gitignore'} (or set scan_on_write: false)",
        )


def atomic_write(
    path: Path,
    data: bytes,
    mode: int = DEFAULT_FILE_MODE,
    *,
    allow_symlink: bool = False,
    allow_world_writable: bool = False,
    scan_on_write: bool = False,
) -> Path:
    """Write ``data`` to ``path`` atomically with ``mode`` after the checks above."""
    path = Path(path)
    check_target(path, allow_symlink=allow_symlink, allow_world_writable=allow_world_writable)
    if allow_symlink and path.is_symlink():
        path = path.resolve()
        check_target(path, allow_world_writable=allow_world_writable)
    if scan_on_write:
        check_not_committable(path)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise InjectionError(
            f"cannot write {path}: {exc.strerror}", hint="check the folder exists and is yours"
        ) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise InjectionError(f"cannot write {path}: {exc.strerror}") from None
        raise
    with contextlib.suppress(OSError):  # make the rename durable (not every fs allows it)
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return path
