"""The master key's life over a store's key ring: first key, load-and-check, rekey hand-over.

Key-file protocol, written down once. All steps that read or change key files on an existing
vault hold an ``flock`` on the key's folder (released by the kernel if the holder dies):

1. ``rekey`` writes the new key to ``<key>.next`` (0400), then re-encrypts everything and makes
   the new key id active in ONE store transaction, then copies the old key to
   ``backups/master.key.<old id>`` and atomically renames ``.next`` over the key file. The key
   file therefore always exists and is either the old or the new key.
2. A process that opens the vault takes the lock first, so it never sees a half-done hand-over
   of a *live* rekey. If it finds ``.next`` left by a dead one: the store's active key id says
   whether that rekey committed (finish the hand-over) or not (drop ``.next``).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from secretvault.crypto.envelope import Envelope, decrypt_value, encrypt_value
from secretvault.crypto.keys import MasterKey, create_key_file, read_key_file
from secretvault.errors import MasterKeyError, MasterKeyMismatchError

CHECK_ID = "__check__"
CHECK_TEXT = "secretvault"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A key-ring entry: id, status (active/retired) and a check ciphertext proving the key."""

    key_id: str
    status: str
    created_at: str
    check: Envelope


def check_envelope(key: MasterKey) -> Envelope:
    """The ciphertext a key-ring entry stores to prove a key is the right one."""
    return encrypt_value(key, CHECK_ID, 0, CHECK_TEXT)


def check_matches(key: MasterKey, ring: Sequence[KeyInfo]) -> None:
    """Raise MasterKeyError unless ``key`` is the ring's active key (ring[0])."""
    active = ring[0]
    if key.key_id == active.key_id:
        decrypt_value(key, CHECK_ID, 0, active.check)
        return
    if key.key_id in {k.key_id for k in ring[1:]}:
        raise MasterKeyMismatchError(
            f"master key {key.key_id} was retired by `secretvault rekey`; the vault now uses "
            f"key {active.key_id}",
            hint="load the current master key file",
        )
    raise MasterKeyMismatchError(
        f"master key {key.key_id} does not match this vault (it expects {active.key_id})",
        hint="point master_key_path at the key this vault was created with; a new key cannot "
        "read existing data",
    )


def retired_key_name(key_id: str) -> str:
    """The file name ``rekey`` keeps a retired master key under, in the backups folder."""
    return f"master.key.{key_id}"


class KeyFiles:
    """The key file, its ``.next`` sibling, and the retired-key folder."""

    def __init__(self, path: Path, backups: Path, timeout_s: float = 15.0) -> None:
        self.path = path
        self.next = path.with_name(path.name + ".next")
        self.backups = backups
        self.timeout_s = timeout_s

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the lock on the key's folder (waiting up to ``timeout_s`` for a rekey).

        The folder, not a file: the key file itself is replaced during a hand-over, and a lock
        file would be one more thing to leave behind."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            deadline = time.monotonic() + self.timeout_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise MasterKeyError(
                            f"{self.path} is locked by a rekey in progress",
                            hint="wait for it to finish, then retry",
                        ) from None
                    time.sleep(0.02)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def complete_interrupted(self, active_id: str) -> None:
        """Finish or undo a rekey whose process died mid hand-over (caller holds the lock)."""
        if not self.next.exists():
            return
        if read_key_file(self.next).key_id != active_id:
            self.next.unlink()  # that rekey never committed: the current key stays
            return
        if self.path.exists():
            self.retire(read_key_file(self.path))
        self.next.replace(self.path)

    def write_next(self, key: MasterKey) -> None:
        """Stage the new key beside the current one (caller holds the lock)."""
        if self.next.exists():
            self.next.unlink()
        create_key_file(self.next, key)

    def retire(self, old: MasterKey) -> None:
        """Keep a copy of a retired key: backups made under it still need it."""
        target = self.backups / retired_key_name(old.key_id)
        if target.exists():
            return
        self.backups.mkdir(parents=True, exist_ok=True, mode=0o700)
        create_key_file(target, old)

    def swap_in(self, old: MasterKey) -> MasterKey:
        """After the commit: retire the old key and atomically put ``.next`` in its place."""
        self.retire(old)
        new = read_key_file(self.next)
        self.next.replace(self.path)
        return MasterKey(new.material, source=f"file:{self.path}")

    def create_first(self) -> MasterKey:
        """A new vault's key: adopt an existing key file, else create one."""
        return read_key_file(self.path) if self.path.exists() else create_key_file(self.path)
