"""How fast is ``pkgres-patcher locate`` next to ``find`` listing the same candidates?

Run by hand (not a test), standard library only::

    python benchmarks/bench_locate.py [--dir /tmp/pkgres-bench] [--runs 7] [--files 100000]

The first run builds a prefix of about ``--files`` files (kept and reused afterwards): venv-like
trees with real setuptools and pip releases unpacked from their wheels, as pip installs them
(RECORD and all), 20 zipped eggs made from real wheels as easy_install laid them out, and
synthetic packages (modules and ``__pycache__`` byte-code) to reach the file count. The wheels
come from the test cache (``$PKGRES_PATCHER_TEST_CACHE`` or ``~/.cache/pkgres-patcher-tests``);
missing ones are fetched once with ``pip download``.

The tool is installed (not editable: an editable install adds an import hook to every start)
into a venv of its own under ``--dir``, from this checkout, with this interpreter, as users
run it. Then, page cache warm (one untimed run each), it times, interleaved:

- ``pkgres-patcher locate PREFIX --json``, the states of the copies remembered from the
  previous run (the usual case: the user cache directory is kept between runs);
- the same as a first run on a fresh machine: an empty user cache directory each time (the
  known states shipped with the patch set answer for upstream copies);
- the same with ``--no-cache``: every distinct copy planned afresh;
- the same with ``--jobs 1``: the walk not shared between processes;
- ``find PREFIX -name __pycache__ -prune -o \\( -name '*.egg' -o -name '*.whl' \\
  -o -path '*/pkg_resources/__init__.py' -o -name pkg_resources.py \\) -print``

and prints the median of each over ``--runs`` runs and their ratios to find (goal: at most 1.25,
warm and first run). ``--source DIR`` installs another checkout (an older commit, through
``git worktree add``) to compare before and after on the same prefix.
"""

from __future__ import annotations

import argparse
import email.parser
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from _wheels import wheel

#: each venv-like tree: these releases unpacked into its site-packages
ENV_WHEELS = [("setuptools", "81.0.0"), ("pip", "26.3")]
OLD_ENV_WHEELS = [("setuptools", "44.1.1"), ("pip", "19.2.3")]
#: the 20 zipped eggs: made from these wheels (py2.py3 or py3 wheels, as easy_install made eggs)
EGG_WHEELS = [
    ("setuptools", v)
    for v in (
        "20.0",
        "24.0.2",
        "28.8.0",
        "33.1.1",
        "36.8.0",
        "39.2.0",
        "40.8.0",
        "41.6.0",
        "44.1.1",
        "50.3.2",
        "57.5.0",
        "65.5.1",
        "68.2.2",
        "70.3.0",
        "75.8.0",
        "80.9.0",
    )
] + [("pip", v) for v in ("8.1.2", "9.0.3", "10.0.1", "19.2.3")]
ENVS = 12
STAMP = ".bench-complete"


def unpack(whl: Path, site: Path) -> int:
    """Install a wheel's files as pip does (purelib into site-packages, dist-info with RECORD)."""
    count = 0
    with zipfile.ZipFile(whl) as zf:
        for info in zf.infolist():
            if info.is_dir() or ".data/" in info.filename:
                continue
            target = site / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
            count += 1
    return count


def make_egg(whl: Path, dest: Path) -> Path:
    """A zipped egg as easy_install left it: the code plus EGG-INFO/PKG-INFO."""
    with zipfile.ZipFile(whl) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.BytesParser().parsebytes(zf.read(meta_name), headersonly=True)
        egg = dest / f"{meta['Name']}-{meta['Version']}-py2.7.egg"
        with zipfile.ZipFile(egg, "w", zipfile.ZIP_DEFLATED) as out:
            for info in zf.infolist():
                if ".dist-info/" not in info.filename and not info.is_dir():
                    out.writestr(info, zf.read(info))
            out.writestr("EGG-INFO/PKG-INFO", zf.read(meta_name))
    return egg


def count_files(root: Path) -> int:
    return sum(len(files) for _d, _s, files in os.walk(root))


