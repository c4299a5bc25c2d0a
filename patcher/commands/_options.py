"""Options that several commands share."""

from __future__ import annotations

import argparse

from patcher import forking

__all__ = [
    "MAX_SCAN_JOBS",
    "add_cache_dir",
    "add_change_options",
    "add_lock_dir",
    "add_python_timeout",
    "add_release_options",
    "add_targets",
    "fuzz",
    "jobs",
    "non_empty",
    "python_timeout",
    "scan_jobs",
]

#: beyond this many processes a walk is bound by the disk, not by the interpreter
MAX_SCAN_JOBS = 4


def _whole_number(value: str, low: int, high: int | None = None) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if high is None and number < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, got {number}")
    if high is not None and not low <= number <= high:
        raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {number}")
    return number


def jobs(value: str) -> int:
    """``--jobs``: a whole number, at least 1."""
    return _whole_number(value, 1)


def fuzz(value: str) -> int:
    """``--fuzz``: 0 to 3 outer context lines."""
    return _whole_number(value, 0, 3)


def python_timeout(value: str) -> float:
    """``--python-timeout``: a number of seconds, more than 0."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not 0 < number < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds more than 0, got {value}")
    return number


def add_python_timeout(parser: argparse.ArgumentParser) -> None:
    """``--python-timeout``: how long an interpreter named with ``--python`` has to answer."""
    from patcher.scan.syspath import TIMEOUT

    parser.add_argument(
        "--python-timeout",
        type=python_timeout,
        default=TIMEOUT,
        metavar="SECONDS",
        help=f"how long each --python EXE has to answer what it is asked (its sys.path) before it is ended, "
        f"with every process it started, and the run fails (default: {TIMEOUT:g})",
    )


def non_empty(value: str) -> str:
    """A PATH, EXE or GLOB: an empty one is an unset variable, not "the current directory"."""
    if not value:
        raise argparse.ArgumentTypeError("empty argument '' (an unset variable?)")
    return value


def scan_jobs(args: argparse.Namespace) -> int:
    """``--jobs``, else the CPUs this process may use (at most :data:`MAX_SCAN_JOBS`)."""
    return int(args.jobs) if args.jobs is not None else min(forking.usable_cpus(), MAX_SCAN_JOBS)


#: ``--jobs`` of ``locate``, ``apply`` and ``revert``
WALK_JOBS = "processes sharing the walk of a large tree (default: the CPUs usable, at most 4)"


def add_targets(parser: argparse.ArgumentParser, jobs_help: str = WALK_JOBS) -> None:
    parser.add_argument(
        "paths",
        nargs="*",
        type=non_empty,
        metavar="PATH",
        help="a directory to scan recursively (a prefix, a site-packages, a staging tree) or one egg/wheel",
    )
    parser.add_argument(
        "--python",
        action="append",
        default=[],
        type=non_empty,
        metavar="EXE",
        help="scan the sys.path of this interpreter (2.7 to 3.x) and its ensurepip wheels; repeatable",
    )
    add_python_timeout(parser)
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        type=non_empty,
        metavar="GLOB",
        help="leave out files and directories whose name (GLOB without /) or whole path (GLOB with /) "
        "matches; repeatable",
    )
    parser.add_argument(
        "--one-file-system",
        action="store_true",
        help="do not walk into another file system than the PATH's (like find -xdev)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print JSON instead of a table (docs: JSON documents; schema in patcher/schemas)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="leave out the line of every copy that is fine: problems and the summary",
    )
    parser.add_argument(
        "--jobs",
        type=jobs,
        default=None,
        metavar="N",
        help=jobs_help,
    )
    parser.add_argument(
        "--patches",
        metavar="DIR",
        help="use the patch set in DIR (a series file and its patches) instead of the one shipped",
    )


def add_change_options(parser: argparse.ArgumentParser, *, revert: bool = False) -> None:
    """The options of ``apply`` and, saying "revert" for "patch", of ``revert``."""
    verb = "revert" if revert else "patch"
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--dry-run", action="store_true", help="decide and report, write nothing")
    modes.add_argument(
        "--check",
        action="store_true",
        help="--dry-run that exits 1 when any copy would change or cannot be changed (for CI)",
    )
    parser.add_argument(
        "--diff",
        action="store_true",
        help="print the unified diff written (or, with --dry-run, to be written) per copy, relative to its "
        "import root (patch -p1 from the site-packages); the other lines go to stderr",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="name the variant of each patch, and its offsets, on each line"
    )
    parser.add_argument(
        "--fuzz",
        type=fuzz,
        default=0,
        metavar="N",
        help=(
            "let the reversed hunks fit by ignoring up to N outer context lines"
            if revert
            else "let hunks fit by ignoring up to N outer context lines"
        )
        + " (reported as fuzz; default 0: exact or offset only)",
    )
    parser.add_argument(
        "--wheels",
        action="store_true",
        help=f"also {verb} wheels lying in the scanned trees or bundled with an interpreter "
        "(artefacts, left alone unless named as a PATH)",
    )
    parser.add_argument(
        "--output",
        type=non_empty,
        metavar="DIR",
        help=f"write the wheels and zipped eggs named as PATH {'reverted' if revert else 'patched'} into DIR "
        "(same names; made when missing), leaving the files named untouched",
    )


def add_cache_dir(parser: argparse.ArgumentParser, holds: str) -> None:
    """``--cache-dir``: the same directory for every command (``$PKGRES_PATCHER_CACHE_DIR``)."""
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help=f"the tool's cache directory, here for {holds} (default: $PKGRES_PATCHER_CACHE_DIR, else "
        "pkgres-patcher in the user cache directory; a directory of the user's in the temporary directory "
        "when that cannot be written)",
    )


def add_lock_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lock-dir",
        metavar="DIR",
        help="where the lock files of copies go (default: $PKGRES_PATCHER_LOCK_DIR, else $XDG_RUNTIME_DIR/"
        "pkgres-patcher/locks, else ~/.cache/pkgres-patcher/locks, else a directory of the user's in the "
        "temporary directory); every run that shares copies must use the same",
    )


def add_release_options(parser: argparse.ArgumentParser, cached: str = "downloaded releases, in DIR/releases") -> None:
    """Where releases come from (pip's index, ``--find-links``) and go (``--cache-dir``), and the patch set."""
    parser.add_argument(
        "--find-links",
        action="append",
        default=[],
        metavar="DIR",
        help="also look for releases in DIR (passed to pip; repeatable)",
    )
    parser.add_argument("--no-index", action="store_true", help="do not use the package index (only --find-links)")
    add_cache_dir(parser, cached)
    parser.add_argument("--patches", metavar="DIR", help="use the patch set in DIR instead of the one shipped")
