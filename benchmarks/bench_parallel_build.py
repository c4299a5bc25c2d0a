#!/usr/bin/env python3
"""Benchmark the parallel-build trade-off of issue #12: a lock for every pip, a reader/writer
lock, or patched copies of ``pkg_resources`` and no lock at all.

A real parallel build, as Sage's was in 2016. Per stack, 17 small projects are written and
made into sdists by the stack's own setuptools: ``pkg00`` to ``pkg15`` (1.0; ``pkg12`` to
``pkg15`` also 2.0) and ``runner``, whose console script lists every ``console_scripts``
entry point through ``pkg_resources``. An environment starts each round with ``runner``,
``pkg12`` and ``pkg13`` as zipped eggs (put there as ``easy_install`` did) and ``pkg14``,
``pkg15`` 1.0 installed by pip. The round: 16 ``pip install --no-deps`` from the sdists, 8 at
a time -- 12 new projects and 4 upgrades (``-U``: pip uninstalls the old egg or
``.egg-info``/``.dist-info`` first) -- while 4 other jobs each run ``runner``'s console script
(an ``easy_install``-style script: ``load_entry_point``) 8 times in a row. Modes:

``a``  every job under one exclusive lock (``pkgres-patcher lock --exclusive``), copies as released;
``b``  the reader/writer lock: pip jobs through ``pkgres-patcher pip`` (shared for a new
       project, exclusive for an upgrade), the console scripts under ``lock --shared``; copies as released;
``c``  no lock, every copy of ``pkg_resources`` in the environment patched (``pkgres-patcher apply``);
``d``  no lock, copies as released;
``e``  (not run unless asked) ``b`` without the turnstile that holds readers back while a writer
       waits: the tool's lock directory is made unusable, so ``flock(2)`` alone decides.

Stacks: ``old`` -- Python 3.6, setuptools 44.1.1 (zipped eggs, ``WorkingSet()`` still dies on a
vanished egg), pip 20.0.2 (installs an sdist with ``setup.py install``); ``today`` -- Python
3.10, setuptools 81.0.0 (eggs made with ``setup.py bdist_egg``), pip 26.3 (builds a wheel from
the sdist, ``--no-build-isolation``). Interpreters come from pyenv; the setuptools and pip
wheels from the tests' cache (``~/.cache/pkgres-patcher-tests/wheels``, fetched with ``pip
download`` when missing). Nothing else is fetched.

Printed per stack and mode: the wall time of a round (median, min-max over the rounds), its
ratio to mode c's in the same round, the CPU seconds the round used, the pip jobs and
console-script runs that failed, and how they failed (the exception's name)::

    .venv/bin/python benchmarks/bench_parallel_build.py [--rounds N] [--stacks old,today] [--modes abcd]
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import glob
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from typing import NamedTuple

from _wheels import wheel

PATCHER = [sys.executable, "-m", "patcher"]
MODES = {
    "a": "one exclusive lock",
    "b": "reader/writer lock",
    "c": "no lock, patched",
    "d": "no lock, unpatched",
    "e": "r/w, no turnstile",
}
FRESH = [f"pkg{n:02d}" for n in range(12)]
EGGS = ["pkg12", "pkg13"]  # upgraded from a zipped egg
PIP_INSTALLED = ["pkg14", "pkg15"]  # upgraded from what pip installed
UPGRADES = EGGS + PIP_INSTALLED


class Stack(NamedTuple):
    name: str
    python: str
    setuptools: str
    pip: str
    #: options ``pip install`` needs offline on this stack
    install_options: tuple[str, ...]


STACKS = {
    "old": Stack("old", "3.6", "44.1.1", "20.0.2", ()),
    "today": Stack("today", "3.10", "81.0.0", "26.3", ("--no-build-isolation",)),
}

SETUP = """from setuptools import setup
setup(name={name!r}, version={version!r}, py_modules=[{name!r}], zip_safe=True,
      entry_points={{"console_scripts": ["{name}-hello = {name}:main"]}})
"""
MODULE = "VERSION = {version!r}\n\ndef main():\n    return 0\n"
RUNNER = """import pkg_resources

def main():
    found = [ep.name for ep in pkg_resources.iter_entry_points("console_scripts")]
    return 0 if "runner-hello" in found else 1
"""
#: what easy_install wrote for a console script (setuptools 44's ScriptWriter template)
SCRIPT = """# EASY-INSTALL-ENTRY-SCRIPT: 'runner==1.0','console_scripts','runner-hello'
__requires__ = 'runner==1.0'
import re
import resource
import sys
from pkg_resources import load_entry_point

