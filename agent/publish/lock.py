"""A cron-safe run lock: a file holding the owner's PID, guarded by an advisory `flock`.

The kernel drops a `flock` when its process dies, however it dies (kill -9 included), so "is the lock held"
never depends on a PID that may have been reused: a lock file left behind by a dead process is simply taken
over. The PID and start time in the file are there for the error message and for people (`cat digest.lock`).
"""
from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from pathlib import Path

from agent.errors import LockError
from agent.publish.files import StorageError

log = logging.getLogger("dissect.lock")


def _read_owner(path: Path) -> str:
    try:
        return " ".join(path.read_text(encoding="utf-8", errors="replace").split())[:200]
    except OSError:
        return ""


class RunLock:
    """`with RunLock(path, what="digest"):` holds the lock for the block; raises LockError when another live
    process holds it. Not re-entrant."""

    def __init__(self, path: Path, what: str = "run"):
        self.path = Path(path)
        self.what = what
        self._fd: int | None = None
        self.took_over: str = ""  # the previous owner's line, when a stale lock was taken over

    def acquire(self) -> RunLock:
        try:
            return self._acquire()
        except OSError as exc:
            raise StorageError(f"cannot use the lock file {self.path}: {exc.strerror or exc}") from None

    def _acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(10):  # retried only when the file is replaced under us (see below)
            previous = _read_owner(self.path)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                owner = _read_owner(self.path) or "unknown process"
                raise LockError(f"another {self.what} is running ({owner}); lock file {self.path}") from None
            # The holder we waited on may have unlinked the file on release; a lock on the unlinked inode would
            # not exclude the next process, which creates a fresh file. Hold the lock only on the live path.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            line = f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n"
            os.ftruncate(fd, 0)
            os.pwrite(fd, line.encode("utf-8"), 0)
            self._fd = fd
            if previous:
                self.took_over = previous
                log.warning("took over a stale %s lock left by a dead process (%s)", self.what, previous)
            return self
        raise LockError(f"cannot take the {self.what} lock {self.path}: it keeps being replaced")

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # unlink while still holding: no one can lock the old inode then
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
