"""``pkgres-patcher pip``: which lock a pip command takes, checked against what real pip does.

Small projects are built here with real setuptools (81) and real pip (26.3), offline: ``alpha``
1.0 and 2.0, ``beta`` (needs ``alpha>=2``), ``gamma``, as wheels, and ``alpha`` 1.0 as an sdist.
Each row of the table starts from an environment where ``alpha`` 1.0 is installed, decides the
lock as ``pkgres-patcher pip`` does (the command line, else pip's own dry run), then runs the real
pip command there and looks whether a file of an installed distribution was removed or written
anew: that is what must not happen under a shared lock.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import pytest

from patcher.envlock import policy
from patcher.errors import UsageError
from patcher.model import LockDecision, LockMode

from ..conftest import CACHE, download, venv_python
from .test_lock import Run, read_line

SHARED, EXCLUSIVE = LockMode.SHARED, LockMode.EXCLUSIVE

PROJECTS = {
    "alpha-1.0": ("alpha", "1.0", []),
    "alpha-2.0": ("alpha", "2.0", []),
    "beta-1.0": ("beta", "1.0", ["alpha>=2"]),
    "gamma-1.0": ("gamma", "1.0", []),
}
SETUP = "from setuptools import setup\nsetup(name={name!r}, version={version!r}, py_modules=[{name!r}], install_requires={needs!r})\n"


def unpack(wheel: Path, dest: Path) -> None:
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(dest)


class Kit(NamedTuple):
    """What every row needs: pip and setuptools to put on an environment's path, the wheels, the
    sdist, and an environment with ``alpha`` 1.0 installed to copy."""

    tools: Path
    wheels: Path
    sdist: Path
    template: Path


def environment(root: Path, tools: Path) -> Path:
    """A venv whose site-packages reaches pip 26.3 and setuptools 81 through a ``.pth`` file."""
    subprocess.run([venv_python(), "-m", "venv", "--without-pip", str(root)], check=True)
    site = next(root.glob("lib/python*/site-packages"))
    (site / "tools.pth").write_text(f"{tools}\n")
    return root / "bin" / "python"


def pip(python: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = [str(python), "-m", "pip", *args]
    return subprocess.run(argv, capture_output=True, text=True, check=check)


def build(tools: Path, scratch: Path) -> Path:
    """The projects' wheels and alpha 1.0's sdist, built once (kept in the test cache by the
    digest of their sources and tools)."""
    key = hashlib.sha256(repr((sorted(PROJECTS.items()), SETUP, tools.name)).encode()).hexdigest()[:16]
    built = CACHE / "built" / f"pip-lock-{key}"
    if (built / "done").exists():
        return built
    python = environment(scratch / "build-env", tools)
    sources = []
    for project, (name, version, needs) in PROJECTS.items():
        source = scratch / "src" / project
        source.mkdir(parents=True)
        (source / "setup.py").write_text(SETUP.format(name=name, version=version, needs=needs))
        (source / f"{name}.py").write_text(f"VERSION = {version!r}\n")
        sources.append(str(source))
    shutil.rmtree(built, ignore_errors=True)
    for batch in (sources[:1] + sources[2:], sources[1:2]):  # pip builds one version of a project per run
        pip(
            python,
            "wheel",
            "--quiet",
            "--no-index",
            "--no-build-isolation",
            "--no-deps",
            "-w",
            str(built / "wheels"),
            *batch,
        )
    subprocess.run(
        [str(python), "setup.py", "--quiet", "sdist", "-d", str(built / "sdists")],
        cwd=scratch / "src" / "alpha-1.0",
        capture_output=True,
        check=True,
    )
    (built / "done").write_text("")
    return built


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    scratch = tmp_path_factory.mktemp("pip-lock")
    tools = scratch / "tools-pip-26.3-setuptools-81"
    unpack(download("pip", "26.3"), tools)
    unpack(download("setuptools", "81.0.0"), tools)
    built = build(tools, scratch)
    template = scratch / "template"
    python = environment(template, tools)
    pip(python, "install", "--quiet", "--no-index", "--no-deps", str(built / "wheels" / "alpha-1.0-py3-none-any.whl"))
    return Kit(tools, built / "wheels", next((built / "sdists").glob("alpha-1.0.tar.gz")), template)


@pytest.fixture(autouse=True)
def _no_pip_configuration(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """pip reads only what the rows say (no find-links or index of the machine's configuration)."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    yield


def fresh(kit: Kit, root: Path) -> Path:
    """A copy of the template environment (alpha 1.0 installed); its interpreter."""
    shutil.copytree(kit.template, root, symlinks=True)
    return root / "bin" / "python"


def files_of_installed(python: Path) -> dict[str, tuple[int, int, int]]:
    """Each file of site-packages with its inode, modification time and size (not byte-code)."""
    site = next(python.parent.parent.glob("lib/python*/site-packages"))
    found = {}
    for dirpath, dirs, files in os.walk(site):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            st = os.stat(os.path.join(dirpath, name))
            found[os.path.relpath(os.path.join(dirpath, name), site)] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return found


def what_pip_does(python: Path, args: Sequence[str]) -> LockMode:
    """Run the real pip command: EXCLUSIVE when it removed or wrote anew a file that was installed."""
    before = files_of_installed(python)
    ran = pip(python, *args, check=False)
    assert ran.returncode == 0, ran.stderr
    after = files_of_installed(python)
    touched = [path for path, seen in before.items() if after.get(path) != seen]
    return EXCLUSIVE if touched else SHARED


def decide(python: Path, args: Sequence[str]) -> tuple[LockDecision, str]:
    """The decision ``pkgres-patcher pip`` takes, and whether the command line or pip told."""
    env = policy.probe(str(python))
    decision = policy.decide_from_arguments(args, env.installed)
    if decision is not None:
        return decision, "arguments"
    return policy.ask_pip(env, args), "pip"


W, S, D = "{wheels}", "{sdist}", "{out}"
OFFLINE = ["--no-index", "--find-links", W]

#: (pip's arguments, decided by, lock decided, what pip does: replaces (EXCLUSIVE) or only adds)
TABLE = [
    (["list"], "arguments", SHARED, SHARED),
    (["download", *OFFLINE, "-d", D, "beta"], "arguments", SHARED, SHARED),
    (["install", *OFFLINE, "--no-deps", "gamma"], "arguments", SHARED, SHARED),
    (["install", *OFFLINE, "gamma"], "pip", SHARED, SHARED),
    (["install", *OFFLINE, "alpha"], "pip", SHARED, SHARED),  # satisfied: nothing to do
    (["install", "--no-index", f"{W}/alpha-1.0-py3-none-any.whl"], "pip", SHARED, SHARED),  # same version: kept
    (["install", *OFFLINE, "alpha==2.0"], "pip", EXCLUSIVE, EXCLUSIVE),
    (["install", *OFFLINE, "beta"], "pip", EXCLUSIVE, EXCLUSIVE),  # no -U, yet alpha is upgraded for beta
    (
        ["install", "--no-index", "--no-build-isolation", S],
        "pip",
        EXCLUSIVE,
        EXCLUSIVE,
    ),  # same version, but an sdist: reinstalled
    (["install", *OFFLINE, "-U", "alpha"], "arguments", EXCLUSIVE, EXCLUSIVE),
    (["install", *OFFLINE, "-I", "alpha==1.0"], "arguments", EXCLUSIVE, EXCLUSIVE),  # written over, not uninstalled
    (["install", *OFFLINE, "--upgrade", "gamma"], "arguments", EXCLUSIVE, SHARED),  # the rule, on the safe side
    (["uninstall", "-y", "alpha"], "arguments", EXCLUSIVE, EXCLUSIVE),
]


@pytest.mark.parametrize(("words", "by", "mode", "pip_does"), TABLE, ids=[" ".join(row[0]) for row in TABLE])
def test_the_lock_of_a_real_pip_command_matches_what_pip_does(
    words: list[str], by: str, mode: LockMode, pip_does: LockMode, kit: Kit, tmp_path: Path
) -> None:
    places = {"wheels": kit.wheels, "sdist": kit.sdist, "out": tmp_path / "out"}
    args = [word.format(**places) for word in words]
    python = fresh(kit, tmp_path / "env")
    decision, decided_by = decide(python, args)
    assert (decided_by, decision.mode) == (by, mode), decision.reason
    assert what_pip_does(python, args) is pip_does
    assert not (mode is SHARED and pip_does is EXCLUSIVE)  # never shared when pip replaces


# --- the command line alone (no pip run) -------------------------------------------------------

INSTALLED = {"alpha": "1.0", "pip": "26.3"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], SHARED),
        (["--version"], SHARED),
        (["-q", "--isolated", "--cache-dir", "/c", "freeze"], SHARED),
        (["--log=/tmp/l", "-vv", "check"], SHARED),
        (["show", "alpha"], SHARED),
        (["cache", "purge"], SHARED),
        (["install", "--help"], SHARED),
        (["install", "--dry-run", "-U", "alpha"], SHARED),
        (["install", "-qU", "alpha"], EXCLUSIVE),  # a cluster of short flags
        (["install", "--upgrade-strategy", "eager", "-q", "--upgrade", "alpha"], EXCLUSIVE),
        (["install", "--ignore-installed", "gamma"], EXCLUSIVE),
        (["install", "--target", "/t", "--no-deps", "gamma"], EXCLUSIVE),
        (["install", "--prefix=/p", "--no-deps", "gamma"], EXCLUSIVE),
        (["uninstall", "-y", "gamma"], EXCLUSIVE),
        (["frobnicate"], EXCLUSIVE),
        (["--frobnicate", "list"], EXCLUSIVE),  # an option no pip knows: the command is unclear
        (["install", "--no-deps", "gamma", "delta @ file:///d/delta-1.0.tar.gz"], SHARED),
        (["install", "--no-deps", "-f", "/w", "/w/gamma-1.0-py3-none-any.whl", "-c", "c.txt"], SHARED),
        (["install", "--no-deps", "--index-url=/i", "-qq", "gamma>=1"], SHARED),
        (["install", "--no-deps", "alpha==1.0"], None),  # installed: pip tells whether 1.0 will do
        (["install", "gamma"], None),  # its dependencies could replace something
        (["install", "--no-deps", "-rreq.txt"], None),
        (["install", "--no-deps", "-e", "."], None),
        (["install", "--no-deps", "./gamma"], None),
        (["install", "--no-deps", "gamma-1.0.tar.gz"], None),
        (["install", "--no-deps", "--upg", "alpha"], None),  # optparse's abbreviation: pip reads it
        (["install", "--no-deps", "-Z", "gamma"], None),
    ],
)
def test_the_command_line_decides_or_leaves_it_to_pip(args: list[str], expected: LockMode | None) -> None:
    decision = policy.decide_from_arguments(args, INSTALLED)
    assert (decision.mode if decision else None) is expected, decision


