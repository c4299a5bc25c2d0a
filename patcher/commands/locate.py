"""``pkgres-patcher locate``: every copy and its state."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import TextIO

from patcher import api
from patcher.commands._options import add_cache_dir, add_targets, scan_jobs
from patcher.commands.terminal import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, ProgressLine, warn
from patcher.errors import PatcherError
from patcher.model import Copy, CopyResult, Report, State
from patcher.render import locate_json, locate_table

__all__ = ["add_arguments", "json_failure", "not_judged", "report_problems", "run", "unfit"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_targets(parser)
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="plan every copy afresh instead of reusing the states remembered in the user cache directory",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 unless every copy is patched (each other one named on stderr; for CI)",
    )
    parser.add_argument(
        "--wheels",
        action="store_true",
        help="with --check, judge wheels lying in the scanned trees too (as apply --wheels would patch them)",
    )
    add_cache_dir(parser, "the states remembered, in DIR/states")


def report_problems(report: Report, err: TextIO) -> int:
    """Warnings and errors on stderr, one line each; the exit status they make."""
    for note in report.notes:
        warn(f"note: {note}", err)
    for result in report.results:
        for warning in result.warnings:
            warn(f"warning: {warning}", err)
        if not result.ok and result.message:
            warn(result.message, err)
    for result in report.results:
        copy = result.copy
        if copy.conflicts:
            others = ", ".join(f"{d.name} {d.version}" for d in copy.conflicts)
            warn(f"{copy.location}: also installed by {others}", err)
    for error in report.errors:
        warn(str(error), err)
    return EXIT_OK if report.ok else EXIT_FAILED


def unfit(results: Iterable[CopyResult], paths: Iterable[str], wheels: bool) -> list[CopyResult]:
    """The copies ``--check`` fails on: every copy not ``patched``, except in wheels lying in a
    tree or bundled with an interpreter (artefacts ``apply`` leaves alone) unless ``wheels`` or
    the wheel is named in ``paths``."""
    results = list(results)
    chosen = set(api.select([r.copy for r in results], paths, wheels=wheels)[0])
    return [r for r in results if r.state is not State.PATCHED and r.copy in chosen]


def not_judged(results: Iterable[CopyResult], paths: Iterable[str], wheels: bool) -> list[Copy]:
    """The copies ``--check`` does not judge (see :func:`unfit`), whatever their state."""
    return api.select([r.copy for r in results], paths, wheels=wheels)[1]


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    progress = ProgressLine(err, "judging copies", show=not args.quiet)
    try:
        report = api.inspect(
            args.paths,
            pythons=args.python,
            python_timeout=args.python_timeout,
            jobs=scan_jobs(args),
            patches=args.patches,
            cache=not args.no_cache,
            exclude=args.exclude,
            one_file_system=args.one_file_system,
            cache_dir=args.cache_dir,
            progress=progress,
        )
    except KeyboardInterrupt:
        warn(progress.interrupted(), err)
        return EXIT_INTERRUPTED
    if args.json:
        out.write(locate_json(report))
    else:
        left = not_judged(report.results, args.paths, args.wheels) if args.check else []
        out.write(locate_table(report.results, quiet=args.quiet, not_judged=left))
    status = report_problems(report, err)
    if args.check:
        for result in unfit(report.results, args.paths, args.wheels):
            warn(f"{result.copy.location}: {result.state}", err)
            status = EXIT_FAILED
    return status


def json_failure(args: argparse.Namespace, error: PatcherError) -> str | None:
    """The JSON of a run that ``error`` stopped (with ``--json``): no copy, the error."""
    return locate_json(Report((), (error,))) if args.json else None
