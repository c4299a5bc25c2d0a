"""``pkgres-patcher verify``: each copy's own code, run in a real interpreter against a scratch
site whose distributions vanish while it scans."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TextIO

from patcher import api, forking
from patcher.commands._options import add_targets, non_empty
from patcher.commands.terminal import EXIT_FAILED, EXIT_OK, warn
from patcher.errors import PatcherError, Terminated
from patcher.verification.render import verify_json, verify_table
from patcher.verification.results import VerifyReport, VerifyStatus

__all__ = ["add_arguments", "json_failure", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_targets(
        parser,
        jobs_help="processes of the fault sweep run at once, each forked from a server in the copy's interpreter "
        "(default: the CPUs usable)",
    )
    parser.add_argument(
        "--run-with",
        action="append",
        default=[],
        type=non_empty,
        metavar="EXE",
        help="run the copies with this interpreter (the first of them on which a copy's pristine text runs); "
        "adds no target, unlike --python; repeatable (default: the --python whose sys.path holds the copy, "
        "its prefix's own, the pythonX.Y its path names, the running one, the Pythons its release supported)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="race replay and same listing only (no fault sweep)",
    )
    parser.add_argument(
        "--wheels",
        action="store_true",
        help="also verify wheels lying in the scanned trees or bundled with an interpreter "
        "(artefacts, left alone unless named as a PATH, as apply leaves them)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="a copy that no interpreter can run (not verifiable) fails the run too",
    )


def _progress(err: TextIO) -> api.VerifyProgress | None:
    """A progress line, rewritten in place, when stderr is a terminal."""
    if not err.isatty():
        return None

    def show(message: str) -> None:
        err.write("\r" + message[-150:] + "\x1b[K")
        err.flush()

    return show


@contextmanager
def _ended_by_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Terminated` in the main thread, as SIGINT raises
    ``KeyboardInterrupt``: the run stops its probe processes and removes its scratch directory
    on the way out instead of dying where it stands. A signal the run was started ignoring
    (``nohup``) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def end(signum: int, frame: FrameType | None) -> None:
        raise Terminated(signum)

    previous = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            previous[signum] = signal.signal(signum, end)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with _ended_by_signals():
        return _run(args, out, err)


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    progress = _progress(err)
    report = api.verify(
        args.paths,
        pythons=args.python,
        python_timeout=args.python_timeout,
        run_with=args.run_with,
        jobs=args.jobs or forking.usable_cpus(),
        quick=args.quick,
        patches=args.patches,
        exclude=args.exclude,
        one_file_system=args.one_file_system,
        wheels=args.wheels,
        progress=progress,
    )
    if progress is not None:
        err.write("\r\x1b[K")
    out.write(
        verify_json(report, quick=args.quick, strict=args.strict) if args.json else verify_table(report, args.quiet)
    )
    for result in report.results:
        if result.status is VerifyStatus.FAILED:
            warn(f"{result.copy.location}: failed verification", err)
        elif result.status is VerifyStatus.NOT_VERIFIABLE:
            warn(f"{result.copy.location}: not verifiable: {result.reason}", err)
    for error in report.errors:
        warn(str(error), err)
    return EXIT_OK if report.ok(args.strict) else EXIT_FAILED


def json_failure(args: argparse.Namespace, error: PatcherError) -> str | None:
    """The JSON of a run that ``error`` stopped (with ``--json``): no copy, the error."""
    return verify_json(VerifyReport((), (error,)), quick=args.quick, strict=args.strict) if args.json else None