def test_pips_own_python_option_is_refused() -> None:
    with pytest.raises(UsageError):
        policy.decide_from_arguments(["--python", "/other/python", "install", "gamma"], INSTALLED)


def test_a_report_that_names_an_installed_distribution_is_exclusive() -> None:
    report = {
        "install": [
            {"metadata": {"name": "Gamma", "version": "1.0"}},
            {"metadata": {"name": "ALPHA", "version": "2.0"}},
        ]
    }
    assert policy.decide_from_report(report, INSTALLED) == LockDecision(
        EXCLUSIVE, "pip would replace ALPHA 1.0 with 2.0"
    )
    assert policy.decide_from_report({"install": []}, INSTALLED).mode is SHARED


def test_what_is_installed_is_read_from_the_path(tmp_path: Path) -> None:
    site = tmp_path / "site"
    for entry in ("Foo_Bar-1.2.dist-info", "old-0.9-py2.7.egg-info", "zipped-3.0-py2.7.egg", "dev.egg-link"):
        (site / entry).mkdir(parents=True)
    egg = tmp_path / "onpath-4.0-py3.11.egg"
    egg.mkdir()
    (tmp_path / "second").mkdir()
    (tmp_path / "second" / "foo_bar-9.9.dist-info").mkdir()
    found = policy.installed_distributions([str(site), str(egg), str(tmp_path / "second"), str(tmp_path / "missing")])
    assert found == {"foo-bar": "1.2", "old": "0.9", "zipped": "3.0", "dev": "", "onpath": "4.0"}


