#!/usr/bin/env python3
"""Real pip, real races, per workload: how often each real command and each pkg_resources call
fails while real ``pip install`` / ``pip uninstall`` run beside it, unpatched then patched, for
recent and older releases (the runner is tests/lib/pip_races.py; the test, tests/functional/test_pip_races.py,
runs one cycle of the first two stacks).

    python benchmarks/bench_pip_races.py [--cycles N] [--stack PYTHON:PIP:SETUPTOOLS ...]

PYTHON is an executable or a pyenv version (``3.8``); a stack whose Python is missing is
skipped with the reason. Default stacks: pip 26.3 + setuptools 81.0.0 on the running
interpreter and on Python 3.10, pip 20.3.4 + setuptools 44.1.1 on Python 3.8. Run from the
repository root, in the environment the tests run in (the releases come from the test cache).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from patcher.pythons import pyenv_python  # noqa: E402
from tests.conftest import download  # noqa: E402
from tests.lib.pip_races import Stack, patch, prepare, run_workloads  # noqa: E402

DEFAULT = [f"{sys.executable}:26.3:81.0.0", "3.10:26.3:81.0.0", "3.8:20.3.4:44.1.1"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=5, help="uninstall-install cycles of each writer")
    parser.add_argument("--stack", action="append", help="PYTHON:PIP:SETUPTOOLS (repeatable)")
    args = parser.parse_args()
    for spec in args.stack or DEFAULT:
        where, pip, setuptools = spec.rsplit(":", 2)
        python = where if os.sep in where else (pyenv_python(where) or shutil.which(f"python{where}"))
        if python is None:
            print(f"{spec}: skipped, no Python {where} (pyenv has none, none on PATH)\n")
            continue
        stack = Stack(python, str(download("pip", pip)), str(download("setuptools", setuptools)))
        with tempfile.TemporaryDirectory(prefix="bench-pip-races-") as tmp:
            stress = prepare(stack, tmp)
            name = f"pip {pip}, setuptools {setuptools}, Python {stress.version}, {args.cycles} cycles"
            print(f"{name}: unpatched\n{run_workloads(stress, args.cycles, tmp).table()}", flush=True)
            patch(stress)
            print(f"{name}: patched\n{run_workloads(stress, args.cycles, tmp).table()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