if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw?|\\.exe)?$', '', sys.argv[0])
    sys.exit(
        load_entry_point('runner==1.0', 'console_scripts', 'runner-hello')()
    )
"""


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def pyenv_python(version: str) -> str:
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = sorted(glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", "python")))
    if not found:
        sys.exit(f"bench_parallel_build: Python {version} is not installed in pyenv ({root})")
    return found[-1]


def site_packages(env: str) -> str:
    return glob.glob(os.path.join(env, "lib", "python*", "site-packages"))[0]


def write_project(root: str, name: str, version: str) -> str:
    source = os.path.join(root, f"{name}-{version}")
    os.makedirs(source)
    with open(os.path.join(source, "setup.py"), "w") as f:
        f.write(SETUP.format(name=name, version=version))
    with open(os.path.join(source, f"{name}.py"), "w") as f:
        f.write(RUNNER if name == "runner" else MODULE.format(version=version))
    return source


def add_egg(env: str, python: str, source: str) -> None:
    """A zipped egg built by the stack's setuptools, put in site-packages and listed in
    ``easy-install.pth``, as ``easy_install`` did."""
    run([python, "setup.py", "-q", "bdist_egg", "-d", "dist"], cwd=source)
    egg = glob.glob(os.path.join(source, "dist", "*.egg"))[0]
    site = site_packages(env)
    shutil.copy(egg, site)
    with open(os.path.join(site, "easy-install.pth"), "a") as pth:
        pth.write(f"./{os.path.basename(egg)}\n")


def pip_install(stack: Stack, python: str, sdists: str, *names: str, upgrade: bool = False) -> list[str]:
    argv = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-cache-dir", "--no-index"]
    argv += ["--find-links", sdists, "--no-deps", "-q", *stack.install_options]
    return argv + (["-U"] if upgrade else []) + list(names)


class Prepared(NamedTuple):
    stack: Stack
    sdists: str
    #: environments to copy for each round: as released, and patched
    released: str
    patched: str


def prepare(stack: Stack, work: str) -> Prepared:
    """The stack's environment with its starting state, and the sdists (not timed)."""
    root = os.path.join(work, stack.name)
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    env = os.path.join(root, "released")
    run([pyenv_python(stack.python), "-m", "venv", "--without-pip", env])
    python = os.path.join(env, "bin", "python")
    pip_wheel = str(wheel("pip", stack.pip))
    run(
        [
            python,
            os.path.join(pip_wheel, "pip"),
            "install",
            "-q",
            "--no-index",
            pip_wheel,
            str(wheel("setuptools", stack.setuptools)),
        ]
    )
    sdists = os.path.join(root, "sdists")
    sources = {}
    for name, version in [(n, "1.0") for n in [*FRESH, *UPGRADES, "runner"]] + [(n, "2.0") for n in UPGRADES]:
        source = write_project(os.path.join(root, "src"), name, version)
        run([python, "setup.py", "-q", "sdist", "-d", sdists], cwd=source)
        sources[name, version] = source
    for name in ["runner", *EGGS]:
        add_egg(env, python, sources[name, "1.0"])
    run(pip_install(stack, python, sdists, *(f"{name}==1.0" for name in PIP_INSTALLED)))
    with open(os.path.join(env, "bin", "runner-hello"), "w") as f:
        f.write(f"#!{python}\n{SCRIPT}")
    patched = os.path.join(root, "patched")
    shutil.copytree(env, patched, symlinks=True)
    run([*PATCHER, "apply", "-q", patched])
    return Prepared(stack, sdists, env, patched)


class Outcome(NamedTuple):
    wall: float
    #: user + system seconds of every process the round ran
    cpu: float
    pip_failed: list[str]
    runs_failed: list[str]
    runs: int


def failure(proc: subprocess.CompletedProcess[str]) -> str:
    """How a process failed, in a word: the last exception its stderr names, else its status."""
    names = re.findall(r"\b(\w+(?:Error|Exception|NotFound|Conflict))\b", proc.stderr)
    return names[-1] if names else f"status {proc.returncode}"