# --- an older pip, and the command end to end ----------------------------------------------


def test_a_pip_without_dry_run_takes_the_exclusive_lock(tmp_path: Path) -> None:
    tools = tmp_path / "tools-pip-22.0"
    unpack(download("pip", "22.0"), tools)
    python = environment(tmp_path / "env", tools)
    decision, by = decide(python, ["install", "--no-index", "gamma"])
    assert (by, decision.mode) == ("pip", EXCLUSIVE)
    assert "pip 22.0 cannot tell what it would replace" in decision.reason
    really = pip(python, "install", "--dry-run", "--no-index", "gamma", check=False)
    assert really.returncode == 2 and "no such option: --dry-run" in really.stderr


def patcher_pip(python: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "patcher", "pip", "--python", str(python), *args]


def shared_lock(prefix: Path) -> Path:
    """Where ``pkgres-patcher pip`` locks an environment that keeps no lock of its own."""
    if not Path("/run/lock").is_dir():
        return prefix / "var" / "lock" / "pip.lock"
    return Path("/run/lock") / policy.shared_lock_name(str(prefix))


def test_pip_runs_under_the_environments_lock_and_returns_pips_status(kit: Kit, tmp_path: Path) -> None:
    python = fresh(kit, tmp_path / "env")
    shown = subprocess.run(patcher_pip(python, "-v", "--", "show", "alpha"), capture_output=True, text=True)
    lock = shared_lock(tmp_path / "env")  # the environment keeps no lock of its own
    try:
        assert shown.returncode == 0 and "Version: 1.0" in shown.stdout
        assert shown.stderr == (
            f"pkgres-patcher: shared lock on {lock}: pip show does not remove or replace installed files\n"
        )
        assert lock.is_file()
        missing = subprocess.run(patcher_pip(python, "--", "show", "no-such-thing"), capture_output=True, text=True)
        assert missing.returncode == 1  # pip's own status
    finally:
        lock.unlink(missing_ok=True)


