#!/usr/bin/env python3
"""Benchmark ``drift`` from a warm cache against merely reading every release's pkg_resources.

Goal (issue #4): on 2 cores, ``drift`` over every covered release is within 3x the time it
takes to read each release's pkg_resources source out of its archive. Both are measured in
one run, on the same warm cache (hard links to a directory of downloaded wheels):

    python benchmarks/bench_drift.py [--wheels DIR] [--patches DIR] [--jobs N]

``--wheels`` defaults to ``~/.cache/pkgres-dev/wheels`` (fill it with ``pip download``);
``--patches`` to the shipped patch set. Listing versions goes through ``pip index versions``
(``--no-index --find-links`` the wheels directory) and is reported on its own line: it is a
fixed cost of a few pip start-ups, independent of the number of releases.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

from patcher.engine.patchset import load_patchset
from patcher.releases.drift import check_releases, resolve, run_drift, summarize
from patcher.releases.index import Index, fetch_all, is_archive, read_sources


def warm_cache(wheels: str, cache: str) -> None:
    """Lay the wheels out as drift's cache does (``<cache>/<project>/<file>``), by hard links."""
    from packaging.utils import canonicalize_name

    for name in os.listdir(wheels):
        if not is_archive(name):
            continue
        project = canonicalize_name(name.split("-")[0])
        os.makedirs(os.path.join(cache, project), exist_ok=True)
        try:
            os.link(os.path.join(wheels, name), os.path.join(cache, project, name))
        except OSError:
            shutil.copy(os.path.join(wheels, name), os.path.join(cache, project, name))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheels", default=os.path.expanduser("~/.cache/pkgres-dev/wheels"))
    parser.add_argument("--patches", default=None)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs of each timed step (default 3)")
    args = parser.parse_args()
    patchset = load_patchset(args.patches)
    index = Index((args.wheels,), no_index=True)
    with tempfile.TemporaryDirectory() as cache:
        warm_cache(args.wheels, cache)

        t0 = time.perf_counter()
        releases, errors = resolve([], patchset, index)
        t_list = time.perf_counter() - t0

        t0 = time.perf_counter()
        archives, fetch_errors = fetch_all(releases, cache, index, args.jobs)
        t_cache = time.perf_counter() - t0

        t_read = t_check = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            for archive in archives.values():
                read_sources(archive)
            t_read = min(t_read, time.perf_counter() - t0)

            t0 = time.perf_counter()
            results, read_errors = check_releases(archives, patchset, args.jobs)
            summary = summarize(results, patchset)
            t_check = min(t_check, time.perf_counter() - t0)

        t_run = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            run_drift([], patchset, index, cache, args.jobs)
            t_run = min(t_run, time.perf_counter() - t0)

    drift = t_cache + t_check  # the cache lookup is timed once: after it, a rerun is all cache hits
    print(f"cpus: {os.cpu_count()}  patch set: {patchset.root} ({len(patchset.variants)} variants)")
    print(
        f"releases: {len(archives)} ({len(results)} copies, {summary.distinct_sources} distinct sources); "
        f"problems: {len(errors) + len(fetch_errors) + len(read_errors)}"
    )
    print(f"counts: {', '.join(f'{n} {s}' for s, n in summary.counts.items() if n)}")
    print(f"listing versions through pip: {t_list:6.2f} s (fixed cost, 3 pip runs)")
    print(f"read every pkg_resources only: {t_read:6.2f} s  (baseline)")
    print(
        f"drift (cache lookup + read + check + summary): {drift:6.2f} s  = {drift / t_read:.2f}x baseline (goal <= 3x)"
    )
    print(f"listing + check in sequence: {drift + t_list:6.2f} s  = {(drift + t_list) / t_read:.2f}x baseline")
    print(
        f"drift end to end (run_drift: listing, cache, check, summary): {t_run:6.2f} s  = {t_run / t_read:.2f}x baseline"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
