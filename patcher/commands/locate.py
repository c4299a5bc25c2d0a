"""``pkgres-patcher locate``: every copy and its state."""

from __future__ import annotations

import argparse
from typing import TextIO

from patcher import api
from patcher.commands import EXIT_FAILED, EXIT_OK, warn
from patcher.commands._options import add_cache_dir, add_targets, scan_jobs
from patcher.model import Report
from patcher.render import copies_json, locate_table

__all__ = ["add_arguments", "report_problems", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_targets(parser)
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="plan every copy afresh instead of reusing the states remembered in the user cache directory",
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


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    report = api.inspect(
        args.paths,
        pythons=args.python,
        jobs=scan_jobs(args),
        patches=args.patches,
        cache=not args.no_cache,
        cache_dir=args.cache_dir,
    )
    out.write(copies_json(report.results) if args.json else locate_table(report.results))
    return report_problems(report, err)
