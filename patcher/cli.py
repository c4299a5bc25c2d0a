"""The command line: the one place that prints and chooses exit statuses.

The exit statuses are :class:`patcher.commands.terminal.ExitStatus`, listed for users in
``docs/reference/exit-statuses.txt`` (the docs' and the man page's one list).

With ``--json`` (``drift``: ``--format json``) every run that is not a usage error prints one
JSON document, which names its ``schema`` and holds the run's ``errors``: a run stopped by an
error prints the document with nothing found and that error. A reader that goes away (``| head``)
ends the run quietly, with status 1.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from patcher import __version__
from patcher.commands import table as commands
from patcher.commands.terminal import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, warn
from patcher.errors import PatcherError, Terminated, UsageError, display

__all__ = ["build_parser", "entrypoint", "main"]


class _ArgumentsError(UsageError):
    """What argparse refused, with the usage of the parser that refused it (the command's own)."""

    def __init__(self, prog: str, message: str, usage: str) -> None:
        super().__init__(prog, message)
        self.usage = usage


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors become :class:`UsageError` so that the error boundary sees them;
    the top-level parser knows each command's parser (``commands``), to show its usage."""

    commands: dict[str, argparse.ArgumentParser]

    def error(self, message: str) -> NoReturn:
        raise _ArgumentsError(self.prog, message, self.format_usage())


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported, to add its arguments."""
    parser = _Parser(
        prog="pkgres-patcher",
        description="Find and patch every copy of pkg_resources so that distributions vanishing mid-scan "
        "are treated as absent.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    parser.commands = {}
    for name, info in commands.COMMANDS.items():
        command_parser = sub.add_parser(name, help=info.summary, description=info.description)
        parser.commands[name] = command_parser
        if name == command:
            commands.load(name).add_arguments(command_parser)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """``argv`` parsed; an argument no parser knows is refused by the command's parser, so that
    the message and the usage shown are the command's (argparse leaves it to the top level)."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        command_parser = getattr(parser, "commands", {}).get(args.command, parser)
        command_parser.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def _usage_error(exc: UsageError, parser: argparse.ArgumentParser, command: str | None) -> tuple[str, str]:
    """The usage to show and the line that says what is wrong: ``pkgres-patcher COMMAND: ...``
    for every usage error of a command, argparse's or the library's."""
    if isinstance(exc, _ArgumentsError):
        return exc.usage, str(exc)
    command_parser = getattr(parser, "commands", {}).get(command) if command is not None else None
    if command_parser is None:
        return parser.format_usage(), f"{parser.prog}: {exc}"
    return command_parser.format_usage(), f"{command_parser.prog}: {exc}"


def _command(argv: Sequence[str]) -> str | None:
    """The command named on the command line (the first word that is not an option)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def _os_error(exc: OSError) -> str:
    """``<path>: <reason>``, one line, for an OSError nothing caught earlier."""
    why = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is None:
        return why
    name = exc.filename if isinstance(exc.filename, str) else os.fsdecode(exc.filename)
    return f"{name}: {why}"


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one command; the error boundary: typed errors become one line on stderr."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command(argv)
    parser = build_parser(command if command in commands.COMMANDS else None)
    args: argparse.Namespace | None = None
    try:
        args = _parse(parser, argv)
        return commands.load(args.command).run(args, out, err)
    except UsageError as exc:
        usage, line = _usage_error(exc, parser, None if args is None else args.command)
        err.write(usage)
        err.write(f"{display(line)}\n")
        return EXIT_USAGE
    except PatcherError as exc:
        warn(str(exc), err)
        document = None if args is None else commands.load(args.command).json_failure(args, exc)
        if document is not None:
            out.write(document)
        return EXIT_FAILED
    except BrokenPipeError:
        raise  # the reader went away: see entrypoint
    except OSError as exc:  # a last resort: the library turns the OSErrors it expects into PatcherErrors
        warn(_os_error(exc), err)
        return EXIT_FAILED
    except KeyboardInterrupt:
        err.write("pkgres-patcher: interrupted\n")
        return EXIT_INTERRUPTED
    except Terminated as exc:
        err.write(f"pkgres-patcher: {_ENDED.get(exc.signum, 'ended')}\n")
        return 128 + exc.signum


#: what is said of a run a signal ended (SIGINT: "interrupted", as ``KeyboardInterrupt``)
_ENDED: dict[int, str] = {signal.SIGTERM: "terminated", signal.SIGHUP: "hung up"}


def entrypoint() -> NoReturn:
    """Console script. A reader that went away (``pkgres-patcher locate | head -1``) is no error
    worth a word: the run ends with status 1, and Python is kept from complaining at exit."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        status = EXIT_FAILED
    sys.exit(status)
