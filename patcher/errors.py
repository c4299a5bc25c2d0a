"""One error tree: the library raises these, only the CLI turns them into messages and exit statuses.

Every error is about one thing: its message is ``<subject>: <reason>``, and both parts are
attributes, so a caller can collect errors and show them as it likes.
"""

from __future__ import annotations

import sys
import zlib

__all__ = [
    "ArchiveError",
    "CommandError",
    "ExportError",
    "FetchError",
    "InterpreterError",
    "LockError",
    "PatchSetError",
    "PatcherError",
    "RefreshError",
    "ScanError",
    "Terminated",
    "UsageError",
    "WriteError",
    "display",
    "reason",
]


def display(path: str) -> str:
    """A path as it can be shown: undecodable bytes of a file name become ``\\xNN``."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def reason(exc: BaseException) -> str:
    """The part of a low-level error a user needs, for a one-line message ("<path>: <reason>")."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    zipfile = sys.modules.get("zipfile")  # not imported: the error cannot come from it
    if zipfile is not None and isinstance(exc, zipfile.BadZipFile):
        return f"not a valid zip archive ({exc})"
    if isinstance(exc, zlib.error):
        return f"damaged compressed data ({exc})"
    return str(exc) or type(exc).__name__


class PatcherError(Exception):
    """Base of every error the library raises on purpose: ``subject`` (a file, a release, an
    option) and ``reason``."""

    def __init__(self, subject: str, reason: str) -> None:
        super().__init__(f"{subject}: {reason}")
        self.subject = subject
        self.reason = reason


class UsageError(PatcherError):
    """The command line or its arguments are wrong (exit status 2)."""


class InterpreterError(PatcherError):
    """An interpreter named with ``--python`` could not be asked for its ``sys.path``."""


class ScanError(PatcherError):
    """A directory or archive could not be read while looking for copies."""


class ArchiveError(ScanError):
    """A zipped egg or wheel is truncated or corrupt."""


class PatchSetError(PatcherError):
    """The patch set (series, DEP-3 header or a diff) is malformed."""


class WriteError(PatcherError):
    """A copy could not be rewritten (read-only file, full disk, ...); nothing was changed."""


class FetchError(PatcherError):
    """A release could not be listed, downloaded or read through pip (exit status 3 for drift)."""


class RefreshError(PatcherError):
    """``refresh`` cannot write a new variant (name taken, nothing to refresh, nothing fits)."""


class ExportError(PatcherError):
    """``export``/``upstream`` cannot hand the patches on (no variant fits, output refused)."""


class LockError(PatcherError):
    """A lock file could not be opened, or the lock was not acquired within the time allowed."""


class CommandError(PatcherError):
    """A command to run under a lock could not be started; ``status`` is the exit status a shell
    gives for it (127: not found, 126: found but not executable)."""

    def __init__(self, subject: str, reason: str, status: int) -> None:
        super().__init__(subject, reason)
        self.status = status


class Terminated(BaseException):
    """SIGTERM or SIGHUP asked the run to end: raised in the main thread by the handler a
    command installs (see ``patcher.commands.verify``), so that, as for ``KeyboardInterrupt``,
    what the run started is stopped and its temporary files removed on the way out. Not an
    error: nothing catches it but the command line, which exits with 128 + ``signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
