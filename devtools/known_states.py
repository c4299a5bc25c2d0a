#!/usr/bin/env python3
"""Write ``patches/known-states.json``: the state of every upstream copy, pristine and patched.

``locate`` answers a copy whose bytes are listed there without parsing the patch set or
planning (see ``patcher/statecache.py``), so that a first run on a fresh machine is as fast as
a later one. Run this whenever the patch set changes (the file names the digest of the patch
set it was made for, and is ignored for any other; ``tests/functional/test_known_states.py`` fails until
it is made again)::

    python devtools/known_states.py [--cache-dir DIR] [--find-links DIR] [--no-index] [--jobs N]

Releases are those ``drift`` checks by default (every release the patch set's ranges cover,
and the newest of each project), listed and fetched through pip into drift's release cache.
Each distinct source is planned, and so is the text the patch set makes of it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys

from patcher.disk.atomic import write_text
from patcher.engine.patchset import MEMBER, load_patchset
from patcher.engine.planning import plan_copy
from patcher.locations import cache_place, default_patches_dir
from patcher.model import State
from patcher.releases.drift import resolve
from patcher.releases.index import Index, fetch_all, read_sources
from patcher.statecache import KNOWN_STATES, Planned, known_states_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--patches", default=None, help="the patch set (default: the shipped one)")
    parser.add_argument("--cache-dir", default=None, help="the cache directory, as drift's (releases in DIR/releases)")
    parser.add_argument("--find-links", action="append", default=[])
    parser.add_argument("--no-index", action="store_true")
    parser.add_argument("--jobs", type=int, default=8)
    args = parser.parse_args(argv)

    root = os.path.abspath(args.patches) if args.patches else default_patches_dir()
    patchset = load_patchset(root)
    index = Index(tuple(args.find_links), args.no_index)
    releases, errors = resolve([], patchset, index)
    archives, fetch_errors = fetch_all(releases, cache_place("releases", args.cache_dir).path, index, args.jobs)
    for error in errors + fetch_errors:
        print(f"known_states: cannot fetch {error}", file=sys.stderr)
    if errors or fetch_errors:
        return 1

    texts: dict[str, bytes] = {}
    for archive in archives.values():
        for source in read_sources(archive)[0]:
            texts.setdefault(source.sha256, source.data)
    states: dict[str, Planned] = {}
    for digest, text in texts.items():
        plan = plan_copy(text, patchset, MEMBER)
        states[f"{digest}:source"] = (plan.state, plan.fits)
        if plan.state is State.UNPATCHED:
            patched = plan_copy(plan.result, patchset, MEMBER)
            states[f"{hashlib.sha256(plan.result).hexdigest()}:source"] = (patched.state, patched.fits)
    drifted = sorted(key for key, (state, _) in states.items() if state is State.DRIFTED)
    written = known_states_json(root, states)
    if written is None:
        print(f"known_states: {root}: cannot read the patch set", file=sys.stderr)
        return 1
    write_text(os.path.join(root, KNOWN_STATES), written)
    print(
        f"{os.path.join(root, KNOWN_STATES)}: {len(releases)} releases, {len(texts)} distinct sources, "
        f"{len(states)} states ({len(drifted)} drifted)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
