"""The writer lock of an index folder, as Lucene's ``write.lock``.

One process at a time may write a folder: it holds an exclusive ``flock`` on ``write.lock``
and writes its pid, host and start time into it. The kernel drops the ``flock`` when the
process dies, however it dies, so a lock left by a dead process (``kill -9``, a crash, a
reboot) is stale and taken over at once; the file's content only serves the error message.
Readers never take the lock.
"""
from __future__ import annotations

import json
import os
import socket
import time

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

LOCK_FILE = "write.lock"


class IndexLockedError(RuntimeError):
    """Another live process is writing the folder."""


class WriteLock:
    """Exclusive writer lock on ``folder`` (created if missing).

    Args:
        folder: the folder to lock.
        wait: ``False``: fail at once when another writer holds it; ``True``: wait for it;
            a number: wait at most that many seconds.
        purpose: what the holder does (``build``, ``update``, ``remove``, ...), shown to others.
    """

    def __init__(self, folder: str, wait: bool | float = False, purpose: str = "write", name: str = LOCK_FILE,
                 remove_on_release: bool = False) -> None:
        self.folder, self.wait, self.purpose = str(folder), wait, purpose
        self.path = os.path.join(self.folder, name)
        self.remove_on_release = remove_on_release  # for a lock file beside what it locks
        self._fd: int | None = None
        self.took_over: dict | None = None  # the holder recorded by a stale lock, if there was one

    def acquire(self) -> "WriteLock":
        os.makedirs(self.folder, exist_ok=True)
        deadline = None if self.wait is True else time.monotonic() + (0 if self.wait is False else float(self.wait))
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if _try_flock(fd):
                if _same_file(fd, self.path):
                    break
                os.close(fd)  # a releasing holder removed the file: lock the new one
                continue
            os.close(fd)
            if deadline is not None and time.monotonic() >= deadline:
                holder = describe(read_holder(self.path))
                hint = ("wait for it to finish, or pass wait=True (--wait) to queue behind it" if self.wait is False
                        else f"gave up after waiting {float(self.wait):g}s")
                raise IndexLockedError(f"{self.folder!r} is being written by {holder}; {hint}")
            time.sleep(0.1)
        previous = read_holder(self.path)
        self.took_over = previous or None  # a released lock is empty; content means its holder died
        os.ftruncate(fd, 0)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": self.purpose,
                  "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        os.pwrite(fd, json.dumps(record).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            if self.remove_on_release:
                os.remove(self.path)  # while still locked: a waiter then locks a new file
            else:
                os.ftruncate(self._fd, 0)  # empty: released cleanly
        except OSError:
            pass
        os.close(self._fd)  # closing drops the flock
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> "WriteLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def try_lock(folder: str, purpose: str) -> WriteLock | None:
    """The lock if no one holds it now, else ``None`` (never waits, never raises for a held lock)."""
    try:
        return WriteLock(folder, wait=False, purpose=purpose).acquire()
    except (IndexLockedError, OSError):
        return None


def read_holder(path: str) -> dict:
    """What ``write.lock`` says about its (last) holder; ``{}`` when empty or unreadable."""
    try:
        with open(path) as f:
            text = f.read()
        holder = json.loads(text) if text.strip() else {}
        return holder if isinstance(holder, dict) else {}
    except (OSError, ValueError):
        return {}


def describe(holder: dict) -> str:
    if not holder:
        return "another process"
    return (f"{holder.get('purpose', 'a writer')} pid {holder.get('pid')} on host {holder.get('host')} "
            f"since {holder.get('since')}")


def _same_file(fd: int, path: str) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _try_flock(fd: int) -> bool:
    if fcntl is None:  # pragma: no cover - no flock: a lock file that exists is held
        return os.fstat(fd).st_size == 0
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
