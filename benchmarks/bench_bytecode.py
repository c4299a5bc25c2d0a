#!/usr/bin/env python3
"""Benchmark what a patched copy costs every later process: ``import pkg_resources;
WorkingSet(); Environment()`` on a site directory of 300 distributions, whole process, patched
(by this checkout) against unpatched, in the three layouts of issue #11:

``egg-py2.7``
    setuptools 24.0.2 as a zipped egg with its ``.pyc`` members (as easy_install left it), run
    by Python 2.7 (pyenv): zipimport never writes byte-code;
``venv-readonly``
    setuptools 81 installed by pip (byte-code compiled) in a venv whose site-packages the
    process cannot write (``PYTHONDONTWRITEBYTECODE=1`` stands in for a root-owned tree);
``venv``
    the same venv, byte-code written by the process itself where missing (warmed up first).

Also timed: the patched copy with its byte-code dropped, what ``apply`` did before it compiled
byte-code anew. Goal: patched / unpatched <= 1.02 in every layout.

    python3 benchmarks/bench_bytecode.py [--runs N] [--wheels DIR] [--source DIR]

Wheels are taken from DIR (default: the tests' cache, ``~/.cache/pkgres-patcher-tests/wheels``)
or fetched there with ``pip download``. Each process is timed with ``time.perf_counter`` around
``subprocess`` (the variants interleaved, the median of N runs) and its peak RSS read with
``os.wait4``, with its CPU time (steadier than wall time on a busy machine); ``hyperfine`` is
not needed.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import NamedTuple

from _wheels import TEST_WHEELS, wheel

ROOT = Path(__file__).resolve().parent.parent
DISTRIBUTIONS = 300
CODE = "import pkg_resources; pkg_resources.WorkingSet(); pkg_resources.Environment()"


def pyenv_python(version: str) -> str | None:
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = sorted(glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", "python")))
    return found[-1] if found else None


def add_distributions(site: Path) -> None:
    """300 small distributions: half ``.dist-info``, half ``.egg-info``, with entry points."""
    for i in range(DISTRIBUTIONS):
        name = f"bench_dist_{i:03d}"
        kind = "dist-info" if i % 2 else "egg-info"
        meta = site / f"{name}-1.{i}.{kind}"
        meta.mkdir()
        (meta / ("METADATA" if kind == "dist-info" else "PKG-INFO")).write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.{i}\n"
        )
        (meta / "entry_points.txt").write_text(f"[console_scripts]\n{name} = {name}:main\n")
        (meta / "top_level.txt").write_text(f"{name}\n")


def patch(target: Path, source: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(source))
    subprocess.run([sys.executable, "-m", "patcher", "apply", "-q", str(target)], env=env, check=True)


def drop_egg_byte_code(egg: Path) -> None:
    """What apply did before: the byte-code of pkg_resources/__init__.py removed from the egg."""
    tmp = egg.with_suffix(".tmp")
    with zipfile.ZipFile(egg) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            if info.filename != "pkg_resources/__init__.pyc":
                out.writestr(info, src.read(info))
    tmp.replace(egg)


def egg_layout(work: Path, wheels: Path, source: Path) -> dict[str, list[str]] | None:
    python = pyenv_python("2.7")
    if python is None:
        print("egg-py2.7: skipped (no Python 2.7 in pyenv)")
        return None
    tree = work / "egg-tree"
    with zipfile.ZipFile(wheel("setuptools", "24.0.2", wheels)) as zf:
        zf.extractall(tree, [n for n in zf.namelist() if ".dist-info/" not in n])
    subprocess.run([python, "-m", "compileall", "-q", str(tree)], check=True)  # as bdist_egg did
    (tree / "EGG-INFO").mkdir()
    (tree / "EGG-INFO" / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: setuptools\nVersion: 24.0.2\n")
    sites: dict[str, list[str]] = {}
    for variant in ("unpatched", "patched", "patched, byte-code dropped"):
        site = work / f"egg-{len(sites)}"
        site.mkdir()
        add_distributions(site)
        egg = site / "setuptools-24.0.2-py2.7.egg"
        with zipfile.ZipFile(egg, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(tree.rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(tree).as_posix())
        if variant != "unpatched":
            patch(egg, source)
        if variant == "patched, byte-code dropped":
            drop_egg_byte_code(egg)
        # the egg first, as easy-install.pth's import line puts it (Python 2's site module would
        # add the interpreter's own site-packages, with its own setuptools, even under -S)
        code = f"import sys; sys.path[:0] = [{str(egg)!r}, {str(site)!r}]; {CODE}"
        sites[variant] = [python, "-S", "-c", code]
        check_origin(sites[variant], str(egg))
    return sites


def venv_layout(work: Path, wheels: Path, source: Path) -> dict[str, list[str]]:
    sites: dict[str, list[str]] = {}
    for variant in ("unpatched", "patched", "patched, byte-code dropped"):
        root = work / f"venv-{len(sites)}"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
        python = str(root / "bin" / "python")
        subprocess.run(
            [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index"]
            + [str(wheel("setuptools", "81.0.0", wheels))],
            check=True,
        )
        [site] = root.glob("lib/python*/site-packages")
        add_distributions(site)
        if variant != "unpatched":
            patch(root, source)
        if variant == "patched, byte-code dropped":
            for pyc in (site / "pkg_resources" / "__pycache__").glob("__init__.*.pyc"):
                pyc.unlink()
        sites[variant] = [python, "-c", CODE]
        check_origin(sites[variant], str(site))
    return sites


def check_origin(argv: list[str], where: str) -> None:
    """The benchmark times the copy it means to: pkg_resources comes from ``where``."""
    code = argv[-1] + "; import sys; sys.stdout.write(pkg_resources.__file__)"
    found = subprocess.run([*argv[:-1], code], capture_output=True, text=True, check=True).stdout
    if not found.startswith(where + os.sep):
        raise SystemExit(f"pkg_resources imported from {found}, not from {where}")


class Sample(NamedTuple):
    wall: float  #: seconds
    cpu: float  #: user + system seconds of the process
    peak: int  #: peak RSS, KiB


def run_once(argv: list[str], env: dict[str, str]) -> Sample:
    """One process: its wall time, CPU time and peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.stderr is not None
    if proc.returncode:
        raise SystemExit(f"{argv}: {proc.stderr.read().decode()}")
    proc.stderr.close()
    return Sample(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


def measure(layout: str, variants: dict[str, list[str]], env: dict[str, str], runs: int) -> None:
    """Median and minimum wall time, median CPU time and peak RSS per variant; ratios to unpatched.
    On a busy machine the CPU time and the minimum are the steadier figures."""
    for argv in variants.values():  # warm up: caches, and byte-code a writable tree gets
        run_once(argv, env)
    samples: dict[str, list[Sample]] = {v: [] for v in variants}
    for _ in range(runs):
        for variant, argv in variants.items():
            samples[variant].append(run_once(argv, env))

    def figures(variant: str) -> tuple[float, float, float, float]:
        taken = samples[variant]
        return (
            statistics.median(s.wall for s in taken),
            min(s.wall for s in taken),
            statistics.median(s.cpu for s in taken),
            float(statistics.median(s.peak for s in taken)),
        )

    base = figures("unpatched")
    print(f"{layout}:")
    print(f"  {'':28s} {'wall median':>19s} {'wall min':>19s} {'CPU median':>19s} {'peak RSS':>17s}")
    for variant in variants:
        wall, fastest, cpu, peak = figures(variant)
        print(
            f"  {variant:28s} {wall * 1000:7.1f} ms {wall / base[0]:6.3f}x {fastest * 1000:7.1f} ms "
            f"{fastest / base[1]:6.3f}x {cpu * 1000:7.1f} ms {cpu / base[2]:6.3f}x "
            f"{peak / 1024:6.1f} MiB {(peak - base[3]) / 1024:+5.1f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--wheels", type=Path, default=TEST_WHEELS)
    parser.add_argument("--source", type=Path, default=ROOT, help="the checkout whose apply is measured")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    with tempfile.TemporaryDirectory(prefix="bench-bytecode-") as tmp:
        work = Path(tmp)
        egg = egg_layout(work, args.wheels, args.source)
        if egg is not None:
            measure("egg-py2.7 (zipped egg, setuptools 24.0.2, Python 2.7)", egg, env, args.runs)
        venv = venv_layout(work, args.wheels, args.source)
        readonly = dict(env, PYTHONDONTWRITEBYTECODE="1")
        measure("venv-readonly (setuptools 81, PYTHONDONTWRITEBYTECODE=1)", venv, readonly, args.runs)
        measure("venv (setuptools 81, byte-code writable)", venv, env, args.runs)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
