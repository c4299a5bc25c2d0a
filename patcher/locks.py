"""Locks: an exclusive ``flock(2)`` per copy, in a directory of the tool's, never in the user's tree.

``flock(2)`` (not ``fcntl`` record locks) so that ``flock(1)`` in a shell script takes the same
lock; the lock file is named by the SHA-256 of the target's real path, so every alias of a
file (a symlinked view, a bind mount seen twice) shares one lock.

The directory is chosen once per run (:func:`patcher._paths.lock_place`) and set for the run with
:func:`using`, so that the code reading and writing copies need not carry it along.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextvars import ContextVar

from patcher._paths import lock_place
from patcher.errors import WriteError, reason

__all__ = ["exclusive", "lock_path", "using"]

_DIRECTORY: ContextVar[str | None] = ContextVar("pkgres_patcher_lock_dir", default=None)


@contextlib.contextmanager
def using(directory: str) -> Iterator[None]:
    """Take every lock of this run in ``directory``."""
    token = _DIRECTORY.set(directory)
    try:
        yield
    finally:
        _DIRECTORY.reset(token)


def lock_path(target: str) -> str:
    """The lock file for ``target``, keyed by its real path, so every alias of it shares one lock."""
    key = hashlib.sha256(os.fsencode(os.path.realpath(target))).hexdigest()
    return os.path.join(_DIRECTORY.get() or lock_place().path, f"{key}.lock")


@contextlib.contextmanager
def exclusive(target: str) -> Iterator[None]:
    """An exclusive ``flock(2)`` on the lock file of ``target`` (interoperates with ``flock(1)``)."""
    path = lock_path(target)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise WriteError(path, f"cannot create lock ({reason(exc)})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