def build(prefix: Path, target: int) -> None:
    if (prefix / STAMP).exists():
        return
    if prefix.exists():
        shutil.rmtree(prefix)
    started = time.perf_counter()
    for k in range(ENVS):
        site = prefix / "envs" / f"env{k:02d}" / "lib" / "python3.11" / "site-packages"
        site.mkdir(parents=True)
        for name, version in ENV_WHEELS if k % 3 else OLD_ENV_WHEELS:
            unpack(wheel(name, version), site)
    eggs_site = prefix / "envs" / "env00" / "lib" / "python3.11" / "site-packages"
    eggs = [make_egg(wheel(n, v), eggs_site) for n, v in EGG_WHEELS]
    (eggs_site / "easy-install.pth").write_text("".join(f"./{e.name}\n" for e in eggs))
    bundled = prefix / "lib" / "python3.11" / "ensurepip" / "_bundled"
    bundled.mkdir(parents=True)
    for name, version in ENV_WHEELS:
        shutil.copy(wheel(name, version), bundled)
    have = count_files(prefix)
    # synthetic packages: modules with their byte-code, 50 files a directory
    body = b"def f(x):\n    return x\n" * 20
    n = 0
    while have < target:
        pkg = prefix / "synthetic" / f"group{n // 40:03d}" / f"pkg{n:05d}"
        (pkg / "__pycache__").mkdir(parents=True)
        for m in range(min(25, (target - have + 1) // 2)):
            (pkg / f"mod{m:02d}.py").write_bytes(body)
            (pkg / "__pycache__" / f"mod{m:02d}.cpython-311.pyc").write_bytes(body)
            have += 2
        n += 1
    (prefix / STAMP).write_text("")
    print(f"built {prefix} in {time.perf_counter() - started:.1f} s", flush=True)


def install(venv: Path, source: Path) -> Path:
    """The checkout ``source``, installed into ``venv`` as a user installs it; its console script."""
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--force-reinstall",
            "--no-deps",
            str(source),
        ],
        check=True,
    )
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(source),
        ],
        check=True,
    )  # its dependencies
    return venv / "bin" / "pkgres-patcher"


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, bytes]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, check=False, env=env)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0,):
        sys.exit(f"{' '.join(cmd)} exited with {proc.returncode}: {proc.stderr.decode(errors='replace')[-2000:]}")
    return elapsed, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default="/tmp/pkgres-bench", help="where the prefix is built and kept")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--patches", help="patch set for locate (default: the shipped one)")
    parser.add_argument("--source", default=str(Path(__file__).resolve().parent.parent), help="checkout to install")
    args = parser.parse_args()

    prefix = Path(args.dir) / f"prefix-{args.files}"
    build(prefix, args.files)
    source = Path(args.source).resolve()
    script = install(Path(args.dir) / f"venv-{source.name}", source)
    locate_cmd = [str(script), "locate", str(prefix), "--json"]
    if args.patches:
        locate_cmd += ["--patches", args.patches]
    cold_cmd = [*locate_cmd, "--no-cache"]
    alone_cmd = [*locate_cmd, "--jobs", "1"]
    find_cmd = [
        "find",
        str(prefix),
        "-name",
        "__pycache__",
        "-prune",
        "-o",
        "(",
        "-name",
        "*.egg",
        "-o",
        "-name",
        "*.whl",
        "-o",
        "-path",
        "*/pkg_resources/__init__.py",
        "-o",
        "-name",
        "pkg_resources.py",
        ")",
        "-print",
    ]

    _, out = timed(locate_cmd)  # warm the page cache (and check the output)
    copies = json.loads(out)["copies"]
    _, found = timed(find_cmd)
    candidates = found.decode().splitlines()
    locate_times, first_times, cold_times, alone_times, find_times = [], [], [], [], []
    for _ in range(args.runs):  # interleaved, so that drift in the machine's load hits all
        locate_times.append(timed(locate_cmd)[0])
        with tempfile.TemporaryDirectory() as empty:
            first_times.append(timed(locate_cmd, {**os.environ, "PKGRES_PATCHER_CACHE_DIR": empty})[0])
        cold_times.append(timed(cold_cmd)[0])
        alone_times.append(timed(alone_cmd)[0])
        find_times.append(timed(find_cmd)[0])
    medians = (statistics.median(t) for t in (locate_times, first_times, cold_times, alone_times, find_times))
    loc, first, cold, alone, fnd = medians
    files = count_files(prefix)
    dirs = sum(len(d) for _p, d, _f in os.walk(prefix))
    print(f"prefix: {prefix}: {files} files, {dirs} directories")
    print(
        f"find lists {len(candidates)} candidates; locate reports {len(copies)} copies "
        f"({sum(1 for c in copies if c['container'] == 'egg-zip')} in zipped eggs, "
        f"{sum(1 for c in copies if c['container'] == 'wheel')} in wheels)"
    )
    rows = (
        ("locate --json", locate_times),
        ("  first run", first_times),
        ("  --no-cache", cold_times),
        ("  --jobs 1", alone_times),
        ("find", find_times),
    )
    for label, times in rows:
        print(
            f"{label + ':':<15}median {statistics.median(times) * 1000:.0f} ms of {args.runs} "
            f"(min {min(times) * 1000:.0f} ms)"
        )
    print(
        f"ratio locate/find: {loc / fnd:.2f}, first run: {first / fnd:.2f} (goal <= 1.25 both); "
        f"with --no-cache: {cold / fnd:.2f}; "
        f"with --jobs 1: {alone / fnd:.2f} ({os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
