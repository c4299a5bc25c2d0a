"""``pkgres-patcher upstream``: the fix as a ``git am``-able patch for an upstream tree."""

from __future__ import annotations

import argparse
from typing import TextIO

from patcher import api
from patcher.commands.terminal import EXIT_OK, warn
from patcher.errors import PatcherError
from patcher.handoff.render import upstream_json, upstream_text
from patcher.handoff.upstream import NOTHING_TO_DO, Target

__all__ = ["add_arguments", "json_failure", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", required=True, choices=[t.value for t in Target], help="the upstream project")
    parser.add_argument(
        "--source", required=True, metavar="DIR", help="the upstream tree: a git checkout or an unpacked sdist"
    )
    parser.add_argument("--output", metavar="FILE", help="write the mbox to FILE (default: stdout)")
    parser.add_argument(
        "--commit", action="store_true", help="in a git checkout: a new branch with the patch applied by git am"
    )
    parser.add_argument("--patches", metavar="DIR", help="use the patch set in DIR instead of the one shipped")
    parser.add_argument("--json", action="store_true", help="print JSON (docs: JSON documents)")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    done, mbox = api.upstream(
        Target(args.target), args.source, output=args.output, commit=args.commit, patches=args.patches
    )
    out.write(upstream_json(done, mbox) if args.json else upstream_text(done, mbox))
    if not done.made:
        warn(f"{done.source}: {NOTHING_TO_DO}", err)
    if done.branch:
        warn(f"committed on branch {done.branch} of {done.source}", err)
    return EXIT_OK


def json_failure(args: argparse.Namespace, error: PatcherError) -> str | None:
    """The JSON of a run that ``error`` stopped (with ``--json``): nothing made, the error."""
    return upstream_json(None, errors=(error,)) if args.json else None
