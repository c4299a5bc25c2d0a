"""What a scan covers (issue #9): a ``sys.path`` entry is looked into where the import system
looks, a walk of a PATH stays out of the kernel's and the devices' filesystems (and, when asked,
on one device, out of excluded paths), an interpreter's ensurepip wheels are its artefacts, and a
wheel named on the command line is patched.

Everything here is real: copies taken from real upstream wheels, real processes (``python -m
patcher`` with its working directory on ``sys.path``), real mounts in a private mount namespace
(``unshare``), a real process in a ``chroot`` seen through ``/proc``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import patcher
from patcher.errors import UsageError
from patcher.model import Container, Outcome

from ..conftest import VenvFactory, cli, download, make_egg, pyenv_python, snapshot

PKG = "pkg_resources/__init__.py"
PIP_VENDORED = "pip/_vendor/pkg_resources/__init__.py"


def pkg_resources_text() -> bytes:
    with zipfile.ZipFile(download("setuptools", "44.1.1")) as zf:
        return zf.read(PKG)


def put_copy(directory: Path, *packages: str) -> Path:
    """``directory/<packages...>/pkg_resources/__init__.py``, each of ``packages`` a regular
    package (an ``__init__.py``): a vendored copy when the last one is ``_vendor``."""
    here = directory
    for name in packages:
        here = here / name
        here.mkdir(parents=True, exist_ok=True)
        (here / "__init__.py").touch()
    (here / "pkg_resources").mkdir(parents=True, exist_ok=True)
    copy = here / PKG
    copy.write_bytes(pkg_resources_text())
    return copy


def locate_process(*argv: str, cwd: Path | str) -> tuple[int, list[dict[str, Any]], str]:
    """``python -m patcher locate --json ...`` as a real process run in ``cwd`` (which ``-m``
    puts on its ``sys.path``)."""
    proc = subprocess.run(
        [sys.executable, "-m", "patcher", "locate", "--json", *argv],
        capture_output=True,
        text=True,
        cwd=str(cwd),
        check=False,
        timeout=600,
    )
    copies = json.loads(proc.stdout)["copies"] if proc.stdout else []
    return proc.returncode, copies, proc.stderr


def below(copies: list[dict[str, Any]], root: Path) -> set[tuple[str, str | None]]:
    return {(c["file"], c["member"]) for c in copies if c["file"].startswith(str(root) + os.sep)}


# --- a sys.path entry is not a tree to descend -----------------------------------------------------


def importable_tree(root: Path) -> tuple[set[tuple[str, str | None]], Path]:
    """A directory laid out as a ``sys.path`` entry: copies the import system (or pkg_resources'
    working set) reaches from it, and copies deep in plain directories that nothing imports.
    Returns what must be found and the other directory the entry's links lead to."""
    root.mkdir()
    elsewhere = root.parent / "elsewhere"
    found: set[tuple[str, str | None]] = {
        (str(put_copy(root)), None),  # import pkg_resources
        (str(put_copy(root, "tool", "_vendor")), None),  # tool._vendor.pkg_resources
        (str(put_copy(root, "deep", "inner", "_vendor")), None),  # deep.inner._vendor.pkg_resources
    }
    st24 = download("setuptools", "24.0.2")
    zipped = make_egg(st24, root, zipped=True)
    found.add((str(zipped), PKG))
    dir_egg = make_egg(download("pip", "8.1.2"), root, zipped=False)
    found.add((str(dir_egg / PIP_VENDORED), None))
    # a develop install (.egg-link) and a .pth file lead to directories elsewhere
    found.add((str(put_copy(elsewhere / "develop")), None))
    (root / "project.egg-link").write_text(f"{elsewhere / 'develop'}\n.\n")
    found.add((str(put_copy(elsewhere / "listed")), None))
    (root / "extra.pth").write_text(f"# a comment\nimport os\n{elsewhere / 'listed'}\n../elsewhere/missing\n")
    # not importable as pkg_resources from this entry: below plain directories, and wheels
    put_copy(root / "build" / "lib" / "a" / "b")
    put_copy(root / "src" / "copy")
    put_copy(root / "checkout" / "src", "pip", "_vendor")
    put_copy(root / "tool" / "data")  # in a package, but below a plain directory
    put_copy(elsewhere / "develop" / "docs" / "example")
    put_copy(elsewhere / "listed" / "tests" / "fixture")
    shutil.copy(download("pip", "26.3"), root / "build")
    shutil.copy(download("pip", "26.3"), root)
    return found, elsewhere


