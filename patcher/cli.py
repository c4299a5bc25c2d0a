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
from patcher.errors import PatcherError, UsageError
from patcher.locate import ScanResult, current_path, interpreter_path, locate
from patcher.report import copy_to_json, display, locate_json, locate_table

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


def cmd_locate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    result = _scan(args)
    rows = [copy_to_json(copy, "unpatched") for copy in result.copies]
    out.write(locate_json(rows) if args.json else locate_table(rows))
    for copy in result.copies:
        if copy.conflicts:
            others = ", ".join(f"{d.name} {d.version}" for d in copy.conflicts)
            _warn(f"{copy.location}: also installed by {others}", err)
    for error in result.errors:
        _warn(str(error), err)
    return EXIT_FAILED if result.errors else EXIT_OK


_COMMANDS = {"locate": cmd_locate}


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
