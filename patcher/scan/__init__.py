"""Finding every copy of pkg_resources: in directories, directory eggs, zipped eggs and wheels.

Finding a copy never modifies anything. The parts, each readable alone: :mod:`.rules` (which
paths are copies), :mod:`.metadata` and :mod:`.origin` (what the files around a copy say of
it), :mod:`.owners` (who installed it), :mod:`.archives` (copies in eggs and wheels),
:mod:`.walk` (the walk), :mod:`.sharing` (the walk shared between processes), :mod:`.packages`
(conda, dpkg and rpm packages that installed a copy) and
:mod:`.syspath` (the ``sys.path`` to scan).

Imports are kept to what a scan needs: ``locate`` is timed against ``find``, and a Python
start-up with a few imports already costs a fair part of find's whole run (see
benchmarks/bench_locate.py).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from typing import TYPE_CHECKING

from patcher.scan.walk import ScanResult, Walker

if TYPE_CHECKING:
    from patcher.scan.syspath import Interpreter

__all__ = ["ScanResult", "scan"]


def scan(
    paths: Iterable[str],
    interpreters: Iterable[Interpreter] = (),
    jobs: int = 1,
    exclude: Iterable[str] = (),
    one_file_system: bool = False,
) -> ScanResult:
    """Find every copy below ``paths`` (directories scanned recursively, or single archives),
    in the entries of each interpreter's ``sys.path`` and in the wheels its ``ensurepip`` bundles.

    With ``jobs`` > 1, large trees are walked by that many processes (the result is the same).
    ``exclude`` globs and ``one_file_system`` bound the walks (see :class:`Walker`).
    """
    walker = Walker(jobs, exclude, one_file_system)
    # A scan makes some 100,000 short-lived objects and no reference cycle: the collector's
    # passes over them would cost a third of the scan.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for path in paths:
            walker.scan(path)
        for interpreter in interpreters:
            for entry in interpreter.path:
                walker.scan(entry, sys_path_entry=True)
            if interpreter.bundled is not None:
                walker.scan_bundled(interpreter.bundled, interpreter.python)
    finally:
        if collecting:
            gc.enable()
    found = walker.result()
    if not found.copies:
        return found
    from patcher.scan.packages import with_packages

    return found._replace(copies=with_packages(found.copies))
