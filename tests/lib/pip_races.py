"""Real pip, real races: a venv in which processes loop real ``pip install`` / ``pip uninstall``
of small distributions while others run real ``pip list`` / ``pip freeze`` and a long-lived
process calls ``pkg_resources`` in a loop. Every failure is counted per workload, classified
by the exception's type and the innermost ``pkg_resources`` frame of its traceback.

The distributions are built offline from tiny setuptools projects: dist-info wheels by
``pip wheel --no-index`` (setuptools 81 from the test cache as the build backend), eggs by
the venv's own ``setup.py bdist_egg`` (a zipped one, and one extracted into a directory as
easy_install did, both listed in ``easy-install.pth``), an ``.egg-info`` by ``setup.py install
--single-version-externally-managed --record``. Every one of them is uninstalled by real pip.

Writers (each N cycles of uninstall then install again, starting from everything installed):
``pip install``/``pip uninstall`` of the wheels; eggs dropped in place (atomically, then listed
in ``easy-install.pth``) and ``pip uninstall``-ed; ``setup.py install`` and ``pip uninstall``
of the egg-info project. Readers, until the writers are done: ``pip list``, ``pip freeze``, and
one process that imported ``pkg_resources`` while everything was installed and then loops
``WorkingSet()``, ``Environment()``, ``find_distributions()`` of every ``sys.path`` entry,
``require()`` of every project on a fresh working set and on the one built by the previous
round, and entry-point iteration. Every pip runs with ``_PIP_USE_IMPORTLIB_METADATA=0`` (pip's
``pkg_resources`` backend on Python < 3.14; the default before 3.11).

Used by tests/functional/test_pip_races.py and benchmarks/bench_pip_races.py (the figures per workload
for several releases).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

__all__ = [
    "REQUIRE_EARLIER",
    "Failure",
    "Figures",
    "Stack",
    "Stress",
    "Tally",
    "classify",
    "patch",
    "prepare",
    "run_workloads",
]

#: the projects and how each is installed (``keep`` is installed once and never uninstalled)
PROJECTS = {
    "alpha": "dist-info",
    "beta": "dist-info",
    "gamma": "egg-zip",
    "epsilon": "egg-dir",
    "delta": "egg-info",
    "keep": "dist-info",
}
#: every pip run uses its pkg_resources backend (pip >= 21.3 on Python 3.11 to 3.13 honours it)
PIP_ENV = {"_PIP_USE_IMPORTLIB_METADATA": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
#: a run of one command never takes this long; one that does has hung (counted as a failure)
TIMEOUT = 120

_INIT = "def main():\n    pass\n"
_SETUP = """from setuptools import setup
setup(name={name!r}, version="1.0", packages=[{name!r}], zip_safe={zipped},
      entry_points={{"console_scripts": ["{name}-cmd = {name}:main"]}})
"""
_PYPROJECT = '[build-system]\nrequires = ["setuptools>=70.1"]\nbuild-backend = "setuptools.build_meta"\n'


class Stack(NamedTuple):
    """The releases a stress run installs: the interpreter its venv is made from, pip's and
    setuptools' wheels (real upstream ones)."""

    python: str
    pip_wheel: str
    setuptools_wheel: str


class Stress(NamedTuple):
    """A venv ready for a stress run, and the distributions built for it."""

    root: str
    python: str
    site: str
    version: str
    env: dict[str, str]
    wheels: dict[str, str]
    eggs: dict[str, str]
    egg_info: dict[str, str]


class Failure(NamedTuple):
    workload: str
    type: str
    #: ``pkg_resources/__init__.py:<line> in <function>``: the innermost frame in pkg_resources, or "-"
    where: str
    message: str


class Tally(NamedTuple):
    """One workload: how many times it ran, and every failure."""

    runs: int
    failures: tuple[Failure, ...]
    #: (``require()`` on an earlier working set) how many calls asked for a distribution that
    #: had vanished since: the race was exercised
    stale: int = 0


