"""One error tree: the library raises these, only the CLI turns them into messages and exit statuses."""

from __future__ import annotations


class PatcherError(Exception):
    """Base of every error the library raises on purpose (a user's input or a user's file)."""


class UsageError(PatcherError):
    """The command line or its arguments are wrong (exit status 2)."""


class InterpreterError(PatcherError):
    """An interpreter named with ``--python`` could not be asked for its ``sys.path``."""


class ScanError(PatcherError):
    """A directory or archive could not be read while looking for copies."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ArchiveError(ScanError):
    """A zipped egg or wheel is truncated or corrupt."""


class PatchSetError(PatcherError):
    """The patch set (series, DEP-3 header or a diff) is malformed."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class PatchFailed(PatcherError):
    """A patch does not fit a copy (named: file, patch, hunk, first mismatching line)."""


class WriteError(PatcherError):
    """A copy could not be rewritten (read-only file, full disk, ...); nothing was changed."""


class FetchError(PatcherError):
    """A release could not be listed, downloaded or read through pip (exit status 3 for drift)."""

    def __init__(self, release: str, reason: str) -> None:
        super().__init__(f"{release}: {reason}")
        self.release = release
        self.reason = reason


class RefreshError(PatcherError):
    """``refresh`` cannot write a new variant (name taken, nothing to refresh, nothing fits)."""
