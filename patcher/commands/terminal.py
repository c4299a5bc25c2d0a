"""What a command says on the terminal, and the status it ends with: one line per message on
stderr (:func:`warn`), a progress line on a terminal (:class:`ProgressLine`), the exit
statuses (:class:`ExitStatus`, docs: reference/exit-statuses)."""

from __future__ import annotations

import enum
from typing import TextIO

from patcher.errors import display

__all__ = [
    "EXIT_FAILED",
    "EXIT_FETCH",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_OUTPUT",
    "EXIT_USAGE",
    "ExitStatus",
    "ProgressLine",
    "warn",
]


class ExitStatus(enum.IntEnum):
    """The exit statuses of the tool (docs: reference/exit-statuses)."""

    OK = 0
    FAILED = 1
    USAGE = 2
    #: releases could not be listed, fetched or read
    FETCH = 3
    #: the report could not be written to ``--output FILE``
    OUTPUT = 4
    INTERRUPTED = 130


EXIT_OK = ExitStatus.OK
EXIT_FAILED = ExitStatus.FAILED
EXIT_USAGE = ExitStatus.USAGE
EXIT_FETCH = ExitStatus.FETCH
EXIT_OUTPUT = ExitStatus.OUTPUT
EXIT_INTERRUPTED = ExitStatus.INTERRUPTED


class ProgressLine:
    """``LABEL: DONE/TOTAL`` on stderr, rewritten in place, only when stderr is a terminal (and
    ``show``), wiped when all is done; it keeps count either way, for the line said when the
    run is interrupted. Given to the library as its ``progress``."""

    def __init__(self, err: TextIO, label: str, show: bool = True) -> None:
        self.err = err
        self.label = label
        self.shown = show and err.isatty()
        self.done = 0
        self.total: int | None = None
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        if not self.shown:
            return
        self.err.write(f"\r{self.label}: {done}/{total}" + ("\r\x1b[K" if done == total else ""))
        self._drawn = done != total
        self.err.flush()

    def interrupted(self) -> str:
        """What is said on Ctrl-C (the line wiped first): how far the run got."""
        if self._drawn:
            self.err.write("\r\x1b[K")
            self._drawn = False
        if self.total is None:
            return "interrupted"
        return f"interrupted: {self.done} of {self.total} {'copy' if self.total == 1 else 'copies'} done"


def warn(message: str, stream: TextIO) -> None:
    """One line on stderr, as every message of the tool is written."""
    stream.write(f"pkgres-patcher: {display(message)}\n")
