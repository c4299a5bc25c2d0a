"""``pkgres-patcher refresh``: a new variant of a patch for an upstream release."""

from __future__ import annotations

import argparse
from typing import TextIO

from patcher import api
from patcher.commands._options import add_release_options
from patcher.commands.terminal import EXIT_FAILED, EXIT_FETCH, EXIT_OK, warn
from patcher.errors import FetchError, PatcherError
from patcher.releases.render import refresh_json
from patcher.render import display

__all__ = ["add_arguments", "json_failure", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("patch", metavar="PATCH", help="the patch (directory name in the patch set)")
    parser.add_argument(
        "--for", dest="for_", required=True, metavar="REQUIREMENT", help="the release, e.g. 'setuptools==99.0.0'"
    )
    add_release_options(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print JSON: the variant written and its drift result (docs: JSON documents)",
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        done = api.refresh(
            args.patch,
            args.for_,
            patches=args.patches,
            find_links=args.find_links,
            no_index=args.no_index,
            cache_dir=args.cache_dir,
            note=lambda text: warn(f"note: {text}", err),
        )
    except FetchError as exc:
        warn(f"cannot fetch {exc}", err)
        if args.json:
            out.write(refresh_json(None, (exc,)))
        return EXIT_FETCH
    row = done.result
    if args.json:
        out.write(refresh_json(done))
    else:
        fuzz = f" with fuzz {done.fuzz}" if done.fuzz else ""
        out.write(f"wrote {display(done.path)}: {done.variant} (from {done.derived_from}{fuzz})\n")
        detail = f" ({row.detail})" if row.detail else ""
        out.write(f"{row.project} {row.version} {row.copy}: {row.status}{detail}\n")
    return EXIT_FAILED if row.drift else EXIT_OK


def json_failure(args: argparse.Namespace, error: PatcherError) -> str | None:
    """The JSON of a run that ``error`` stopped (with ``--json``): nothing written, the error."""
    return refresh_json(None, (error,)) if args.json else None
