"""``pkgres-patcher.pyz`` (``devtools/build_pyz.py``): the tool, its dependencies and its patch set
in one file, for builds that install pip and setuptools before anything else exists.

Run as such a build runs it: ``python3 -I pkgres-patcher.pyz COMMAND PREFIX`` on every Python
from 3.9 (the running one always, the others from pyenv), with no ``HOME`` or one that cannot be
written, nothing unpacked anywhere; and ``apply``, ``revert``, ``locate`` and ``verify`` in a
network namespace with no network at all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import build_pyz, download, json_output, pip_install, require_python, snapshot

RUNNING = "{}.{}".format(*sys.version_info[:2])
#: the Pythons the single file is run with: every supported minor release, and the running one
PYTHONS = sorted({"3.9", "3.10", "3.11", "3.12", "3.13", RUNNING}, key=lambda v: tuple(map(int, v.split("."))))
SETUPTOOLS = "80.9.0"  # supports every Python the tool runs on


def python_for(version: str) -> str:
    return sys.executable if version == RUNNING else require_python(version)


@pytest.fixture(scope="session")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prefix as a build installs it: setuptools installed by real pip (``--target``), no byte-code."""
    target = tmp_path_factory.mktemp("pyz-prefix") / "site"
    pip_install("install", "--target", str(target), str(download("setuptools", SETUPTOOLS)))
    return target


@pytest.fixture
def prefix(pristine: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pristine, tmp_path / "prefix", symlinks=True))


def bare_env(tmp_path: Path, **changes: str) -> dict[str, str]:
    """A build's environment: no ``HOME``, no ``XDG_*``, no ``PYTHON*`` (``-I`` ignores them
    anyway), a temporary directory of its own; this test's lock and cache directories kept."""
    env = {k: v for k, v in os.environ.items() if k != "HOME" and not k.startswith(("XDG_", "PYTHON"))}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env["TMPDIR"] = str(tmp_path / "tmp")
    env.update(changes)
    return env


def run_pyz(
    python: str, pyz: Path, *argv: str, env: dict[str, str], wrapper: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*wrapper, python, "-I", str(pyz), *argv], capture_output=True, text=True, env=env, cwd="/", timeout=600
    )


def round_trip(
    python: str, pyz: Path, prefix: Path, env: dict[str, str], wrapper: tuple[str, ...] = ()
) -> list[subprocess.CompletedProcess[str]]:
    """locate, apply, locate --check, verify --quick, revert: each must succeed; the tree ends as it began."""
    before = snapshot(prefix)
    runs = []
    for argv in (
        ("locate", "--json"),
        ("apply", "--json"),
        ("locate", "--check"),
        ("verify", "--quick", "--json"),
        ("revert", "--json"),
    ):
        run = run_pyz(python, pyz, *argv, str(prefix), env=env, wrapper=wrapper)
        assert run.returncode == 0, f"{argv}: {run.stderr}"
        assert "Traceback" not in run.stderr
        runs.append(run)
    located, applied, verified, reverted = (json_output(runs[i].stdout) for i in (0, 1, 3, 4))
    assert [(c["state"], c["owner"]["version"]) for c in located["copies"]] == [("unpatched", SETUPTOOLS)]
    assert [r["outcome"] for r in applied["copies"]] == ["patched"]
    assert [c["status"] for c in verified["copies"]] == ["passed"]
    assert [r["outcome"] for r in reverted["copies"]] == ["reverted"]
    assert snapshot(prefix) == before
    return runs


def test_the_archive_holds_the_tool_its_dependencies_and_its_patch_set(pyz: Path) -> None:
    with open(pyz, "rb") as f:
        assert f.readline() == b"#!/usr/bin/env python3\n"
    assert os.access(pyz, os.X_OK)
    with zipfile.ZipFile(pyz) as zf:
        names = set(zf.namelist())
    patches = Path(__file__).resolve().parents[2] / "patches"
    shipped = {f"patcher/patches/{p.relative_to(patches).as_posix()}" for p in patches.rglob("*") if p.is_file()}
    assert shipped <= names
    assert {"__main__.py", "patcher/cli.py", "patcher/verification/probe_child.py"} <= names
    assert {"unidiff/__init__.py", "packaging/__init__.py"} <= names
    assert any(n.startswith("packaging-") and n.endswith(".dist-info/METADATA") for n in names)  # its licence too
    assert not [n for n in names if n.endswith((".pyc", ".so")) or "__pycache__" in n]


