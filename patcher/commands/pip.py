"""``pkgres-patcher pip``: run an environment's pip under that environment's reader/writer lock."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from patcher.commands._options import add_python_timeout, non_empty
from patcher.commands.lock import seconds, waiting_line
from patcher.commands.terminal import warn
from patcher.envlock import policy, rwlock, supervise
from patcher.errors import CommandError, PatcherError
from patcher.model import LockMode

__all__ = ["add_arguments", "json_failure", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--python",
        type=non_empty,
        default=None,
        metavar="EXE",
        help="the environment's interpreter: runs EXE -m pip (default: the interpreter pkgres-patcher runs on)",
    )
    add_python_timeout(parser)
    parser.add_argument(
        "--lock",
        type=non_empty,
        default=None,
        metavar="FILE",
        help="the lock file (default: <sys.prefix of EXE>/var/lock/pip.lock when it exists, else "
        "/run/lock/pkgres-patcher-pip-<sys.prefix, as a name>.lock: the same file for every user)",
    )
    parser.add_argument(
        "-w",
        "--timeout",
        type=seconds,
        default=None,
        metavar="S",
        help="give up (exit status 1) when the lock is not ours after S seconds in all",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="say which lock is taken and why, on stderr, before pip runs"
    )
    parser.add_argument("pip_args", nargs=argparse.REMAINDER, metavar="-- PIP ARGS", help="pip's command and options")


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    pip_args = args.pip_args[1:] if args.pip_args[:1] == ["--"] else args.pip_args
    python = args.python or sys.executable
    environment = policy.probe(python, args.python_timeout)
    decision = policy.decide_from_arguments(pip_args, environment.installed)  # a usage error makes no lock file
    path = args.lock or policy.default_lock(environment.prefix)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    on_wait = waiting_line(path, err)
    out.flush()
    with rwlock.held(
        path, LockMode.SHARED if decision is None else decision.mode, timeout=args.timeout, on_wait=on_wait
    ) as lock:
        if decision is None:  # asked under the shared lock: nothing is removed while pip looks
            decision = policy.ask_pip(environment, pip_args)
            if decision.mode is LockMode.EXCLUSIVE:
                lock.take(LockMode.EXCLUSIVE, _left(deadline), on_wait)
        if args.verbose:
            warn(f"{decision.mode} lock on {path}: {decision.reason}", err)
            err.flush()
        try:
            return supervise.run_forwarding([python, "-m", "pip", *pip_args])
        except CommandError as exc:
            warn(str(exc), err)
            return exc.status


def json_failure(args: argparse.Namespace, error: PatcherError) -> str | None:
    return None
