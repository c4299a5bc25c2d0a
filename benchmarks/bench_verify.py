#!/usr/bin/env python3
"""Benchmark ``verify``: the wall time of a full sweep (race replay, no-false-absence, fault
sweep) of one copy, and of ``--quick``, run by the public command line.

Goal (issue #10): a full sweep of one copy well under a minute on 2 cores.

    python benchmarks/bench_verify.py WHEEL [--jobs N] [--patched]

WHEEL is a setuptools or pip wheel (e.g. from ``pip download setuptools==81.0.0``); it is
extracted into a temporary site directory (patched first with ``--patched``). The number of
fault points and how many raised are printed with the times.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import zipfile


def timed(argv: list[str]) -> tuple[float, dict[str, object]]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    document: dict[str, object] = json.loads(proc.stdout)
    return elapsed, document


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--patched", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(args.wheel) as zf:
            zf.extractall(tmp)
        command = [sys.executable, "-m", "patcher"]
        if args.patched:
            subprocess.run([*command, "apply", "-q", tmp], check=True)
        base = [*command, "verify", tmp, "--json", "--jobs", str(args.jobs)]
        quick, _ = timed([*base, "--quick"])
        full, document = timed(base)
        copies = document["copies"]
        assert isinstance(copies, list) and copies, "no copy found"
        sweep = copies[0]["fault_sweep"]
        print(f"{args.wheel.rsplit('/', 1)[-1]} ({'patched' if args.patched else 'as released'}), --jobs {args.jobs}")
        print(f"  verify --quick  {quick:6.1f} s")
        print(f"  verify (full)   {full:6.1f} s   fault points: {sweep['raising']} raising of {sweep['total']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