def test_the_same_sources_give_the_same_bytes(pyz: Path, tmp_path: Path) -> None:
    """Built again, later and in another time zone (the dependencies unpacked anew, with other
    times, which a zip would record in local time): not a byte differs."""
    again = tmp_path / "again.pyz"
    build_pyz(again, TZ="UTC-14")
    assert again.read_bytes() == pyz.read_bytes()


def vendored(pyz: Path) -> dict[str, tuple[str, str]]:
    """Distribution -> (version, Requires-Python) of what the file carries."""
    from email.parser import HeaderParser

    found = {}
    with zipfile.ZipFile(pyz) as zf:
        for name in zf.namelist():
            if name.endswith(".dist-info/METADATA") and name.count("/") == 1:
                metadata = HeaderParser().parsestr(zf.read(name).decode())
                found[metadata["Name"]] = (metadata["Version"], metadata.get("Requires-Python") or "")
    return found


def test_every_vendored_release_runs_on_the_oldest_python(pyz: Path) -> None:
    """Built from a fresh resolution, whatever the venv installed: each dependency's
    ``Requires-Python`` admits 3.9."""
    from packaging.specifiers import SpecifierSet

    carried = vendored(pyz)
    assert sorted(carried) == ["packaging", "unidiff"]
    for name, (version, requires) in carried.items():
        assert SpecifierSet(requires).contains("3.9.0"), f"{name} {version} needs Python {requires}"


#: packaging 26.4 is the first release that needs Python >= 3.10; 26.3 is the one before it
NEEDS_310, RUNS_ON_39 = "26.4", "26.3"


def links(tmp_path: Path, *wheels: Path) -> tuple[str, ...]:
    """``--no-index --find-links DIR``: a directory holding just ``wheels``."""
    directory = tmp_path / "links"
    directory.mkdir()
    for wheel in wheels:
        shutil.copy(wheel, directory)
    return ("--no-index", f"--find-links={directory}")


def test_offline_a_release_that_drops_the_oldest_python_is_passed_over(tmp_path: Path) -> None:
    from importlib.metadata import version

    options = links(
        tmp_path,
        download("packaging", NEEDS_310, any_python=True),
        download("packaging", RUNS_ON_39),
        download("unidiff", version("unidiff")),
    )
    build_pyz(tmp_path / "offline.pyz", *options)
    assert vendored(tmp_path / "offline.pyz")["packaging"][0] == RUNS_ON_39


def test_offline_with_no_release_for_the_oldest_python_the_build_refuses_in_one_line(tmp_path: Path) -> None:
    from importlib.metadata import version

    options = links(
        tmp_path, download("packaging", NEEDS_310, any_python=True), download("unidiff", version("unidiff"))
    )
    build = Path(__file__).resolve().parents[2] / "devtools" / "build_pyz.py"
    output = tmp_path / "refused.pyz"
    run = subprocess.run(
        [sys.executable, str(build), "--output", str(output), *options], capture_output=True, text=True
    )
    assert run.returncode == 1
    assert run.stdout == ""
    [line] = run.stderr.splitlines()
    assert line.startswith("build_pyz: packaging: no release of packaging>=21,<="), line
    assert " supports Python 3.9" in line and "Traceback" not in line
    assert not output.exists() and os.listdir(tmp_path) == ["links"]


@pytest.mark.parametrize("version", PYTHONS)
def test_isolated_without_a_home(pyz: Path, prefix: Path, tmp_path: Path, version: str) -> None:
    python = python_for(version)
    runs = round_trip(python, pyz, prefix, bare_env(tmp_path))
    verified = json.loads(runs[3].stdout)["copies"][0]
    assert verified["python_version"] == version  # the copy has no interpreter of its own: the one running the file
    assert [r.stderr for r in runs] == [""] * len(runs)
    assert os.listdir(tmp_path / "tmp") == []  # nothing unpacked, nothing left


#: run by the unprivileged user: a Python >= 3.9 that can start itself again (verify's probes do)
RUNS_ITSELF = (
    "import subprocess, sys; sys.exit(sys.version_info < (3, 9) or subprocess.call([sys.executable, '-S', '-c', '']))"
)


