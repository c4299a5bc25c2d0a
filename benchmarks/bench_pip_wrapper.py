#!/usr/bin/env python3
"""Benchmark the ``pip`` wrapper: ``pkgres-patcher pip --python V -- ARGS`` next to ``V -m pip
ARGS``, for commands whose words decide the lock (``list``, ``--version``, ``show pip``).

Goal (issue #24): the wrapper at most 1.05x bare pip.

    python benchmarks/bench_pip_wrapper.py [--runs N] [--python V]

V defaults to a fresh virtual environment made with ``venv`` (with pip) in a temporary
directory. The two are run alternately, N times each after one warm-up, and the medians and
their ratio printed. The wrapper runs with this interpreter (``python -m patcher``) and a
private cache directory that the warm-up fills, as a user's would be after the first run
(``--wrapper-python EXE`` and ``PYTHONPATH=DIR`` time another checkout, or a plain install
without an editable install's import hook).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = (["list"], ["--version"], ["show", "pip"])


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--python", default=None, help="the environment's interpreter (default: a fresh venv)")
    parser.add_argument(
        "--wrapper-python",
        default=sys.executable,
        metavar="EXE",
        help="the interpreter that runs pkgres-patcher (default: this one); with PYTHONPATH, another checkout",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pkgres-bench-pip-") as tmp:
        python = args.python
        if python is None:
            subprocess.run([sys.executable, "-m", "venv", os.path.join(tmp, "venv")], check=True)
            python = os.path.join(tmp, "venv", "bin", "python")
        env = dict(os.environ, PKGRES_PATCHER_CACHE_DIR=os.path.join(tmp, "cache"), PIP_NO_INPUT="1")
        env["PKGRES_PATCHER_LOCK_DIR"] = os.path.join(tmp, "locks")
        print(f"{python}: {args.runs} runs each, medians")
        for words in COMMANDS:
            bare = [python, "-m", "pip", *words]
            wrapped = [args.wrapper_python, "-m", "patcher", "pip", "--python", python, "--", *words]
            timed(bare, env), timed(wrapped, env)  # warm-up: the page cache, the wrapper's own cache
            bare_times, wrapped_times = [], []
            for _ in range(args.runs):
                bare_times.append(timed(bare, env))
                wrapped_times.append(timed(wrapped, env))
            b, w = statistics.median(bare_times), statistics.median(wrapped_times)
            shown = " ".join(words)
            print(f"  pip {shown:<12} bare {b:6.3f} s   wrapped {w:6.3f} s   ratio {w / b:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