def test_no_path_scans_where_the_import_system_looks_not_the_whole_tree(tmp_path: Path) -> None:
    """``python -m patcher locate`` puts its working directory on ``sys.path``: that entry is
    looked into as the import system does, not walked to the bottom."""
    entry = tmp_path / "work"
    expected, elsewhere = importable_tree(entry)

    code, copies, err = locate_process(cwd=entry)

    assert code == 0, err
    assert below(copies, entry) | below(copies, elsewhere) == expected


def test_the_package_directory_itself_named_is_the_copy(tmp_path: Path) -> None:
    """``apply $SP_DIR/pkg_resources`` (a conda or Spack recipe naming the package) patches it,
    as naming its ``__init__.py`` does; so does naming pip's vendored package."""
    site = tmp_path / "site"
    for project, version in (("setuptools", "81.0.0"), ("pip", "26.3")):
        with zipfile.ZipFile(download(project, version)) as zf:
            zf.extractall(site)
    for package in (site / "pkg_resources", site / "pip" / "_vendor" / "pkg_resources"):
        run = cli("locate", str(package), "--json")
        assert run.code == 0, run.err
        assert [c["file"] for c in run.json["copies"]] == [str(package / "__init__.py")]
    assert cli("apply", f"{site / 'pkg_resources'}/").code == 0
    assert cli("locate", "--check", str(site / "pkg_resources")).code == 0


def test_python_option_looks_where_that_interpreter_imports_from(tmp_path: Path, venv_factory: VenvFactory) -> None:
    venv = venv_factory()
    entry = tmp_path / "on-path"
    expected, elsewhere = importable_tree(entry)
    (venv.site / "entry.pth").write_text(f"{entry}\n")
    assert str(entry) in venv.run("import sys; print(sys.path)").stdout

    code, copies, err = locate_process("--python", venv.python, cwd=tmp_path)

    assert code == 0, err
    assert below(copies, entry) | below(copies, elsewhere) == expected

    # --exclude holds for the entries of sys.path too
    code, copies, err = locate_process("--python", venv.python, "--exclude", "tool", "--exclude", "*.egg", cwd=tmp_path)
    assert code == 0, err
    assert below(copies, entry) | below(copies, elsewhere) == {
        (f, m) for f, m in expected if "/tool/" not in f and ".egg" not in f
    }


# --- empty arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["locate", "apply", "revert"])
@pytest.mark.parametrize("option", [None, "--python", "--exclude"])
def test_an_empty_argument_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, option: str | None
) -> None:
    """``apply "$UNSET"`` must not mean "the current directory"."""
    put_copy(tmp_path)
    before = snapshot(tmp_path)
    monkeypatch.chdir(tmp_path)
    argv = [command, ""] if option is None else [command, str(tmp_path), option, ""]

    code, out, err = cli(*argv)

    assert (code, out) == (2, "")
    name = "PATH" if option is None else option
    assert err.splitlines()[-1] == f"pkgres-patcher {command}: argument {name}: empty argument '' (an unset variable?)"
    assert err.startswith(f"usage: pkgres-patcher {command} ")  # the command's usage, wrapped, then the line
    assert all(line.startswith(" ") for line in err.splitlines()[1:-1])
    assert snapshot(tmp_path) == before


def test_an_empty_path_is_refused_by_the_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    put_copy(tmp_path)
    monkeypatch.chdir(tmp_path)
    for call in (patcher.locate, patcher.inspect, patcher.apply, patcher.revert):
        with pytest.raises(UsageError, match="empty"):
            call([""])


# --- walks stay out of /proc, /sys and /dev ---------------------------------------------------------


@pytest.fixture
def shm_dir() -> Iterator[Path]:
    """A directory in /dev/shm (a tmpfs mounted below /dev), removed afterwards."""
    if not os.path.isdir("/dev/shm") or not os.access("/dev/shm", os.W_OK):
        pytest.skip("no writable /dev/shm on this machine")
    path = Path("/dev/shm") / f"pkgres-scope-{uuid.uuid4().hex}"
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path)


