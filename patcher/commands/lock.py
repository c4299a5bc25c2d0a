"""``pkgres-patcher lock``: run a command holding a shared or exclusive ``flock(2)`` lock."""

from __future__ import annotations

import argparse
from typing import NoReturn, TextIO

from patcher.commands.terminal import warn
from patcher.envlock import rwlock, supervise
from patcher.errors import CommandError, PatcherError, UsageError
from patcher.model import LockMode

__all__ = ["add_arguments", "json_failure", "run", "seconds"]


def seconds(value: str) -> float:
    """``--timeout``: a number of seconds, 0 or more (0: do not wait at all)."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not number >= 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds, 0 or more, got {value}")
    return number


def _add_options(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument("-s", "--shared", action="store_true", help="a shared lock: other shared holders may run too")
    which.add_argument(
        "-x", "-e", "--exclusive", action="store_true", help="an exclusive lock: nobody else holds the lock meanwhile"
    )
    parser.add_argument(
        "-w",
        "--timeout",
        type=seconds,
        default=None,
        metavar="S",
        help="give up (exit status 1) when the lock is not ours after S seconds (default: wait as long as it takes)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # argparse would show the group as optional ([-s | -x]): one is required, before or after
    # LOCKFILE, which a required group cannot say
    parser.usage = "%(prog)s [-h] (-s | -x) [-w S] LOCKFILE -- COMMAND [ARGS...]"
    _add_options(parser)
    parser.add_argument(
        "lockfile", metavar="LOCKFILE", help="the lock file (created with its directories, never truncated)"
    )
    parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARGS...]", help="what to run")


class _Trailing(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        subject, _, why = message.partition(": ")  # "argument -w/--timeout: must be ..."
        raise UsageError(subject, why) if why else UsageError("arguments", message)


def _options_after_lockfile(args: argparse.Namespace) -> None:
    """``lock -s FILE --timeout 5 -- cmd``: argparse hands everything after FILE to COMMAND;
    options there, up to ``--`` or the first word that is not one, are the lock's own."""
    if not args.argv or not args.argv[0].startswith("-") or args.argv[0] == "-":
        return
    trailing = _Trailing(prog="pkgres-patcher lock", add_help=False)
    _add_options(trailing)
    trailing.add_argument("argv", nargs=argparse.REMAINDER)
    again = trailing.parse_args(args.argv)
    if again.shared or again.exclusive:
        if args.shared or args.exclusive:
            raise UsageError("--shared and --exclusive", "one only")
        args.shared, args.exclusive = again.shared, again.exclusive
    if again.timeout is not None:
        args.timeout = again.timeout
    args.argv = again.argv


def lock_mode(args: argparse.Namespace) -> LockMode:
    if not (args.shared or args.exclusive):
        raise UsageError("--shared or --exclusive", "one is required")
    return LockMode.SHARED if args.shared else LockMode.EXCLUSIVE


def waiting_line(path: str, err: TextIO) -> rwlock.WaitNotice:
    """What is said on stderr when the lock is not free at once."""

    def say(mode: LockMode) -> None:
        warn(f"waiting for {mode} lock on {path}", err)
        err.flush()

    return say


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    _options_after_lockfile(args)
    mode = lock_mode(args)
    if args.argv[:1] == ["--"]:
        args.argv = args.argv[1:]
    if not args.argv:
        raise UsageError("COMMAND", "nothing to run (pkgres-patcher lock --shared LOCKFILE -- COMMAND [ARGS...])")
    out.flush()
    with rwlock.held(args.lockfile, mode, timeout=args.timeout, on_wait=waiting_line(args.lockfile, err)):
        try:
            return supervise.run_forwarding(args.argv)
        except CommandError as exc:
            warn(str(exc), err)
            return exc.status


def json_failure(args: argparse.Namespace, error: PatcherError) -> str | None:
    return None