class Figures(NamedTuple):
    workloads: dict[str, Tally]
    seconds: float

    @property
    def failures(self) -> list[Failure]:
        return [f for tally in self.workloads.values() for f in tally.failures]

    def table(self) -> str:
        """One line per workload (runs, failures), then one per kind of failure."""
        lines = []
        for name, tally in self.workloads.items():
            stale = f", {tally.stale} after the distribution vanished" if tally.stale else ""
            lines.append(f"  {name:<52} {len(tally.failures):4} failed of {tally.runs:5}{stale}")
            for (kind, where), count in Counter((f.type, f.where) for f in tally.failures).most_common():
                lines.append(f"      {count:4} x {kind} at {where}")
        return "\n".join(lines) + f"\n  ({self.seconds:.1f} s)\n"


def _run(argv: Sequence[str], cwd: str | None = None, env: dict[str, str] | None = None) -> None:
    """A step of the set-up: its output kept quiet, shown when it fails."""
    proc = subprocess.run(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")


def child_env(version: str) -> dict[str, str]:
    """The environment of every command run in the venv: pip on its pkg_resources backend."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_", "_PIP_"))}
    env.update(PIP_ENV)
    if tuple(map(int, version.split("."))) < (3, 11):
        del env["_PIP_USE_IMPORTLIB_METADATA"]  # pip's default there: no need to ask
    return env


def _write_project(root: str, name: str) -> str:
    project = os.path.join(root, name)
    os.makedirs(os.path.join(project, name))
    with open(os.path.join(project, name, "__init__.py"), "w") as f:
        f.write(_INIT)
    with open(os.path.join(project, "setup.py"), "w") as f:
        f.write(_SETUP.format(name=name, zipped=PROJECTS[name] == "egg-zip"))
    with open(os.path.join(project, "pyproject.toml"), "w") as f:
        f.write(_PYPROJECT)
    return project


def _build_wheels(projects: dict[str, str], names: Sequence[str]) -> dict[str, str]:
    """The dist-info projects as wheels, by real ``pip wheel --no-index`` (setuptools 81 the
    backend, from the test cache); kept in the test cache: they are the same for every stack."""
    from tests.conftest import CACHE, download

    backend = download("setuptools", "81.0.0")
    digest = hashlib.sha256(f"{_INIT}{_SETUP}{_PYPROJECT}{backend.name}".encode()).hexdigest()[:16]
    built = os.path.join(CACHE, "pip-races", digest)
    wheels = {n: os.path.join(built, f"{n}-1.0-py3-none-any.whl") for n in names}
    if all(os.path.exists(w) for w in wheels.values()):
        return wheels
    with tempfile.TemporaryDirectory() as tmp:
        links = os.path.join(tmp, "links")
        os.makedirs(links)
        shutil.copy(backend, links)
        argv = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-index", "--no-deps", "--find-links", links]
        _run([*argv, "--wheel-dir", os.path.join(tmp, "out"), *(projects[n] for n in names)], env=child_env("3.99"))
        os.makedirs(built, exist_ok=True)
        for wheel in wheels.values():
            os.replace(os.path.join(tmp, "out", os.path.basename(wheel)), wheel)
    return wheels


def prepare(stack: Stack, dest: str) -> Stress:
    """A venv of ``stack`` under ``dest``, the projects built, every one of them installed."""
    return _prepare(stack.python, dest, (stack.pip_wheel, stack.setuptools_wheel))


def prepare_system(python: str, dest: str) -> Stress:
    """A venv of the system interpreter ``python`` that sees its site-packages: the pip and
    setuptools a distribution package installed there (``/usr/bin/python3``'s), not wheels."""
    return _prepare(python, dest, ())


def _prepare(base_python: str, dest: str, stack_wheels: Sequence[str]) -> Stress:
    root = os.path.join(dest, "venv")
    system = [] if stack_wheels else ["--system-site-packages"]
    _run([base_python, "-m", "venv", "--without-pip", *system, root])
    python = os.path.join(root, "bin", "python")
    ask = "import sys, sysconfig; print(sysconfig.get_paths()['purelib']); print('%d.%d' % sys.version_info[:2])"
    out = subprocess.run([python, "-c", ask], capture_output=True, text=True, check=True).stdout.split()
    site, version = out[0], out[1]
    env = child_env(version)
    if stack_wheels:
        base = [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--no-compile"]
        _run([*base, "--quiet", *stack_wheels], env=env)

    sources = os.path.join(dest, "projects")
    projects = {name: _write_project(sources, name) for name in PROJECTS}
    wheels = _build_wheels(projects, [n for n, kind in PROJECTS.items() if kind == "dist-info"])
    built = os.path.join(dest, "eggs")
    eggs = {}
    for name, kind in PROJECTS.items():
        if kind in ("egg-zip", "egg-dir"):  # built by the stack's own setuptools, for its Python
            _run([python, "setup.py", "--quiet", "bdist_egg", "--dist-dir", built], cwd=projects[name], env=env)
            eggs[name] = os.path.join(built, f"{name}-1.0-py{version}.egg")
    egg_info = {n: projects[n] for n, kind in PROJECTS.items() if kind == "egg-info"}
    stress = Stress(root, python, site, version, env, wheels, eggs, egg_info)
    _run([python, "-m", "pip", "install", "--quiet", *_INSTALL, *wheels.values()], env=env)
    for name in eggs:
        _drop_egg(stress, name)
    for name in egg_info:
        _run(_setup_install(stress, name), cwd=egg_info[name], env=env)
    # byte-code of pip and pkg_resources written once, not by every first run at the same time
    _run([python, "-m", "pip", "list"], env=env)
    _run([python, "-c", "import pkg_resources"], env=env)
    return stress


_INSTALL = ("--no-deps", "--no-index", "--no-compile")


def _drop_egg(stress: Stress, name: str) -> None:
    """An egg put in place as easy_install did (zipped, or extracted when not zip-safe), made to
    appear at once (a temporary name, then a rename), and listed in ``easy-install.pth``."""
    egg = stress.eggs[name]
    target = os.path.join(stress.site, os.path.basename(egg))
    temporary = os.path.join(stress.site, f".{name}.tmp")
    if PROJECTS[name] == "egg-zip":
        shutil.copyfile(egg, temporary)
    else:
        with zipfile.ZipFile(egg) as zf:
            zf.extractall(temporary)
    os.rename(temporary, target)
    with open(os.path.join(stress.site, "easy-install.pth"), "a") as f:
        f.write(f"./{os.path.basename(egg)}\n")


def _setup_install(stress: Stress, name: str) -> list[str]:
    """``setup.py install`` as pip ran it for an sdist before PEP 517: an ``.egg-info`` directory."""
    record = os.path.join(stress.egg_info[name], "installed.txt")
    return [stress.python, "setup.py", "--quiet", "install", "--single-version-externally-managed", "--record", record]


# --- what the readers run -------------------------------------------------------------------

_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')
_EXCEPTION = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s*(?P<message>.*))?$")


def _where(frames: Iterable[tuple[str, int, str]]) -> str:
    """The innermost frame in a ``pkg_resources`` directory, as ``pkg_resources/<file>:<line> in <func>``."""
    found = "-"
    for file, line, func in frames:
        parts = file.split(os.sep)
        if "pkg_resources" in parts[:-1]:
            found = f"pkg_resources/{parts[-1]}:{line} in {func}"
    return found


def classify(workload: str, stderr: str, code: int) -> Failure:
    """A failed command: the exception of the last traceback on its stderr, else its last line."""
    lines = stderr.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last):")]
    if not starts:
        tail = next((line for line in reversed(lines) if line.strip()), f"exit status {code}")
        return Failure(workload, f"exit status {code}", "-", tail.strip())
    frames = []
    for line in lines[starts[-1] + 1 :]:
        frame = _FRAME.match(line)
        if frame:
            frames.append((frame["file"], int(frame["line"]), frame["func"]))
        elif not line.startswith(" "):
            match = _EXCEPTION.match(line)
            kind, message = (match["type"], match["message"] or "") if match else (line, "")
            return Failure(workload, kind.rsplit(".", 1)[-1], _where(frames), message)
    return Failure(workload, "truncated traceback", _where(frames), "")


def _command(workload: str, argv: Sequence[str], env: dict[str, str], cwd: str | None = None) -> Failure | None:
    """One run of a real command: None when it succeeded, else its failure."""
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Failure(workload, "timeout", "-", f"did not finish within {TIMEOUT} s")
    return None if proc.returncode == 0 else classify(workload, proc.stderr, proc.returncode)


#: the workload that asks for a distribution from a working set built before it vanished
REQUIRE_EARLIER = "require(name) on a WorkingSet built a round before"
#: the long-lived reader, run by the venv's interpreter (Python 2.7 to 3.x: no f-strings). Each
#: name is asked for from a working set built right after it was last asked for (and never
#: asked anything else): a distribution that vanishes is asked for from one that still lists it.
LOOP = r"""
import json, os, sys, traceback
stop, names = sys.argv[1], sys.argv[2].split(",")
runs, failures, stale = {}, [], {}

def where(tb):
    found = "-"
    for frame in traceback.extract_tb(tb):
        parts = frame[0].split(os.sep)
        if "pkg_resources" in parts[:-1]:
            found = "pkg_resources/%s:%d in %s" % (parts[-1], frame[1], frame[2])
    return found

def attempt(workload, call, *args):
    runs[workload] = runs.get(workload, 0) + 1
    try:
        return call(*args)
    except Exception:
        kind, exc, tb = sys.exc_info()
        if kind.__name__ != "DistributionNotFound":  # the one answer for what is not there
            failures.append([workload, kind.__name__, where(tb), str(exc)[:300]])
        return None

def gone(ws, name):
    dist = ws.by_key.get(name)
    if dist is None:
        return False
    info = getattr(getattr(dist, "_provider", None), "egg_info", None) or dist.location
    return not os.path.exists(info)

def entry_points(ws):
    return [ep.name for ep in ws.iter_entry_points("console_scripts")]

def require_earlier(name):
    if gone(earlier[name], name):
        stale[REQUIRE_EARLIER] = stale.get(REQUIRE_EARLIER, 0) + 1
    try:
        return earlier[name].require(name)
    finally:
        earlier[name] = pkg_resources.WorkingSet()

REQUIRE_EARLIER = sys.argv[3]
pkg_resources = attempt("import pkg_resources", __import__, "pkg_resources")
earlier = {}
while pkg_resources is not None and not os.path.exists(stop):
    attempt("WorkingSet()", pkg_resources.WorkingSet)
    attempt("Environment()", pkg_resources.Environment)
    for entry in list(sys.path):
        attempt("find_distributions(entry)", lambda e: list(pkg_resources.find_distributions(e)), entry)
    for name in names:
        attempt("WorkingSet().require(name)", lambda n: pkg_resources.WorkingSet().require(n), name)
    if earlier:
        attempt("entry points of a WorkingSet built a round before", entry_points, earlier[names[0]])
    for name in names:
        if name in earlier:
            attempt(REQUIRE_EARLIER, require_earlier, name)
        else:
            earlier[name] = attempt("WorkingSet()", pkg_resources.WorkingSet)
    sys.stdout.write("round\n")
    sys.stdout.flush()
sys.stdout.write(json.dumps({"runs": runs, "failures": failures, "stale": stale}) + "\n")
"""


class _Rounds:
    """The long-lived reader's rounds, counted as it reports them: a writer that uninstalled
    something waits for the reader to go round with it absent before it installs it again."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc, self.count, self.ended, self.report = proc, 0, False, ""
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.changed:
                if line == "round\n":
                    self.count += 1
                else:
                    self.report = line
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def wait(self, rounds: int) -> None:
        with self.changed:
            target = self.count + rounds
            self.changed.wait_for(lambda: self.count >= target or self.ended, timeout=TIMEOUT)


#: one step of a workload: its name (None: not counted) and what runs it
Step = tuple["str | None", Callable[[], "Failure | None"]]


class _Loop(threading.Thread):
    """Steps run one after the other, again and again: ``cycles`` times, else until told to stop."""

    def __init__(self, steps: Sequence[Step], cycles: int | None) -> None:
        super().__init__(daemon=True)
        self.steps, self.cycles = steps, cycles
        self.runs: Counter[str] = Counter()
        self.failures: list[Failure] = []
        self.stop = threading.Event()

    def run(self) -> None:
        done = 0
        while not self.stop.is_set() and (self.cycles is None or done < self.cycles):
            for workload, step in self.steps:
                failure = step()
                if workload is not None:
                    self.runs[workload] += 1
                if failure is not None:
                    self.failures.append(failure)
            done += 1


def run_workloads(stress: Stress, cycles: int, work: str) -> Figures:
    """Every workload at once, until each writer did ``cycles`` uninstall-install cycles."""
    start = time.perf_counter()
    here = tempfile.mkdtemp(dir=work)
    stop = os.path.join(here, "stop")
    names = [n for n in PROJECTS if n != "keep"] + ["keep"]
    with open(os.path.join(here, "stderr"), "w+") as stderr:
        loop = subprocess.Popen(
            [stress.python, "-c", LOOP, stop, ",".join(names), REQUIRE_EARLIER],
            env=stress.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        rounds = _Rounds(loop)
        try:
            rounds.wait(1)  # pkg_resources imported, a working set built with everything installed
            workloads = _race(stress, cycles, rounds)
        finally:
            with open(stop, "w"):
                pass
            loop.wait(timeout=TIMEOUT)
            rounds.thread.join()
        stderr.seek(0)
        err = stderr.read()
    if not rounds.report.strip():
        workloads["long-lived reader"] = Tally(1, (classify("long-lived reader", err, loop.returncode),))
    else:
        report = json.loads(rounds.report)
        for workload, count in report["runs"].items():
            failed = tuple(Failure(*f) for f in report["failures"] if f[0] == workload)
            workloads[workload] = Tally(count, failed, report["stale"].get(workload, 0))
    return Figures(workloads, time.perf_counter() - start)


def _race(stress: Stress, cycles: int, rounds: _Rounds) -> dict[str, Tally]:
    """The writers' and the pip readers' threads, run until the writers are done."""
    env = stress.env
    pip = [stress.python, "-m", "pip"]
    uninstall = [*pip, "uninstall", "--yes", "--quiet"]
    install = [*pip, "install", "--verbose", *_INSTALL]  # an OSError's traceback shown, not only its message

    def runs(workload: str, argv: Sequence[str], cwd: str | None = None) -> Step:
        return workload, lambda: _command(workload, argv, env, cwd)

    def absent() -> None:
        rounds.wait(2)  # a whole round of the long-lived reader with it gone

    def drop_eggs() -> None:
        for name in stress.eggs:
            _drop_egg(stress, name)

    wheels = {n: w for n, w in stress.wheels.items() if n != "keep"}
    (egg_info,) = stress.egg_info
    writers = [
        _Loop(
            [
                runs("pip uninstall (dist-info)", [*uninstall, *wheels]),
                (None, absent),
                runs("pip install (wheels)", [*install, *wheels.values()]),
            ],
            cycles,
        ),
        _Loop(
            [
                runs("pip uninstall (zipped and directory eggs)", [*uninstall, *stress.eggs]),
                (None, absent),
                (None, drop_eggs),
            ],
            cycles,
        ),
        _Loop(
            [
                runs("pip uninstall (egg-info)", [*uninstall, egg_info]),
                (None, absent),
                runs("setup.py install (egg-info)", _setup_install(stress, egg_info), stress.egg_info[egg_info]),
            ],
            cycles,
        ),
    ]
    readers = [_Loop([runs("pip list", [*pip, "list"])], None), _Loop([runs("pip freeze", [*pip, "freeze"])], None)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    for thread in readers:
        thread.stop.set()
    for thread in readers:
        thread.join()
    workloads: dict[str, Tally] = {}
    for thread in writers + readers:
        for workload, count in thread.runs.items():
            workloads[workload] = Tally(count, tuple(f for f in thread.failures if f.workload == workload))
    return workloads


def patch(stress: Stress) -> None:
    """``pkgres-patcher apply`` on the venv (every copy of pkg_resources in it)."""
    _run([sys.executable, "-m", "patcher", "apply", "--quiet", stress.root])
