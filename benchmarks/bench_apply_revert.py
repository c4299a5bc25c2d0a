#!/usr/bin/env python3
"""Benchmark ``apply`` and ``revert`` on a tree of many copies: the time of each per copy.

Goal (issue #24): ``revert`` no slower than ``apply`` per copy.

    python benchmarks/bench_apply_revert.py [--copies N] [--setuptools VERSION] [--profile FILE]

One setuptools wheel (from the tests' cache, fetched with pip when missing) is installed with
pip into one site directory (``pip install --target``, so with its RECORD and byte-code as
pip writes them), which is copied N times (``shutil.copytree``) under a temporary directory.
``apply`` then ``revert`` run on the whole tree with the public command line, with one fresh
cache directory (where ``apply`` keeps the byte-code it replaces, for ``revert`` to put back); the
tree must come back byte for byte. With ``--profile FILE``,
``revert`` runs under cProfile instead (written to FILE, read with ``python -m pstats``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _wheels import wheel  # noqa: E402


def digests(root: str) -> dict[str, str]:
    """Every file under ``root`` by relative path: its SHA-256."""
    found = {}
    for directory, _, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return found


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--setuptools", default="68.0.0")
    parser.add_argument("--profile", default=None, metavar="FILE")
    args = parser.parse_args()
    found = wheel("setuptools", args.setuptools)
    with tempfile.TemporaryDirectory(prefix="pkgres-bench-revert-") as tmp:
        one = os.path.join(tmp, "one")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
            + ["--disable-pip-version-check", "--target", one, str(found)],
            check=True,
        )
        tree = os.path.join(tmp, "tree")
        for i in range(args.copies):
            shutil.copytree(one, os.path.join(tree, f"site{i:04d}"), symlinks=True)
        before = digests(tree)
        env = dict(os.environ, PKGRES_PATCHER_LOCK_DIR=os.path.join(tmp, "locks"))
        env["PKGRES_PATCHER_CACHE_DIR"] = os.path.join(tmp, "cache")
        command = [sys.executable, "-m", "patcher"]
        apply = timed([*command, "apply", "-q", tree], env)
        if args.profile:
            profile = [sys.executable, "-m", "cProfile", "-o", args.profile, "-m", "patcher"]
            revert = timed([*profile, "revert", "-q", tree], env)
        else:
            revert = timed([*command, "revert", "-q", tree], env)
        after = digests(tree)
        same = before == after
        n = args.copies
        print(f"setuptools {args.setuptools}, {n} copies")
        print(f"  apply   {apply:7.2f} s   {apply / n * 1000:7.1f} ms per copy")
        print(f"  revert  {revert:7.2f} s   {revert / n * 1000:7.1f} ms per copy")
        print(f"  revert/apply {revert / apply:5.2f}x   tree restored byte for byte: {'yes' if same else 'NO'}")
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
