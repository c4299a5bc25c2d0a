"""``pkgres-patcher drift``: how the patch set fits upstream releases."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TextIO

from patcher import api
from patcher.commands._options import add_release_options, jobs
from patcher.commands.terminal import EXIT_FAILED, EXIT_FETCH, EXIT_OK, EXIT_OUTPUT, ProgressLine, warn
from patcher.disk.atomic import write_text
from patcher.errors import PatcherError, WriteError, reason
from patcher.releases.render import FORMATS, failure_json, render

__all__ = ["add_arguments", "json_failure", "output_format", "progress", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "requirements",
        nargs="*",
        metavar="REQUIREMENT",
        help="PEP 508 requirements (e.g. 'setuptools>=60'); default: every release the patch set covers, and the newest",
    )
    add_release_options(parser)
    formats = parser.add_mutually_exclusive_group()
    formats.add_argument("--format", choices=FORMATS, default=None, help="output format (default text)")
    formats.add_argument("--json", action="store_true", help="the same as --format json")
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE (atomically) instead of stdout")
    parser.add_argument("--jobs", type=jobs, default=8, metavar="N", help="parallel downloads and checks (default 8)")
    talk = parser.add_mutually_exclusive_group()
    talk.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress line on stderr; the text table lists only the releases that drift, its summary "
        "no variant picked for no release",
    )
    talk.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="the text summary names each variant picked for no release checked (else one line counts them)",
    )


def output_format(args: argparse.Namespace) -> str:
    """``--format``, or ``json`` for ``--json``; text by default."""
    return "json" if args.json else str(args.format or "text")


def progress(err: TextIO, quiet: bool) -> Callable[[int, int], None] | None:
    """A progress line on a terminal (none with ``--quiet`` or when stderr is not one)."""
    line = ProgressLine(err, "fetching releases", show=not quiet)
    return line if line.shown else None


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    report = api.drift(
        args.requirements,
        patches=args.patches,
        find_links=args.find_links,
        no_index=args.no_index,
        cache_dir=args.cache_dir,
        jobs=args.jobs,
        progress=progress(err, args.quiet),
    )
    for note in report.notes:
        warn(f"note: {note}", err)
    text = render(report, output_format(args), quiet=args.quiet, verbose=args.verbose)
    written = True
    if args.output:
        try:
            write_text(args.output, text)
        except OSError as exc:
            warn(str(WriteError(args.output, reason(exc))), err)
            written = False
    else:
        out.write(text)
    for error in report.errors:
        warn(f"cannot fetch {error}", err)
    if not written:  # the report is lost: that says more than what it would have said
        return EXIT_OUTPUT
    if report.errors:
        return EXIT_FETCH
    return EXIT_FAILED if report.drift else EXIT_OK


def json_failure(args: argparse.Namespace, error: PatcherError) -> str | None:
    """The JSON of a run that ``error`` stopped (JSON on stdout only: an ``--output`` file is not written)."""
    return failure_json(error) if output_format(args) == "json" and not args.output else None