def test_a_walk_does_not_enter_dev_reached_through_a_link(tmp_path: Path, shm_dir: Path) -> None:
    if os.stat("/dev/shm").st_dev == os.stat("/dev").st_dev:
        pytest.skip("/dev/shm is not a file system of its own here")
    in_shm = put_copy(shm_dir)
    tree = tmp_path / "tree"
    own = put_copy(tree)
    (tree / "dev").symlink_to("/dev")
    (tree / "shm").symlink_to(shm_dir)  # a tmpfs reached by a link is an ordinary directory

    code, out, err = cli("locate", "--json", str(tree))

    assert (code, err) == (0, "")
    # the copy in the tmpfs is reported where it lives, with the link it was reached through
    found = {c["file"]: c["via"] for c in json.loads(out)["copies"]}
    assert found == {str(own): None, str(in_shm): str(tree / "shm" / PKG)}
    assert in_shm.exists()


@contextlib.contextmanager
def jailed_process(jail: Path) -> Iterator[int]:
    """A process whose root directory (``chroot``) and working directory are ``jail``: what
    ``/proc/<pid>/root`` and ``/proc/<pid>/cwd`` lead to."""
    code = (
        "import os, sys, time\n"
        f"os.chroot({str(jail)!r}); os.chdir('/')\n"
        "sys.stdout.write('ready\\n'); sys.stdout.flush(); time.sleep(300)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line != "ready\n":
            proc.wait()
            assert proc.stderr is not None
            pytest.skip(f"cannot chroot here: {proc.stderr.read().strip()[-200:]}")
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_a_walk_does_not_enter_proc(tmp_path: Path) -> None:
    """/proc reached through a link, named through ``..``: never walked (``/proc/<pid>/root``
    alone would lead a walk through the whole machine)."""
    if os.geteuid() != 0 or not os.path.isdir("/proc/self"):
        pytest.skip("needs root (chroot) and a mounted /proc")
    jail = tmp_path / "jail"
    put_copy(jail)
    tree = tmp_path / "tree"
    own = put_copy(tree)
    with jailed_process(jail) as pid:
        assert os.path.isfile(f"/proc/{pid}/root/{PKG}")
        (tree / "process").symlink_to(f"/proc/{pid}")

        code, out, err = cli("locate", "--json", str(tree))

        assert (code, err) == (0, "")
        assert [c["file"] for c in json.loads(out)["copies"]] == [str(own)]

        dotdot = f"{tmp_path}/{'../' * len(tmp_path.parts)}proc/{pid}"
        code, out, err = cli("locate", "--json", dotdot)
        assert code == 1
        assert json.loads(out)["copies"] == []
        assert err == f"pkgres-patcher: /proc/{pid}: not walked (a kernel or device file system)\n"


def unshare() -> list[str]:
    """A command prefix for a private mount namespace, or a skip with the reason."""
    tool = shutil.which("unshare")
    if tool is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare(1) for a private mount namespace")
    command = [tool, "--mount", "--propagation", "private", "--"]
    probe = subprocess.run([*command, "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a private mount namespace here: {probe.stderr.strip()}")
    return command


def in_namespace(script: str) -> subprocess.CompletedProcess[str]:
    """``script`` (sh) run in a private mount namespace: its mounts vanish with it."""
    return subprocess.run([*unshare(), "sh", "-ec", script], capture_output=True, text=True, check=False, timeout=600)


def test_bind_mounts_of_dev_and_proc_are_not_entered(tmp_path: Path, shm_dir: Path) -> None:
    in_shm = put_copy(shm_dir)
    jail = tmp_path / "jail"
    put_copy(jail)
    tree = tmp_path / "tree"
    own = put_copy(tree)
    (tree / "dev").mkdir()
    (tree / "process").mkdir()
    with jailed_process(jail) as pid:
        proc = in_namespace(
            f"mount --rbind /dev {tree}/dev\n"
            f"mount --bind /proc/{pid} {tree}/process\n"
            f"test -f {tree}/dev/shm/{shm_dir.name}/{PKG}\n"
            f"test -f {tree}/process/root/{PKG}\n"
            f"exec {sys.executable} -m patcher locate --json {tree}\n"
        )
    assert (proc.returncode, proc.stderr) == (0, "")
    assert [c["file"] for c in json.loads(proc.stdout)["copies"]] == [str(own)]
    assert in_shm.exists()


def test_kernel_file_systems_mounted_anywhere_are_known(tmp_path: Path) -> None:
    """A chroot's own /proc and /sys (fresh mounts, devices of their own) are never walked."""
    (tmp_path / "proc").mkdir()
    (tmp_path / "sys").mkdir()
    proc = in_namespace(
        f"mount -t proc proc {tmp_path}/proc\n"
        f"mount -t sysfs sysfs {tmp_path}/sys\n"
        f"exec {sys.executable} -c '"
        "import os, sys; from patcher.scan.bounds import system_devices; d = system_devices(); "
        "print([os.stat(p).st_dev in d for p in sys.argv[1:]])' "
        f"{tmp_path}/proc {tmp_path}/sys /proc /sys /dev /dev/pts {tmp_path} /\n"
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout == "[True, True, True, True, True, True, False, False]\n"


def test_one_file_system(tmp_path: Path, shm_dir: Path) -> None:
    tree = tmp_path / "tree"
    own = put_copy(tree)
    in_shm = put_copy(shm_dir)
    (tree / "shm").symlink_to(shm_dir)

    code, out, err = cli("locate", "--json", str(tree))
    assert (code, err) == (0, "")
    # the copy in the tmpfs is reported where it lives, with the link it was reached through
    reached = {c["file"]: c["via"] for c in json.loads(out)["copies"]}
    assert reached == {str(own): None, str(in_shm): str(tree / "shm" / PKG)}

    code, out, err = cli("locate", "--json", "--one-file-system", str(tree))
    assert (code, err) == (0, "")
    assert [c["file"] for c in json.loads(out)["copies"]] == [str(own)]

    found = patcher.locate([str(tree)], one_file_system=True)
    assert [c.file for c in found.copies] == [str(own)]


def test_one_file_system_at_a_mount_point(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    own = put_copy(tree)
    (tree / "mnt").mkdir()
    text = tmp_path / "text.py"
    text.write_bytes(pkg_resources_text())
    script = (
        f"mount -t tmpfs tmpfs {tree}/mnt\n"
        f"mkdir {tree}/mnt/pkg_resources && cp {text} {tree}/mnt/{PKG}\n"
        f"{sys.executable} -m patcher locate --json {tree}\n"
        f"exec {sys.executable} -m patcher locate --json --one-file-system {tree}\n"
    )

    proc = in_namespace(script)

    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    first, second = proc.stdout.split("\n}\n", 1)
    assert [c["file"] for c in json.loads(first + "}")["copies"]] == [str(tree / "mnt" / PKG), str(own)]
    assert [c["file"] for c in json.loads(second)["copies"]] == [str(own)]


def test_exclude(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    kept = put_copy(tree / "prefix" / "site")
    by_name = put_copy(tree / "prefix" / "build" / "lib")
    by_path = put_copy(tree / "prefix" / "stage" / "x", "pip", "_vendor")
    wheel = tree / "prefix" / download("pip", "26.3").name
    shutil.copy(download("pip", "26.3"), wheel)
    globs = ["--exclude", "build", "--exclude", "*/stage/*", "--exclude", "*.whl"]
    before = snapshot(tree)

    code, out, err = cli("locate", "--json", *globs, str(tree))
    assert (code, err) == (0, "")
    assert [c["file"] for c in json.loads(out)["copies"]] == [str(kept)]

    assert [c.file for c in patcher.locate([str(tree)], exclude=["build", "*/stage/*", "*.whl"]).copies] == [str(kept)]
    # a named path that matches is not looked into either (like find's -prune)
    assert cli("locate", "--json", "--exclude", "*.whl", str(wheel)).json["copies"] == []

    code, out, err = cli("apply", "--wheels", *globs, str(tree))
    assert (code, err) == (0, "")
    after = snapshot(tree)
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {str(kept.relative_to(tree))}
    assert by_name.read_bytes() == by_path.read_bytes() == pkg_resources_text()

    assert cli("revert", *globs, str(tree)).code == 0
    assert snapshot(tree) == before


# --- tools' own copies of a tree: quilt's backups, version control ---------------------------------


def test_quilts_backups_are_not_copies(tmp_path: Path) -> None:
    """After ``quilt push -a`` on a real sdist, ``.pc/<patch>/pkg_resources/__init__.py`` holds
    quilt's pristine backup for each patch: not copies (``apply`` patching them would make
    ``quilt pop`` restore patched files)."""
    if shutil.which("quilt") is None:
        pytest.skip("quilt is not installed (apt-get install quilt)")
    from .test_export import export, unpack
    from .test_sdist import real_sdist

    sdist = real_sdist("setuptools", "81.0.0")
    output = export(tmp_path, "setuptools==81.0.0", "quilt")
    tree = unpack(sdist, tmp_path / "tree")
    pristine = (tree / PKG).read_bytes()
    env = {**os.environ, "QUILT_PATCHES": str(output), "QUILTRC": os.devnull}
    proc = subprocess.run(["quilt", "push", "-a"], cwd=tree, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    backups = sorted((tree / ".pc").glob(f"*/{PKG}"))
    assert len(backups) == 7 and backups[0].read_bytes() == pristine
    before = snapshot(tree / ".pc")
    cache = ["--cache-dir", str(tmp_path / "cache")]

    run = cli("locate", "--json", *cache, str(tree))
    assert (run.code, run.err) == (0, "")
    assert [(c["file"], c["state"]) for c in run.json["copies"]] == [(str(tree / PKG), "patched")]
    run = cli("locate", "--check", *cache, str(tree))
    assert (run.code, run.err, run.out.splitlines()[-1]) == (0, "", "1 copy of pkg_resources: 1 patched")
    run = cli("apply", *cache, str(tree))
    assert (run.code, run.err, run.out) == (0, "", "already-patched    " + str(tree / PKG) + "\n1 already patched\n")
    assert snapshot(tree / ".pc") == before

    # named as a PATH, quilt's directory is walked: the user asked for it
    assert len(cli("locate", "--json", *cache, str(tree / ".pc")).json["copies"]) == 7

    proc = subprocess.run(["quilt", "pop", "-a"], cwd=tree, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tree / PKG).read_bytes() == pristine


def test_a_git_checkout_is_walked_without_its_git_directory(tmp_path: Path) -> None:
    """A real ``git init`` tree with a copy committed: the walk finds the copy and lists no
    directory of ``.git`` (objects, refs, hooks: thousands in a real clone, never a copy)."""
    from patcher.scan.walk import Walker

    tree = tmp_path / "checkout"
    copy = put_copy(tree / "src", "tool", "_vendor")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "init.defaultBranch=main"]
    for argv in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "vendored pkg_resources"]):
        subprocess.run([*git, *argv], cwd=tree, check=True)
    assert (tree / ".git" / "objects").is_dir()
    walker = Walker()
    walker.scan(str(tree))
    assert [c.file for c in walker.result().copies] == [str(copy)]
    visited = {d for d in map(str, [tree, *tree.rglob("*")]) if os.path.isdir(d)}
    listed = {d for d in visited if (os.stat(d).st_dev, os.stat(d).st_ino) in walker.visited}
    # every directory but .git's, and the copy's own package (nothing below a copy is one)
    assert listed == {d for d in visited if ".git" not in Path(d).parts and d != str(copy.parent)}
    assert str(tree / ".git" / "objects") not in listed


@pytest.mark.parametrize("store", [".git", ".hg", ".svn", ".bzr", "_darcs", ".pc"])
def test_version_control_and_quilt_directories_are_not_walked(tmp_path: Path, store: str) -> None:
    """A copy kept in a tool's store (darcs 1 kept the whole tree in ``_darcs/pristine``) is the
    tool's, not installed: neither listed nor changed; one in the tree beside it is."""
    tree = tmp_path / "tree"
    kept = put_copy(tree / "site")
    stored = put_copy(tree / store / "pristine")
    before = stored.read_bytes()

    code, out, err = cli("locate", "--json", str(tree))
    assert (code, err) == (0, "")
    assert [c["file"] for c in json.loads(out)["copies"]] == [str(kept)]
    assert cli("apply", str(tree)).code == 0
    assert kept.read_bytes() != before and stored.read_bytes() == before


# --- ensurepip's wheels: an interpreter's artefacts ---------------------------------------------------


def bundled_copies(stdlib: Path) -> set[tuple[str, str]]:
    """The copies in an interpreter's ensurepip wheels, read with zipfile alone."""
    found = set()
    for wheel in sorted((stdlib / "ensurepip" / "_bundled").glob("*.whl")):
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                if name in (PKG, PIP_VENDORED):
                    found.add((str(wheel), name))
    return found


def test_the_running_interpreters_ensurepip_wheels(tmp_path: Path) -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    expected = bundled_copies(stdlib)
    if not expected:
        pytest.skip(f"this interpreter bundles no wheel with a copy in {stdlib}/ensurepip/_bundled")

    code, copies, err = locate_process(cwd=tmp_path)

    assert code == 0, err
    bundled = {(c["file"], c["member"]) for c in copies if c["bundled_by"] == sys.executable}
    assert bundled == expected
    # besides ensurepip's: a seeding tool's on this sys.path (the tests' virtualenv)
    assert {c["bundled_by"] for c in copies if c["bundled_by"] is not None} <= {sys.executable, "virtualenv"}
    assert all(c["container"] == "wheel" for c in copies if c["bundled_by"] is not None)
    # nothing else below the standard library is a wheel: the wheels are not found by a walk
    assert not [c for c in copies if c["bundled_by"] is None and c["container"] == "wheel"]

    table = cli("locate").out.splitlines()
    for file, member in expected:
        assert [line for line in table if line.endswith(f"{file}!{member}") and " (ensurepip) " in line], table

    # apply leaves them alone unless asked (dry runs: the interpreter is not ours to change)
    report = patcher.apply(dry_run=True)
    assert {(c.file, c.member) for c in report.left_alone} >= expected
    assert all(c.bundled_by == sys.executable for c in report.left_alone if (c.file, c.member) in expected)
    assert not [r for r in report.results if r.copy.container is Container.WHEEL]
    report = patcher.apply(dry_run=True, wheels=True)
    assert {(r.copy.file, r.copy.member) for r in report.results} >= expected
    # but for a seeding tool's that checks their digests (the tests' virtualenv): see test_in_the_wild
    assert {c.bundled_by for c in report.left_alone} <= {"virtualenv"}


def test_python27s_ensurepip_wheels(venv_factory: VenvFactory) -> None:
    python27 = pyenv_python("2.7")
    if python27 is None:
        pytest.skip("pyenv has no Python 2.7.x")
    stdlib = Path(
        subprocess.run(
            [python27, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    expected = bundled_copies(stdlib)
    assert expected, f"Python 2.7 bundles pip and setuptools in {stdlib}/ensurepip/_bundled"

    code, out, err = cli("locate", "--json", "--python", python27)

    assert code == 0, err
    copies = json.loads(out)["copies"]
    assert {(c["file"], c["member"]) for c in copies if c["bundled_by"] == python27} == expected
    assert not [c for c in copies if c["bundled_by"] is None and c["container"] == "wheel"]


# --- wheels named on the command line -------------------------------------------------------------------


def test_a_named_wheel_is_patched_and_reverted(tmp_path: Path) -> None:
    original = download("pip", "26.3")
    wheel = tmp_path / original.name
    shutil.copy(original, wheel)

    code, out, err = cli("apply", str(wheel))

    assert (code, err) == (0, "")
    assert out.startswith("patched ")
    with zipfile.ZipFile(wheel) as zf, zipfile.ZipFile(original) as orig:
        assert zf.read(PIP_VENDORED) != orig.read(PIP_VENDORED)
        assert b"except OSError" in zf.read(PIP_VENDORED)
    report = patcher.apply([str(wheel)])
    assert [r.outcome for r in report.results] == [Outcome.ALREADY_PATCHED]
    assert report.left_alone == ()

    code, out, err = cli("revert", str(wheel))

    assert (code, err) == (0, "")
    with zipfile.ZipFile(wheel) as zf, zipfile.ZipFile(original) as orig:
        for info in orig.infolist():
            assert zf.read(info.filename) == orig.read(info), info.filename


def test_wheels_met_in_a_tree_are_left_alone_and_listed(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    own = put_copy(tree / "site")
    wheel = tree / "dist" / download("pip", "26.3").name
    wheel.parent.mkdir()
    shutil.copy(download("pip", "26.3"), wheel)
    other = tree / "dist" / download("pip", "8.1.2").name
    shutil.copy(download("pip", "8.1.2"), other)
    pristine = other.read_bytes()

    report = patcher.apply([str(tree)])

    assert [(r.copy.file, r.outcome) for r in report.results] == [(str(own), Outcome.PATCHED)]
    assert [(c.file, c.member) for c in report.left_alone] == [(str(wheel), PIP_VENDORED), (str(other), PIP_VENDORED)]

    # named as well as met in the tree: the named one is patched, the other still left alone
    report = patcher.apply([str(tree), str(wheel)])
    assert [(r.copy.file, r.outcome) for r in report.results] == [
        (str(wheel), Outcome.PATCHED),
        (str(own), Outcome.ALREADY_PATCHED),
    ]
    assert [c.file for c in report.left_alone] == [str(other)]
    assert other.read_bytes() == pristine

    report = patcher.apply([str(tree)], wheels=True)
    assert {(r.copy.file, r.outcome) for r in report.results} == {
        (str(wheel), Outcome.ALREADY_PATCHED),
        (str(other), Outcome.PATCHED),
        (str(own), Outcome.ALREADY_PATCHED),
    }
    assert report.left_alone == ()
