"""Share CPU-bound work with forked children; each child's result comes back as bytes.

A scan of a large prefix is bound by the interpreter, not the disk, so it is shared between
processes. Forking (not spawning) costs about a millisecond and no import; the child runs
code already loaded and leaves with ``os._exit``, so nothing of the parent (buffered output,
``atexit`` handlers) runs twice. A child that fails, for whatever reason, only means that the
parent does its share itself: no result depends on a child succeeding.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

__all__ = ["Child", "can_fork", "fork", "usable_cpus"]


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether forking is safe here: a process with other threads could hand the child a lock
    that no thread of the child will ever release."""
    if not hasattr(os, "fork"):
        return False
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1


class Child:
    """A forked child working on its share; :meth:`result` waits for what it sends back."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self._fd: int | None = fd

    def result(self) -> bytes | None:
        """The child's bytes, or None when it failed (or was already collected)."""
        if self._fd is None:
            return None
        chunks = []
        try:
            while True:
                chunk = os.read(self._fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        except OSError:
            chunks = []
        finally:
            self._close()
        status = self._reap()
        return b"".join(chunks) if status == 0 and chunks else None

    def cancel(self) -> None:
        """Stop the child if it still runs (the parent is leaving early)."""
        if self._fd is None:
            return
        self._close()
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass
        self._reap()

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _reap(self) -> int | None:
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return None
        return os.waitstatus_to_exitcode(status)


def fork(work: Callable[[], bytes]) -> Child | None:
    """Run ``work`` in a forked child; None when no child can be made (the caller does it)."""
    try:
        read_fd, write_fd = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return None
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.close(read_fd)
            view = memoryview(work())
            while view:
                view = view[os.write(write_fd, view) :]
            code = 0
        except BaseException:  # noqa: BLE001 - any failure: the parent does this share itself
            pass
        finally:
            os._exit(code)
    os.close(write_fd)
    return Child(pid, read_fd)
