"""The command line: the one place that prints and chooses exit statuses.

Exit statuses: 0 everything asked for was done; 1 something could not be done (each named on
stderr, one line each); 2 usage; 3 (``drift``, ``refresh``) releases could not be fetched.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn, Optional, TextIO

from patcher import __version__, _forked
from patcher.errors import FetchError, PatcherError, UsageError, reason
from patcher.locate import ScanResult, current_path, interpreter_path, locate
from patcher.report import DRIFT_FORMATS, copy_to_json, display, locate_json, locate_table, outcome_json, outcome_line, steps_json

if TYPE_CHECKING:
    from patcher._releases import Index
    from patcher.engine import Outcome
    from patcher.patchset import PatchSet

# Only what every command needs is imported above: the planner (engine, patch set parsing and
# their dependencies) is imported when a command needs it, so that ``locate`` answered from
# the state cache does without (see patcher/statecache.py).

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_FETCH = 3

#: beyond this many processes a walk is bound by the disk, not by the interpreter
MAX_SCAN_JOBS = 4


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
        "--jobs",
        type=_jobs,
        default=None,
        metavar="N",
        help="processes sharing the walk of a large tree (default: the CPUs usable, at most 4)",
    )
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
    p_locate.add_argument(
        "--no-cache",
        action="store_true",
        help="plan every copy afresh instead of reusing the states remembered in the user cache directory",
    )
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
    _add_drift(sub)
    _add_refresh(sub)
    return parser


def _scan(args: argparse.Namespace) -> ScanResult:
    sys_path: list[str] = []
    for python in args.python:
        sys_path.extend(interpreter_path(python))
    if not args.paths and not args.python:
        sys_path = current_path()
    jobs = args.jobs if args.jobs is not None else min(_forked.usable_cpus(), MAX_SCAN_JOBS)
    return locate(args.paths, sys_path, jobs=jobs)


def _warn(message: str, stream: TextIO) -> None:
    stream.write(f"pkgres-patcher: {display(message)}\n")


def _patchset(args: argparse.Namespace) -> PatchSet:
    from patcher.patchset import load_patchset

    return load_patchset(args.patches)


def _report_scan(result: ScanResult, err: TextIO) -> None:
    for copy in result.copies:
        if copy.conflicts:
            others = ", ".join(f"{d.name} {d.version}" for d in copy.conflicts)
            _warn(f"{copy.location}: also installed by {others}", err)
    for error in result.errors:
        _warn(str(error), err)


def _state_key(sha256: str, is_source: bool) -> str:
    return f"{sha256}:{'source' if is_source else 'bytecode'}"


def cmd_locate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from patcher.statecache import open_cache

    cache = open_cache(args.patches, enabled=not args.no_cache)
    # a patch set the cache knows was parsed without error before; any other is parsed (and
    # so checked) even when no copy is found
    patchset = None if cache.known else _patchset(args)
    result = _scan(args)
    rows = []
    failed = bool(result.errors)
    for copy in result.copies:
        # the state depends on the bytes alone: copies with the same bytes (every venv's pip
        # of one release) are planned once, and once only across runs
        key = _state_key(copy.sha256, (copy.member or copy.file).endswith(".py"))
        planned = cache.get(key)
        if planned is None:
            from patcher.engine import inspect

            if patchset is None:
                patchset = _patchset(args)
            try:
                state, plan = inspect(copy, patchset, result.texts.get(copy.sha256))
            except PatcherError as exc:
                _warn(str(exc), err)
                failed = True
                continue
            planned = {"state": state, "patches": steps_json(plan)}
            cache.put(key, planned)
        rows.append(copy_to_json(copy, planned["state"], {"patches": planned["patches"]}))
    out.write(locate_json(rows) if args.json else locate_table(rows))
    _report_scan(result, err)
    cache.save()
    return EXIT_FAILED if failed else EXIT_OK


def _change(args: argparse.Namespace, out: TextIO, err: TextIO, revert: bool) -> int:
    from patcher.engine import process, unified_diff

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


# --- drift / refresh ---------------------------------------------------------------------------


def _jobs(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _add_release_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--find-links", action="append", default=[], metavar="DIR",
                        help="also look for releases in DIR (passed to pip; repeatable)")
    parser.add_argument("--no-index", action="store_true", help="do not use the package index (only --find-links)")
    parser.add_argument("--cache-dir", metavar="DIR", help="where downloaded releases are kept (default: pkgres-patcher/releases in the user cache directory)")
    parser.add_argument("--patches", metavar="DIR", help="use the patch set in DIR instead of the one shipped")


def _add_drift(sub: argparse._SubParsersAction[_Parser]) -> None:
    p_drift = sub.add_parser(
        "drift",
        help="check the patch set against upstream releases",
        description="Check how the patch set fits upstream releases of setuptools, pip and pkg-resources-backport, "
        "fetched through pip. Exit 0 when nothing fails, needs fuzz or is out of range; 1 otherwise; "
        "3 when releases could not be fetched.",
    )
    p_drift.add_argument("requirements", nargs="*", metavar="REQUIREMENT",
                         help="PEP 508 requirements (e.g. 'setuptools>=60'); default: every release the patch set covers, and the newest")
    _add_release_options(p_drift)
    p_drift.add_argument("--format", choices=DRIFT_FORMATS, default="text", help="output format (default text)")
    p_drift.add_argument("--output", metavar="FILE", help="write the report to FILE (atomically) instead of stdout")
    p_drift.add_argument("--jobs", type=_jobs, default=8, metavar="N", help="parallel downloads and checks (default 8)")
    p_drift.add_argument("--quiet", action="store_true", help="no progress line on stderr")


def _add_refresh(sub: argparse._SubParsersAction[_Parser]) -> None:
    p_refresh = sub.add_parser(
        "refresh",
        help="write a new variant of a patch for an upstream release",
        description="Derive a new variant of PATCH for the newest release matching --for from the nearest variant, "
        "with fresh context, and add it to series before that variant.",
    )
    p_refresh.add_argument("patch", metavar="PATCH", help="the patch (directory name in the patch set)")
    p_refresh.add_argument("--for", dest="for_", required=True, metavar="REQUIREMENT", help="the release, e.g. 'setuptools==99.0.0'")
    _add_release_options(p_refresh)


def _index(args: argparse.Namespace) -> "Index":
    from patcher._releases import Index

    return Index(tuple(args.find_links), args.no_index)


def _progress(err: TextIO, quiet: bool) -> Optional[Callable[[int, int], None]]:
    if quiet or not err.isatty():
        return None

    def show(done: int, total: int) -> None:
        err.write(f"\rfetching releases: {done}/{total}" + ("\r\x1b[K" if done == total else ""))
        err.flush()

    return show


def cmd_drift(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # imported here: locate/apply/revert, which distribution builders run often, need none of it
    from patcher._fs import write_text
    from patcher._releases import default_cache_dir
    from patcher.drift import run_drift
    from patcher.drift_report import render

    patchset = _patchset(args)
    cache = args.cache_dir or default_cache_dir()
    report = run_drift(args.requirements, patchset, _index(args), cache, args.jobs, _progress(err, args.quiet))
    text = render(report, args.format, [p.name for p in patchset.patches])
    if args.output:
        try:
            write_text(args.output, text)
        except OSError as exc:
            raise PatcherError(f"{args.output}: {reason(exc)}") from None
    else:
        out.write(text)
    for error in report.errors:
        _warn(f"cannot fetch {error}", err)
    if report.errors:
        return EXIT_FETCH
    return EXIT_FAILED if report.drift else EXIT_OK


def cmd_refresh(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from patcher._releases import default_cache_dir
    from patcher.refresh import refresh

    try:
        done = refresh(args.patch, args.for_, _index(args), args.cache_dir or default_cache_dir(), args.patches)
    except FetchError as exc:
        _warn(f"cannot fetch {exc}", err)
        return EXIT_FETCH
    fuzz = f" with fuzz {done.fuzz}" if done.fuzz else ""
    out.write(f"wrote {display(done.path)}: {done.variant} (from {done.derived_from}{fuzz})\n")
    row = done.result
    out.write(f"{row.project} {row.version} {row.copy}: {row.status}" + (f" ({row.detail})" if row.detail else "") + "\n")
    return EXIT_FAILED if row.drift else EXIT_OK


_COMMANDS = {"locate": cmd_locate, "apply": cmd_apply, "revert": cmd_revert, "drift": cmd_drift, "refresh": cmd_refresh}


def main(argv: Optional[Sequence[str]] = None, out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> int:
    """Run one command; the error boundary: typed errors become one line on stderr."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
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
