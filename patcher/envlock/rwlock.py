"""A reader/writer lock on a file the user names: ``flock(2)``, shared or exclusive.

``flock(2)``, not ``fcntl`` record locks, so that util-linux ``flock(1)`` and Sage's
``sage-flock`` (``fcntl.flock`` too) on the same file exclude and admit exactly as this does.
The file is opened without truncation (it may hold something of the user's: a lock file can
be any file, even a directory) and created, with its directories, when missing; the lock is
held by this process only (the descriptor is close-on-exec), so a daemon that a locked command
leaves behind cannot keep it. A turnstile in the tool's lock directory keeps a waiting writer
from being starved by readers (:class:`FileLock`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

from patcher.errors import LockError, reason
from patcher.model import LockMode

__all__ = ["FileLock", "WaitNotice", "held", "open_lockfile"]

#: told the mode when the lock is not free at once (to say that it waits)
WaitNotice = Callable[[LockMode], None]

_FLAGS = {LockMode.SHARED: fcntl.LOCK_SH, LockMode.EXCLUSIVE: fcntl.LOCK_EX}
#: errors that mean "someone else holds it" for a non-blocking ``flock(2)``
_BUSY = (errno.EWOULDBLOCK, errno.EAGAIN)
#: opening for writing fails on a file one may only read, or a directory: ``flock(2)`` needs neither
_READ_ONLY_WILL_DO = (errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ETXTBSY)


def open_lockfile(path: str) -> int:
    """A descriptor of ``path`` to lock: opened read-write (created ``0666 & ~umask`` with its
    directories when missing, never truncated), or read-only when it exists but cannot be
    written (``flock(2)`` does not care; util-linux ``flock(1)`` does the same for directories)."""
    directory = os.path.dirname(path)
    if directory:
        try:
            os.makedirs(directory, exist_ok=True)
        except FileExistsError as exc:  # a part of it is a file
            raise LockError(path, f"cannot create its directory {exc.filename} (Not a directory)") from None
        except OSError as exc:
            raise LockError(path, f"cannot create its directory {exc.filename or directory} ({reason(exc)})") from None
    flags = os.O_CLOEXEC | os.O_NOCTTY
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | flags, 0o666)
    except OSError as exc:
        if exc.errno not in _READ_ONLY_WILL_DO or not os.path.exists(path):
            raise LockError(path, f"cannot open the lock file ({reason(exc)})") from None
    try:
        return os.open(path, os.O_RDONLY | flags)
    except OSError as exc:
        raise LockError(path, f"cannot open the lock file ({reason(exc)})") from None


class _TimedOut(Exception):
    pass


def _try(fd: int, mode: LockMode) -> bool:
    """Take the lock if nobody stands in the way; False when someone does."""
    try:
        fcntl.flock(fd, _FLAGS[mode] | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in _BUSY:
            return False
        raise
    return True


def _wait(fd: int, mode: LockMode, timeout: float | None) -> bool:
    """Block until the lock is ours (True), or ``timeout`` seconds have passed (False).

    In the main thread the blocking ``flock(2)`` is cut short by an interval timer, as
    util-linux ``flock -w`` does, so a waiter queues in the kernel like any other; elsewhere
    (no signal handler can be set) it polls.
    """
    if timeout is None:
        fcntl.flock(fd, _FLAGS[mode])
        return True
    if timeout <= 0:
        return _try(fd, mode)
    if threading.current_thread() is not threading.main_thread():
        deadline = time.monotonic() + timeout
        while not _try(fd, mode):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True
    acquired = False

    def expire(signum: int, frame: object) -> None:
        if not acquired:  # the lock may have come just before the timer went off: keep it
            raise _TimedOut

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        fcntl.flock(fd, _FLAGS[mode])
        acquired = True
    except _TimedOut:
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return acquired


def _gate(path: str) -> int | None:
    """The turnstile of ``path``'s lock: a file in the tool's lock directory (never next to the
    user's), named by the SHA-256 of ``path``'s real path; None when none can be had (the lock
    is as correct without it, only not fair to writers)."""
    import hashlib

    from patcher.errors import PatcherError
    from patcher.locations import lock_place

    try:
        key = hashlib.sha256(os.fsencode(os.path.realpath(path))).hexdigest()
        gate = os.path.join(lock_place().path, f"{key}.gate")
    except (OSError, PatcherError):
        return None
    for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):  # another user's gate: read-only will do
        try:
            return os.open(gate, flags | os.O_CLOEXEC, 0o666)
        except OSError:
            continue
    return None


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


class FileLock:
    """A lock file held through one descriptor; closing it releases the lock, also when the
    process dies.

    ``flock(2)`` admits a new shared holder while an exclusive one waits, so a steady stream of
    readers (a parallel build's installs) can keep a writer (an upgrade) waiting for ever. So
    this lock is taken through a turnstile, a second ``flock(2)`` taken in the same mode and
    let go once the lock is held: a writer waits at it, holding it, until the readers inside
    are done, and readers that come later queue behind it. ``flock(1)`` and ``sage-flock``
    know nothing of the turnstile: with them the lock still excludes as it should, only
    without that fairness.
    """

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self.fd = fd
        self.mode: LockMode | None = None

    def take(self, mode: LockMode, timeout: float | None = None, on_wait: WaitNotice | None = None) -> None:
        """Hold the lock in ``mode``, waiting at most ``timeout`` seconds in all (None: as long
        as it takes); ``on_wait`` is told once when it has to wait. A lock held already is let
        go first (so that two holders changing to exclusive at once cannot wait for each other)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        told = False

        def get(fd: int) -> None:
            nonlocal told
            if _try(fd, mode):
                return
            if on_wait is not None and not told:
                on_wait(mode)
                told = True
            if not _wait(fd, mode, _left(deadline)):
                raise LockError(self.path, f"no {mode} lock within {timeout:g} s")

        try:
            if self.mode is not None:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
                self.mode = None
            gate = _gate(self.path)
            try:
                if gate is not None:
                    get(gate)
                get(self.fd)
            finally:
                if gate is not None:
                    os.close(gate)
        except OSError as exc:
            raise LockError(self.path, f"cannot lock ({reason(exc)})") from None
        self.mode = mode

    def close(self) -> None:
        os.close(self.fd)
        self.mode = None


@contextlib.contextmanager
def held(
    path: str,
    mode: LockMode,
    *,
    timeout: float | None = None,
    on_wait: WaitNotice | None = None,
) -> Iterator[FileLock]:
    """``path`` locked in ``mode`` for the ``with`` block (see :meth:`FileLock.take`)."""
    lock = FileLock(path, open_lockfile(path))
    try:
        lock.take(mode, timeout, on_wait)
        yield lock
    finally:
        lock.close()
