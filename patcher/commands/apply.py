"""``pkgres-patcher apply``: patch every copy."""

from __future__ import annotations

import argparse
from typing import TextIO

from patcher import api
from patcher.commands._options import add_change_options, add_lock_dir, add_targets, scan_jobs
from patcher.commands.locate import report_problems
from patcher.render import copies_json, outcome_line, unified_diff

__all__ = ["add_arguments", "change", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_targets(parser)
    add_change_options(parser)
    add_lock_dir(parser)


def change(args: argparse.Namespace, out: TextIO, err: TextIO, *, revert: bool) -> int:
    """``apply`` or ``revert``: the same targets and options, the opposite direction."""
    do = api.revert if revert else api.apply
    report = do(
        args.paths,
        pythons=args.python,
        jobs=scan_jobs(args),
        patches=args.patches,
        dry_run=args.dry_run,
        fuzz=args.fuzz,
        wheels=args.wheels,
        lock_dir=args.lock_dir,
    )
    if args.json:
        out.write(copies_json(report.results, dry_run=args.dry_run))
    else:
        out.writelines(outcome_line(result, dry_run=args.dry_run) for result in report.results)
    if args.diff:
        out.writelines(unified_diff(result) for result in report.results)
    return report_problems(report, err)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return change(args, out, err, revert=False)
