"""Build sandboxes (pbuilder, conda-build, Nix): no home directory, a cache that cannot be written.

Real runs of ``python -m patcher`` with the environment such a sandbox gives: ``HOME=/nonexistent``,
no ``XDG_*`` variables, or a cache directory below a regular file (``ENOTDIR``: we run as root,
for whom permissions do not stop a write); and, where ``setpriv`` can drop privileges, as an
unprivileged user whose home cannot be written. Every run works, or fails with one line per
problem; the fallback directory for locks is said, deterministic, private and safe from names
planted in a shared temporary directory.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import Venv, VenvFactory, download, make_patchset, snapshot
from ..lib.runs import states

ROOT = Path(__file__).resolve().parents[2]
UID = os.getuid()


def sandbox_env(tmp_path: Path, **changes: str) -> dict[str, str]:
    """This environment as a build sandbox has it: no home, no XDG directories, no settings of
    ours; a temporary directory of the test's own (``TMPDIR``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "PKGRES_PATCHER_"))}
    env["HOME"] = "/nonexistent"
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env.update(changes)
    return env


def patcher(*argv: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patcher", *argv], capture_output=True, text=True, env=env, cwd=str(cwd), timeout=600
    )


def one_line_each(err: str) -> list[str]:
    """The messages on stderr: each a line of its own, no traceback."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert all(line.startswith("pkgres-patcher: ") for line in lines), err
    return lines


def private_dir(tmp_path: Path) -> Path:
    return tmp_path / "tmp" / f"pkgres-patcher-{UID}"


@pytest.fixture
def venv(venv_factory: VenvFactory) -> Venv:
    env = venv_factory()
    env.install(download("setuptools", "60.0.0"))
    return env


def test_apply_without_a_home_locks_in_a_private_temporary_directory(venv: Venv, tmp_path: Path) -> None:
    env = sandbox_env(tmp_path)
    run = patcher("apply", str(venv.site), env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    locks = private_dir(tmp_path) / "locks"
    assert one_line_each(run.stderr) == [
        "pkgres-patcher: note: cannot use /nonexistent/.cache/pkgres-patcher/locks "
        f"(home directory /nonexistent does not exist); locks in {locks}"
    ]
    assert not os.path.lexists("/nonexistent")
    assert stat.S_IMODE(os.lstat(private_dir(tmp_path)).st_mode) == 0o700
    taken = sorted(locks.glob("*.lock"))  # the copy's and its RECORD's
    assert len(taken) == 2
    run = patcher("locate", "--json", str(venv.site), env=env, cwd=tmp_path)
    assert (run.returncode, run.stderr) == (0, "")  # the state cache is optional: nothing to say
    assert states(run.stdout) == ["patched"]
    # the same place again: every run of this user on this machine shares the locks
    run = patcher("revert", str(venv.site), env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert one_line_each(run.stderr)[0].endswith(f"; locks in {locks}")
    assert sorted(locks.glob("*.lock")) == taken


def test_a_cache_home_below_a_file_falls_back(venv: Venv, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    home = tmp_path / "home"
    home.mkdir()
    env = sandbox_env(tmp_path, HOME=str(home), XDG_CACHE_HOME=str(blocker / "cache"))
    run = patcher("apply", str(venv.site), env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert one_line_each(run.stderr) == [
        f"pkgres-patcher: note: cannot use {blocker}/cache/pkgres-patcher/locks (Not a directory); "
        f"locks in {private_dir(tmp_path) / 'locks'}"
    ]
    run = patcher("locate", "--json", str(venv.site), env=env, cwd=tmp_path)
    assert (run.returncode, run.stderr) == (0, "")
    assert states(run.stdout) == ["patched"]


def test_lock_dir_option(venv: Venv, tmp_path: Path) -> None:
    env = sandbox_env(tmp_path)
    locks = tmp_path / "my-locks"
    run = patcher("apply", "--lock-dir", str(locks), str(venv.site), env=env, cwd=tmp_path)
    assert (run.returncode, run.stderr) == (0, "")
    assert len(list(locks.glob("*.lock"))) == 2
    assert not private_dir(tmp_path).exists()
    # the environment variable says the same
    run = patcher("revert", str(venv.site), env={**env, "PKGRES_PATCHER_LOCK_DIR": str(locks)}, cwd=tmp_path)
    assert (run.returncode, run.stderr) == (0, "")


def test_a_lock_dir_that_cannot_be_made_is_one_line_and_changes_nothing(venv: Venv, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    before = snapshot(venv.root)
    run = patcher(
        "apply", "--lock-dir", str(blocker / "locks"), str(venv.site), env=sandbox_env(tmp_path), cwd=tmp_path
    )
    assert run.returncode == 1
    assert one_line_each(run.stderr) == [
        f"pkgres-patcher: {blocker}/locks: cannot make the lock directory (Not a directory)"
    ]
    assert snapshot(venv.root) == before


@pytest.mark.parametrize("planted", ["symlink", "group-writable", "file"])
def test_a_name_planted_in_the_temporary_directory_is_refused(venv: Venv, tmp_path: Path, planted: str) -> None:
    env = sandbox_env(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    name = private_dir(tmp_path)
    if planted == "symlink":
        name.symlink_to(elsewhere)
    elif planted == "group-writable":
        name.mkdir()
        name.chmod(0o770)
    else:
        name.write_text("")
    before = snapshot(venv.root)
    run = patcher("apply", str(venv.site), env=env, cwd=tmp_path)
    assert run.returncode == 1
    [line] = one_line_each(run.stderr)
    assert line.startswith("pkgres-patcher: no directory for locks: ")
    assert f"{name}: " in line and "--lock-dir" in line
    assert snapshot(venv.root) == before
    assert list(elsewhere.iterdir()) == []


def test_locate_drift_and_refresh_without_a_home(tmp_path: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    shutil.copy(download("setuptools", "60.0.0"), links)
    patches = make_patchset(tmp_path / "patches")
    # a home that does not exist, but in the test's directory: a pip run makes things below a
    # home it is given (rustup, which pip asks for its version, makes ~/.rustup)
    home = tmp_path / "nonexistent"
    env = sandbox_env(tmp_path, HOME=str(home))
    offline = ("--no-index", "--find-links", str(links), "--patches", str(patches))
    run = patcher("locate", str(links), env=env, cwd=tmp_path)
    assert (run.returncode, run.stderr) == (0, "")
    releases = private_dir(tmp_path) / "cache" / "releases"
    run = patcher("drift", "--quiet", "setuptools==60.0.0", *offline, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert one_line_each(run.stderr) == [
        f"pkgres-patcher: note: cannot use {home}/.cache/pkgres-patcher/releases "
        f"(home directory {home} does not exist); releases in {releases}"
    ]
    assert [p.name for p in (releases / "setuptools").iterdir()] == ["setuptools-60.0.0-py3-none-any.whl"]
    run = patcher("refresh", "zip-manifest-load", "--for", "setuptools==60.0.0", *offline, env=env, cwd=tmp_path)
    assert run.returncode == 1
    assert one_line_each(run.stderr)[-1] == (
        "pkgres-patcher: zip-manifest-load: zip-manifest-load/modern already fits setuptools 60.0.0 cleanly; "
        "nothing to refresh"
    )


@pytest.mark.parametrize("command", ["drift", "refresh"])
def test_a_cache_dir_below_a_file_falls_back(command: str, tmp_path: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    shutil.copy(download("setuptools", "60.0.0"), links)
    patches = make_patchset(tmp_path / "patches")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    argv = ["--quiet"] if command == "drift" else ["zip-manifest-load", "--for"]
    argv += ["setuptools==60.0.0", "--no-index", "--find-links", str(links), "--patches", str(patches)]
    argv += ["--cache-dir", str(blocker / "cache")]
    run = patcher(command, *argv, env=sandbox_env(tmp_path, HOME=str(tmp_path)), cwd=tmp_path)
    releases = private_dir(tmp_path) / "cache" / "releases"
    lines = one_line_each(run.stderr)
    assert lines[0] == (
        f"pkgres-patcher: note: cannot use {blocker}/cache/releases (Not a directory); releases in {releases}"
    )
    assert run.returncode == (0 if command == "drift" else 1)
    assert (releases / "setuptools" / "setuptools-60.0.0-py3-none-any.whl").is_file()


def test_cache_dir_option_of_locate(tmp_path: Path, venv: Venv) -> None:
    cache = tmp_path / "my-cache"
    init = venv.site / "pkg_resources" / "__init__.py"
    init.write_bytes(init.read_bytes() + b"# edited here: no known state answers for it\n")
    run = patcher("locate", "--cache-dir", str(cache), str(venv.site), env=sandbox_env(tmp_path), cwd=tmp_path)
    assert (run.returncode, run.stderr) == (0, "")
    assert len(list((cache / "states").glob("*.json"))) == 1


# --- an unprivileged user, for whom permissions do stop a write ---------------------------------


@pytest.fixture
def world() -> Iterator[Path]:
    """A directory every user can read (the tests' own temporary directories are private)."""
    path = Path(tempfile.mkdtemp(prefix="pkgres-patcher-world-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def nobody_python(lib: Path) -> str:
    """An interpreter the unprivileged user can run, with the tool and its dependencies in ``lib``."""
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("dropping privileges needs root and setpriv")
    import packaging
    import unidiff

    for module in (packaging, unidiff):
        shutil.copytree(Path(module.__file__).parent, lib / module.__name__)  # type: ignore[arg-type]
    shutil.copytree(ROOT / "patcher", lib / "patcher", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "patches", lib / "patcher" / "patches")
    for exe in dict.fromkeys([sys.executable, "/usr/bin/python3", shutil.which("python3") or ""]):
        if not exe:
            continue
        probe = subprocess.run(
            [*NOBODY, exe, "-c", "import sys, patcher.api; sys.exit(sys.version_info < (3, 9))"],
            capture_output=True,
            env={**os.environ, "PYTHONPATH": str(lib)},
            cwd="/",
        )
        if probe.returncode == 0:
            return exe
    pytest.skip("no Python >= 3.9 that the unprivileged user (65534) can run")


def test_an_unprivileged_user_whose_home_cannot_be_written(world: Path) -> None:
    python = nobody_python(world / "lib")
    tree = world / "tree"
    with zipfile.ZipFile(download("setuptools", "60.0.0")) as zf:
        zf.extractall(tree, [n for n in zf.namelist() if n.startswith("pkg_resources/")])
    home = world / "home"  # exists, owned by root: the user cannot make ~/.cache in it
    home.mkdir()
    tmp = world / "tmp"
    tmp.mkdir()
    tmp.chmod(0o1777)
    for path in [tree, *tree.rglob("*")]:
        os.chown(path, 65534, 65534)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "PKGRES_PATCHER_"))}
    env.update(HOME=str(home), TMPDIR=str(tmp), PYTHONPATH=str(world / "lib"))
    run = subprocess.run(
        [*NOBODY, python, "-m", "patcher", "apply", str(tree)], capture_output=True, text=True, env=env, cwd="/"
    )
    assert run.returncode == 0, run.stderr
    locks = tmp / "pkgres-patcher-65534" / "locks"
    assert one_line_each(run.stderr) == [
        f"pkgres-patcher: note: cannot use {home}/.cache/pkgres-patcher/locks (Permission denied); locks in {locks}"
    ]
    assert os.lstat(locks.parent).st_uid == 65534
    assert b"except OSError" in (tree / "pkg_resources" / "__init__.py").read_bytes()
