"""``pkgres-patcher verify``: each copy's own code, run in a real interpreter against a scratch
site whose distributions vanish while it scans."""

from __future__ import annotations

import argparse
from typing import TextIO

from patcher import api, forking
from patcher.commands import EXIT_FAILED, EXIT_OK, warn
from patcher.commands._options import add_targets
from patcher.errors import PatcherError
from patcher.verification.render import verify_json, verify_table
from patcher.verification.results import VerifyReport, VerifyStatus

__all__ = ["add_arguments", "json_failure", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_targets(parser)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="race replay and no-false-absence only (no fault sweep)",
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


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    progress = _progress(err)
    report = api.verify(
        args.paths,
        pythons=args.python,
        python_timeout=args.python_timeout,
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
