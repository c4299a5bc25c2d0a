"""``pkgres-patcher apply``: patch every copy."""

from __future__ import annotations

import argparse
from typing import TextIO

from patcher import api
from patcher.commands._options import add_cache_dir, add_change_options, add_lock_dir, add_targets, scan_jobs
from patcher.commands.locate import report_problems
from patcher.commands.terminal import EXIT_FAILED, EXIT_INTERRUPTED, ProgressLine, warn
from patcher.errors import PatcherError
from patcher.model import CopyResult, Report
from patcher.render import CHANGES, change_json, change_summary, outcome_line, unified_diff

__all__ = ["add_arguments", "add_change_arguments", "change", "failure", "json_failure", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_change_arguments(parser, revert=False)


def add_change_arguments(parser: argparse.ArgumentParser, *, revert: bool) -> None:
    """The arguments of ``apply`` or ``revert``: the same, each saying what it does."""
    add_targets(parser)
    add_change_options(parser, revert=revert)
    add_lock_dir(parser)
    add_cache_dir(
        parser, "archives kept as they were before a rewrite that cannot be undone byte for byte, in DIR/originals"
    )


def _needs_attention(result: CopyResult, check: bool) -> bool:
    """A copy ``--quiet`` still names: it failed, or ``--check`` fails on it."""
    return not result.ok or (check and result.outcome in CHANGES)


def change(args: argparse.Namespace, out: TextIO, err: TextIO, *, revert: bool) -> int:
    """``apply`` or ``revert``: the same targets and options, the opposite direction.

    With ``--diff`` stdout holds only the diff (for ``patch -p1``), every other line goes to stderr.
    """
    do = api.revert if revert else api.apply
    dry_run = args.dry_run or args.check
    label = "checking copies" if dry_run else "reverting copies" if revert else "patching copies"
    progress = ProgressLine(err, label, show=not args.quiet)
    try:
        report = do(
            args.paths,
            pythons=args.python,
            python_timeout=args.python_timeout,
            jobs=scan_jobs(args),
            patches=args.patches,
            dry_run=dry_run,
            fuzz=args.fuzz,
            wheels=args.wheels,
            exclude=args.exclude,
            one_file_system=args.one_file_system,
            lock_dir=args.lock_dir,
            cache_dir=args.cache_dir,
            output=args.output,
            progress=progress,
        )
    except KeyboardInterrupt:  # the copy in hand is as it was or done: each is written atomically
        warn(progress.interrupted(), err)
        return EXIT_INTERRUPTED
    lines = err if args.diff else out
    if args.json:
        out.write(change_json(report, revert=revert, dry_run=dry_run, diff=args.diff))
    else:
        for result in report.results:
            if not args.quiet or _needs_attention(result, args.check):
                lines.write(outcome_line(result, dry_run=dry_run, verbose=args.verbose))
        if args.diff:
            out.writelines(unified_diff(result) for result in report.results)
    status = report_problems(report, err)
    if not args.json:
        lines.write(change_summary(report, revert=revert, dry_run=dry_run))
    if args.check and any(r.outcome in CHANGES for r in report.results):
        status = EXIT_FAILED
    return status


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return change(args, out, err, revert=False)


def failure(args: argparse.Namespace, error: PatcherError, *, revert: bool) -> str | None:
    """The JSON of a run that ``error`` stopped (with ``--json``): no copy, the error."""
    if not args.json:
        return None
    return change_json(Report((), (error,)), revert=revert, dry_run=args.dry_run or args.check)


def json_failure(args: argparse.Namespace, error: PatcherError) -> str | None:
    return failure(args, error, revert=False)