def unprivileged(world: Path) -> tuple[tuple[str, ...], str]:
    """A wrapper that runs a program as an unprivileged user (root writes anywhere; none needed
    when not root), and a Python that user can run; ``world`` is handed over to that user."""
    if os.getuid() != 0:
        return (), sys.executable
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a home cannot be made unwritable")
    wrapper = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    for python in dict.fromkeys([sys.executable, shutil.which("python3") or "", "/usr/bin/python3"]):
        if (
            python
            and subprocess.run([*wrapper, python, "-c", RUNS_ITSELF], capture_output=True, cwd="/").returncode == 0
        ):
            break
    else:
        pytest.skip("no Python >= 3.9 that the unprivileged user (65534) can run")
    for path in [world, *world.rglob("*")]:
        os.chown(path, 65534, 65534, follow_symlinks=False)
    return wrapper, python


@pytest.fixture
def world() -> Iterator[Path]:
    """A directory every user can walk (pytest's own temporary directories are private)."""
    path = Path(tempfile.mkdtemp(prefix="pkgres-patcher-pyz-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_isolated_with_a_home_that_cannot_be_written(pyz: Path, pristine: Path, world: Path) -> None:
    shutil.copy(pyz, world / "pkgres-patcher.pyz")
    prefix = Path(shutil.copytree(pristine, world / "prefix", symlinks=True))
    (world / "tmp").mkdir()
    wrapper, python = unprivileged(world)
    home = world / "home"  # exists, but cannot be written (owned by root when run as nobody)
    home.mkdir()
    home.chmod(0o555)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "PKGRES_PATCHER_", "PYTHON"))}
    env.update(HOME=str(home), TMPDIR=str(world / "tmp"))
    uid = 65534 if wrapper else os.getuid()

    runs = round_trip(python, world / "pkgres-patcher.pyz", prefix, env, wrapper)

    locks = world / "tmp" / f"pkgres-patcher-{uid}" / "locks"
    note = f"pkgres-patcher: note: cannot use {home}/.cache/pkgres-patcher/locks (Permission denied); locks in {locks}"
    assert [r.stderr.splitlines() for r in runs] == [[], [note], [], [], [note]]
    assert os.listdir(home) == []
    assert sorted(os.listdir(world / "tmp")) == [f"pkgres-patcher-{uid}"]  # locks and cache: nothing unpacked


@pytest.mark.parametrize("version", ["2.7", "3.8"])
def test_an_older_python_is_refused_in_one_line(pyz: Path, tmp_path: Path, version: str) -> None:
    python = require_python(version)
    argv = [python, str(pyz)] if version == "2.7" else [python, "-I", str(pyz)]  # 2.7 has no -I
    run = subprocess.run([*argv, "locate"], capture_output=True, text=True, env=bare_env(tmp_path), cwd="/")
    assert (run.returncode, run.stdout, run.stderr) == (
        2,
        "",
        f"pkgres-patcher: Python {version}: needs Python >= 3.9\n",
    )


def no_network() -> tuple[str, ...]:
    """``unshare`` into a network namespace of its own (nothing but a loopback that is down), or skip."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1): a network namespace cannot be made")
    reasons = []
    for wrapper in (("unshare", "--net", "--"), ("unshare", "--map-root-user", "--net", "--")):
        probe = subprocess.run([*wrapper, "true"], capture_output=True, text=True)
        if probe.returncode == 0:
            return wrapper
        reasons.append(f"{' '.join(wrapper[:-1])}: {probe.stderr.strip()}")
    pytest.skip("no network namespace can be made here (" + "; ".join(reasons) + ")")


#: run inside the namespace: connecting anywhere fails at once, so the namespace really has no network
NETWORK_PROBE = """
import errno, socket
try:
    socket.create_connection(("192.0.2.1", 9), timeout=5)
except OSError as exc:
    raise SystemExit(0 if exc.errno == errno.ENETUNREACH else exc.errno or 1)
raise SystemExit("connected")
"""


def test_apply_revert_locate_and_verify_need_no_network(pyz: Path, prefix: Path, tmp_path: Path) -> None:
    wrapper = no_network()
    probe = subprocess.run([*wrapper, sys.executable, "-I", "-c", NETWORK_PROBE], capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr

    runs = round_trip(sys.executable, pyz, prefix, bare_env(tmp_path), wrapper)

    assert [r.stderr for r in runs] == [""] * len(runs)
