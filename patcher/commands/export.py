"""``pkgres-patcher export``: the variants that fit one release, as a distribution build's patches."""

from __future__ import annotations

import argparse
from typing import TextIO

from patcher import api
from patcher.commands._options import add_release_options
from patcher.commands.terminal import EXIT_FETCH, EXIT_OK, warn
from patcher.errors import FetchError, PatcherError
from patcher.handoff.export import Layout
from patcher.handoff.render import export_json, export_text

__all__ = ["add_arguments", "json_failure", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--for",
        dest="for_",
        required=True,
        metavar="REQUIREMENT",
        help="the one release to export for, pinned: 'setuptools==81.0.0', 'pip==26.3'",
    )
    parser.add_argument(
        "--layout",
        required=True,
        choices=[layout.value for layout in Layout],
        help="sdist/wheel: plain -p1 patches with the paths of the unpacked sdist/wheel; quilt: a series file "
        "too (debian/patches); spack: the patch() lines for package.py too; debian: added to the Debian source "
        "tree --output (debian/patches and its series); rpm: the PatchN: lines for a spec too",
    )
    parser.add_argument(
        "--output",
        required=True,
        metavar="DIR",
        help="the directory to write (made whole, or not at all); an existing one must be empty or a previous export; "
        "debian: the unpacked source package (dpkg-source -x) to add the patches to",
    )
    add_release_options(parser, "downloaded releases: wheels in DIR/releases, sdists in DIR/sdists")
    parser.add_argument("--json", action="store_true", help="print JSON (docs: JSON documents)")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        report = api.export(
            args.for_,
            Layout(args.layout),
            args.output,
            patches=args.patches,
            find_links=args.find_links,
            no_index=args.no_index,
            cache_dir=args.cache_dir,
        )
    except FetchError as exc:
        warn(f"cannot fetch {exc}", err)
        if args.json:
            out.write(export_json(None, (exc,)))
        return EXIT_FETCH
    for line in report.warnings:
        warn(f"warning: {line}", err)
    out.write(export_json(report) if args.json else export_text(report))
    return EXIT_OK


def json_failure(args: argparse.Namespace, error: PatcherError) -> str | None:
    """The JSON of a run that ``error`` stopped (with ``--json``): nothing written, the error."""
    return export_json(None, (error,)) if args.json else None