def test_an_install_that_pip_says_replaces_waits_for_the_shared_holders(kit: Kit, tmp_path: Path) -> None:
    """Shared first (pip's dry run must not meet an uninstall), then exclusive: it waits."""
    python = fresh(kit, tmp_path / "env")
    lock = tmp_path / "env" / "var" / "lock" / "pip.lock"
    log = tmp_path / "log"
    reader = Run([sys.executable, "-m", "patcher", "lock", "--shared", str(lock), "--"], "reader", log)
    reader.entered()
    install = subprocess.Popen(
        patcher_pip(
            python, "-v", "--", "install", "--quiet", *[w.format(wheels=kit.wheels) for w in OFFLINE], "alpha==2.0"
        ),
        stderr=subprocess.PIPE,
    )
    assert read_line(install.stderr, "pkgres-patcher pip") == f"pkgres-patcher: waiting for exclusive lock on {lock}\n"
    log.write_text(log.read_text() + "install waits\n")
    reader.release()
    assert install.wait(timeout=300) == 0
    assert install.stderr is not None
    assert install.stderr.read().decode() == (
        f"pkgres-patcher: exclusive lock on {lock}: pip would replace alpha 1.0 with 2.0\n"
    )
    assert reader.finish() == (0, "")
    assert log.read_text().splitlines() == ["reader in", "install waits", "reader out"]
    assert policy.probe(str(python)).installed["alpha"] == "2.0"


def test_an_uninstall_waits_for_a_reader(kit: Kit, tmp_path: Path) -> None:
    python = fresh(kit, tmp_path / "env")
    lock = tmp_path / "env" / "var" / "lock" / "pip.lock"
    log = tmp_path / "log"
    reader = Run([sys.executable, "-m", "patcher", "lock", "-s", str(lock), "--"], "reader", log)
    reader.entered()
    uninstall = Run(patcher_pip(python, "--"), "uninstall", log, ["uninstall", "-y", "alpha"])
    assert uninstall.waiting() == f"pkgres-patcher: waiting for exclusive lock on {lock}\n"
    reader.release()
    code, _ = uninstall.finish()
    assert code == 0
    assert "alpha" not in policy.probe(str(python)).installed
    assert log.read_text().splitlines() == ["reader in", "reader out"]


def test_a_system_python_is_locked_where_every_user_can(tmp_path: Path) -> None:
    """``/usr/bin/python3`` (``sys.prefix`` ``/usr``): a user who cannot write ``/usr`` runs even
    ``pip --version`` (issue #20), and root takes the very same lock file, so that a reader's
    lock and a writer's meet; ``/usr/var/lock`` is never made."""
    system = "/usr/bin/python3"
    if os.getuid() != 0 or shutil.which("setpriv") is None or not os.path.exists(system):
        pytest.skip("needs root, setpriv and a system /usr/bin/python3")
    nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    ours = [sys.executable, "-m", "patcher", "pip", "--python", system, "-v", "--", "--version"]
    if subprocess.run([*nobody, sys.executable, "-c", "import patcher"], capture_output=True, cwd="/").returncode:
        pytest.skip("the unprivileged user (65534) cannot run this checkout")
    had_var = os.path.exists("/usr/var")
    lock = shared_lock(Path("/usr"))
    said = f"pkgres-patcher: shared lock on {lock}: pip only prints its version or help\n"
    for who, umask in ((nobody, "077"), ((), "022")):
        run = subprocess.run(
            ["sh", "-c", f'umask {umask} && exec "$@"', "sh", *who, *ours], capture_output=True, text=True, cwd="/"
        )
        # then pip ran, and its status is ours (Debian's python3 may be without pip: its words follow)
        alone = subprocess.run([*who, system, "-m", "pip", "--version"], capture_output=True, text=True, cwd="/")
        assert (run.returncode, run.stdout, run.stderr) == (alone.returncode, alone.stdout, said + alone.stderr)
    assert lock.stat().st_mode & 0o444 == 0o444  # every user may open it, whatever the first one's umask
    assert os.path.exists("/usr/var") == had_var
