"""The command line: the one place that prints and chooses exit statuses.

Exit statuses: 0 everything asked for was done; 1 something could not be done (each named on
stderr, one line each); 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn, Optional, TextIO

from patcher import __version__
from patcher.engine import Outcome, inspect, process, unified_diff
from patcher.errors import PatcherError, UsageError
from patcher.locate import ScanResult, current_path, interpreter_path, locate
from patcher.patchset import PatchSet, load_patchset
from patcher.report import copy_to_json, display, locate_json, locate_table, outcome_json, outcome_line, steps_json

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors become :class:`UsageError` so that the error boundary sees them."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _add_targets(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="a directory to scan recursively (a prefix, a site-packages, a staging tree) or one egg/wheel",
    )
    parser.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="EXE",
        help="scan the sys.path of this interpreter (2.7 to 3.x); repeatable",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--patches",
        metavar="DIR",
        help="use the patch set in DIR (a series file and its patches) instead of the one shipped",
    )


def _add_change_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="decide and report, write nothing")
    parser.add_argument("--diff", action="store_true", help="print the unified diff written (or, with --dry-run, to be written) per copy")
    parser.add_argument(
        "--fuzz",
        type=_fuzz,
        default=0,
        metavar="N",
        help="let hunks fit by ignoring up to N outer context lines (reported as fuzz; default 0: exact or offset only)",
    )
    parser.add_argument("--wheels", action="store_true", help="also patch wheels lying in the scanned trees (artefacts, skipped by default)")


def _fuzz(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 0 <= number <= 3:
        raise argparse.ArgumentTypeError(f"must be from 0 to 3, got {number}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pkgres-patcher",
        description="Find and patch every copy of pkg_resources so that distributions vanishing mid-scan are treated as absent.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    p_locate = sub.add_parser(
        "locate",
        help="list every copy of pkg_resources",
        description="List every copy of pkg_resources. With no PATH and no --python: the running interpreter's sys.path.",
    )
    _add_targets(p_locate)
    p_apply = sub.add_parser(
        "apply",
        help="patch every copy",
        description="Patch every copy of pkg_resources (same targets as locate). Exit 0 when every copy ends patched.",
    )
    _add_targets(p_apply)
    _add_change_options(p_apply)
    p_revert = sub.add_parser(
        "revert",
        help="give every patched copy its original bytes back",
        description="Revert the patch set on every copy (same targets as locate). Exit 0 when every copy ends unpatched.",
    )
    _add_targets(p_revert)
    _add_change_options(p_revert)
    return parser


def _scan(args: argparse.Namespace) -> ScanResult:
    paths: list[str] = list(args.paths)
    for python in args.python:
        paths.extend(interpreter_path(python))
    if not args.paths and not args.python:
        paths = current_path()
    return locate(paths)


def _warn(message: str, stream: TextIO) -> None:
    stream.write(f"pkgres-patcher: {display(message)}\n")


def _patchset(args: argparse.Namespace) -> PatchSet:
    return load_patchset(args.patches)


def _report_scan(result: ScanResult, err: TextIO) -> None:
    for copy in result.copies:
        if copy.conflicts:
            others = ", ".join(f"{d.name} {d.version}" for d in copy.conflicts)
            _warn(f"{copy.location}: also installed by {others}", err)
    for error in result.errors:
        _warn(str(error), err)


def cmd_locate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    patchset = _patchset(args)
    result = _scan(args)
    rows = []
    failed = bool(result.errors)
    for copy in result.copies:
        try:
            state, plan = inspect(copy, patchset)
        except PatcherError as exc:
            _warn(str(exc), err)
            failed = True
            continue
        rows.append(copy_to_json(copy, state, {"patches": steps_json(plan)}))
    out.write(locate_json(rows) if args.json else locate_table(rows))
    _report_scan(result, err)
    return EXIT_FAILED if failed else EXIT_OK


def _change(args: argparse.Namespace, out: TextIO, err: TextIO, revert: bool) -> int:
    patchset = _patchset(args)
    result = _scan(args)
    outcomes: list[Outcome] = []
    for copy in result.copies:
        if copy.container == "wheel" and not args.wheels:
            continue
        outcomes.append(process(copy, patchset, revert=revert, dry_run=args.dry_run, fuzz=args.fuzz))
    if args.json:
        out.write(outcome_json(outcomes, dry_run=args.dry_run))
    else:
        for outcome in outcomes:
            out.write(outcome_line(outcome, dry_run=args.dry_run))
    if args.diff:
        for outcome in outcomes:
            out.write(unified_diff(outcome))
    for outcome in outcomes:
        for warning in outcome.warnings:
            _warn(f"warning: {warning}", err)
        if not outcome.ok and outcome.message:
            _warn(outcome.message, err)
    _report_scan(result, err)
    failed = bool(result.errors) or not all(o.ok for o in outcomes)
    return EXIT_FAILED if failed else EXIT_OK


def cmd_apply(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return _change(args, out, err, revert=False)


def cmd_revert(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return _change(args, out, err, revert=True)


_COMMANDS = {"locate": cmd_locate, "apply": cmd_apply, "revert": cmd_revert}


def main(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run one command; the error boundary: typed errors become one line on stderr."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return _COMMANDS[args.command](args, out, err)
    except UsageError as exc:
        parser.print_usage(err)
        err.write(f"{display(str(exc))}\n")
        return EXIT_USAGE
    except PatcherError as exc:
        _warn(str(exc), err)
        return EXIT_FAILED
    except KeyboardInterrupt:
        err.write("pkgres-patcher: interrupted\n")
        return 130


def entrypoint() -> NoReturn:
    """Console script."""
    sys.exit(main())
