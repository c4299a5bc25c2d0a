"""Locks: an exclusive ``flock(2)`` per copy, in a directory of the tool's, never in the user's tree.

``flock(2)`` (not ``fcntl`` record locks) so that ``flock(1)`` in a shell script takes the same
lock; the lock file is named by the SHA-256 of the target's real path, so every alias of a
file (a symlinked view, a bind mount seen twice) shares one lock.

The directory is :func:`patcher.locations.lock_place`'s (set for a run with :func:`patcher.locations.using`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator

from patcher.errors import WriteError, reason
from patcher.locations import lock_place

__all__ = ["exclusive", "lock_path"]


def lock_path(target: str) -> str:
    """The lock file for ``target``, keyed by its real path, so every alias of it shares one lock."""
    key = hashlib.sha256(os.fsencode(os.path.realpath(target))).hexdigest()
    return os.path.join(lock_place().path, f"{key}.lock")


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