def one_round(prepared: Prepared, mode: str, number: int, work: str, args: argparse.Namespace) -> Outcome:
    env = os.path.join(work, prepared.stack.name, f"round-{mode}-{number}")
    shutil.rmtree(env, ignore_errors=True)
    shutil.copytree(prepared.patched if mode == "c" else prepared.released, env, symlinks=True)
    python = os.path.join(env, "bin", "python")
    lock = os.path.join(env, "var", "lock", "pip.lock")
    jobs = [(name, False) for name in FRESH] + [(name, True) for name in UPGRADES]
    random.Random(number).shuffle(jobs)  # the same order in every mode of a round

    environ = dict(os.environ)
    if mode == "e":  # below a regular file: no lock directory, so no turnstile
        environ["PKGRES_PATCHER_LOCK_DIR"] = os.path.join(sys.executable, "no-turnstile")

    def locked(argv: list[str], exclusive: bool) -> list[str]:
        return [*PATCHER, "lock", "--exclusive" if exclusive else "--shared", lock, "--", *argv]

    def install(job: tuple[str, bool]) -> subprocess.CompletedProcess[str]:
        argv = pip_install(prepared.stack, python, prepared.sdists, job[0], upgrade=job[1])
        if mode == "a":
            argv = locked(argv, True)
        elif mode in "be":
            argv = [*PATCHER, "pip", "--python", python, "--lock", lock, "--", *argv[3:]]
        return subprocess.run(argv, capture_output=True, text=True, check=False, env=environ)

    def reader(_: int) -> list[subprocess.CompletedProcess[str]]:
        argv = [python, os.path.join(env, "bin", "runner-hello")]
        if mode in "abe":
            argv = locked(argv, mode == "a")
        return [
            subprocess.run(argv, capture_output=True, text=True, check=False, env=environ)
            for _ in range(args.reader_runs)
        ]

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    pips = concurrent.futures.ThreadPoolExecutor(args.jobs)
    readers = concurrent.futures.ThreadPoolExecutor(args.readers)
    with pips, readers:
        running = [pips.submit(install, job) for job in jobs]
        reading = [readers.submit(reader, n) for n in range(args.readers)]
        installs = [future.result() for future in running]
        runs = [proc for future in reading for proc in future.result()]
    wall = time.monotonic() - start
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    shutil.rmtree(env)
    return Outcome(
        wall,
        now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime,
        [failure(p) for p in installs if p.returncode != 0],
        [failure(p) for p in runs if p.returncode != 0],
        len(runs),
    )


def report(stack: Stack, mode: str, outcomes: list[Outcome], baseline: list[Outcome] | None) -> str:
    """One line: wall time (median, min-max), its median ratio to mode c's in the same round (a
    slow spell of a shared machine hits both), CPU seconds, failures and how they failed."""
    walls = [o.wall for o in outcomes]
    ratio = f"{statistics.median(o.wall / c.wall for o, c in zip(outcomes, baseline)):4.2f}" if baseline else "   -"
    kinds = collections.Counter(k for o in outcomes for k in o.pip_failed + o.runs_failed)
    pip_failed = sum(len(o.pip_failed) for o in outcomes)
    runs_failed = sum(len(o.runs_failed) for o in outcomes)
    runs = sum(o.runs for o in outcomes)
    how = ", ".join(f"{k} x{n}" for k, n in kinds.most_common()) or "-"
    return (
        f"{stack.name:6} {mode} {MODES[mode]:20} {statistics.median(walls):6.1f} s ({min(walls):5.1f}-{max(walls):5.1f})"
        f"  x{ratio} of c  cpu {statistics.median(o.cpu for o in outcomes):5.1f} s"
        f"  pip failed {pip_failed:2}/{16 * len(outcomes):<3}  scripts failed {runs_failed:3}/{runs:<4} {how}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stacks", default="old,today")
    parser.add_argument("--modes", default="abcd")
    parser.add_argument("--jobs", type=int, default=8, help="pip jobs at once")
    parser.add_argument("--readers", type=int, default=4, help="jobs running the console script")
    parser.add_argument("--reader-runs", type=int, default=8, help="runs of the console script per job")
    parser.add_argument("--work", default="/tmp/pkgres-bench-parallel")
    args = parser.parse_args()
    os.environ["PIP_CONFIG_FILE"] = os.devnull  # only the local sdists
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    for name in args.stacks.split(","):
        prepared = prepare(STACKS[name], args.work)
        results: dict[str, list[Outcome]] = {mode: [] for mode in args.modes}
        for number in range(args.rounds):  # modes interleaved: a slow spell of the machine hits all
            for mode in args.modes:
                results[mode].append(one_round(prepared, mode, number, args.work, args))
        for mode in args.modes:
            print(report(prepared.stack, mode, results[mode], results.get("c")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
