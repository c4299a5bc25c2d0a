"""Patched artefacts a build stores and installs later: wheels and eggs written to ``--output
DIR``, an interpreter's ``ensurepip`` wheels, a ``DESTDIR`` staging tree moved to its prefix.

Each is installed, imported and uninstalled by the real tools: pip (``RECORD`` recomputed
file by file), ``venv`` (ensurepip), zipimport.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from ..conftest import Venv, cli, download, make_egg, venv_python
from ..lib.runs import writing_byte_code

PIP = "26.3"
SETUPTOOLS = "81.0.0"
VENDORED = "pip/_vendor/pkg_resources/__init__.py"


def pip(python: str, *args: str) -> None:
    """Real pip (the tests' own) on another interpreter's environment, offline, compiling byte-code."""
    argv = [sys.executable, "-m", "pip", "--python", python, "--disable-pip-version-check", "-q", *args]
    subprocess.run(argv, env=writing_byte_code(), check=True)


def files_below(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()}


def assert_record_true(site: Path, dist_info: str) -> None:
    """Every file a RECORD lists is there, with the hash and size it states (what a verifying
    installer recomputes), and every file of the distribution is listed."""
    [meta] = site.glob(dist_info)
    rows = list(csv.reader((meta / "RECORD").read_text().splitlines()))
    listed = set()
    for path, digest, size in rows:
        listed.add(path)
        target = site / path
        assert target.is_file(), path
        if digest:
            data = target.read_bytes()
            algorithm, _, value = digest.partition("=")
            expected = base64.urlsafe_b64encode(hashlib.new(algorithm, data).digest()).rstrip(b"=").decode()
            assert (value, int(size)) == (expected, len(data)), path
    top = {p.split("/")[0] for p in listed if not p.startswith("../")}
    present = {f for f in files_below(site) if f.split("/")[0] in top}
    assert present <= listed, sorted(present - listed)[:5]


def locate_states(*targets: Path) -> dict[str | None, str]:
    run = cli("locate", "--json", *map(str, targets))
    assert run.code == 0, run.err
    return {c["vendored_by"]: c["state"] for c in run.json["copies"]}


def test_output_writes_the_patched_wheel_that_pip_installs_and_uninstalls(tmp_path: Path) -> None:
    original = tmp_path / "in" / download("pip", PIP).name
    original.parent.mkdir()
    shutil.copy(download("pip", PIP), original)
    before = original.read_bytes()
    out = tmp_path / "out"

    run = cli("apply", "--json", "--output", str(out), str(original))
    assert run.code == 0, run.err
    patched = out / original.name
    assert [c["file"] for c in run.json["copies"]] == [str(patched)]
    assert original.read_bytes() == before  # the file named is untouched
    assert sorted(os.listdir(out)) == [original.name]  # nothing else left in DIR
    assert locate_states(patched) == {"pip": "patched"}

    env = Venv(tmp_path / "venv", venv_python())
    empty = files_below(env.site)
    pip(env.python, "install", "--no-deps", "--no-index", str(patched))
    assert b"vanished under us" in (env.site / VENDORED).read_bytes()
    assert_record_true(env.site, "pip-*.dist-info")
    pip(env.python, "uninstall", "-y", "pip")
    assert files_below(env.site) == empty  # nothing left behind

    again = cli("revert", "--output", str(tmp_path / "back"), str(patched))
    assert again.code == 0, again.err
    assert (tmp_path / "back" / original.name).read_bytes() == before


def test_output_writes_the_patched_egg(tmp_path: Path) -> None:
    egg = make_egg(download("setuptools", "44.1.1"), tmp_path, pyver=f"{sys.version_info[0]}.{sys.version_info[1]}")
    before = egg.read_bytes()
    out = tmp_path / "out"
    run = cli("apply", "--output", str(out), str(egg))
    assert run.code == 0, run.err
    assert egg.read_bytes() == before
    patched = out / egg.name
    assert locate_states(patched) == {None: "patched"}
    code = f"import sys; sys.path.insert(0, {str(patched)!r}); import pkg_resources; print(pkg_resources.__file__)"
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.startswith(str(patched))


def test_output_refuses_what_it_cannot_write_elsewhere(tmp_path: Path) -> None:
    wheel = tmp_path / download("pip", PIP).name
    shutil.copy(download("pip", PIP), wheel)
    for argv, why in (
        (["--output", str(tmp_path), str(wheel)], "--output is the directory it lies in: it would be written over"),
        (["--output", str(tmp_path / "out"), str(tmp_path)], "--output takes wheel and zipped egg files (.whl, .egg)"),
        (["--output", str(tmp_path / "out")], "name the wheels or eggs to write patched (PATH ...)"),
    ):
        run = cli("apply", *argv)
        assert run.code == 2, run
        assert run.err.splitlines()[-1].endswith(why)
    assert not (tmp_path / "out").exists()
    assert wheel.read_bytes() == download("pip", PIP).read_bytes()


def test_a_failed_output_is_not_written(tmp_path: Path) -> None:
    egg = make_egg(download("setuptools", "44.1.1"), tmp_path)
    egg.write_bytes(egg.read_bytes()[:-100])  # truncated
    out = tmp_path / "out"
    run = cli("apply", "--output", str(out), str(egg))
    assert run.code == 1
    assert run.err.startswith(f"pkgres-patcher: {egg}")
    assert os.listdir(out) == []


def copied_prefix(tmp_path: Path) -> Path:
    """A Python prefix of the running interpreter's own, whose ``ensurepip`` is a copy (its
    standard library otherwise linked): the real interpreter is never written to."""
    base = Path(sys.base_prefix)
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    if stdlib != base / "lib" / version or not (stdlib / "ensurepip" / "_bundled").is_dir():
        pytest.skip(f"{sys.executable}: not a prefix layout with ensurepip's bundled wheels")
    prefix = tmp_path / "prefix"
    lib = prefix / "lib" / version
    lib.mkdir(parents=True)
    for entry in stdlib.iterdir():
        if entry.name == "ensurepip":
            shutil.copytree(entry, lib / entry.name, ignore=shutil.ignore_patterns("__pycache__"))
        elif entry.name == "site-packages":
            (lib / entry.name).mkdir()  # empty: the real one is never scanned, let alone patched
        else:
            (lib / entry.name).symlink_to(entry)
    (prefix / "bin").mkdir()
    real = Path(os.path.realpath(base / "bin" / version))
    shutil.copy2(real, prefix / "bin" / version)  # a copy: it finds its prefix beside itself
    for name in os.listdir(base / "lib"):
        if name.startswith("libpython"):
            (prefix / "lib" / name).symlink_to(base / "lib" / name)
    return prefix / "bin" / version


def test_ensurepip_wheels_patched_give_every_new_venv_a_patched_pip(tmp_path: Path) -> None:
    python = copied_prefix(tmp_path)
    run = cli("apply", "--json", "--python", str(python), "--wheels")
    assert run.code == 0, run.err
    bundled = {c["bundled_by"] for c in run.json["copies"]}
    assert bundled == {str(python)}
    assert {c["outcome"] for c in run.json["copies"]} == {"patched"}

    venv = tmp_path / "venv"
    subprocess.run(
        [str(python), "-m", "venv", str(venv)], env=writing_byte_code(), check=True
    )  # ensurepip installs pip
    assert locate_states(venv)["pip"] == "patched"
    [site] = venv.glob("lib/python*/site-packages")
    assert_record_true(site, "pip-*.dist-info")


def test_destdir_staging_tree_moved_to_its_prefix(tmp_path: Path) -> None:
    """As a distribution's package build does: install into DESTDIR, patch there, move the tree
    to its final prefix; there it imports (its byte-code valid), its RECORD is true, and pip
    uninstalls it without leftovers."""
    final = Venv(tmp_path / "final", venv_python())
    empty = files_below(final.site)
    destdir = tmp_path / "destdir"
    wheel = str(download("setuptools", SETUPTOOLS))  # pip's own copy: see the --output test
    pip(final.python, "install", "--no-deps", "--no-index", "--root", str(destdir), wheel)
    staged_root = destdir / final.root.relative_to("/")
    run = cli("apply", str(destdir))
    assert run.code == 0, run.err
    assert run.err == ""

    # the package manager's move: every file with its times (dpkg, rpm keep them)
    shutil.copytree(staged_root, final.root, symlinks=True, dirs_exist_ok=True)
    shutil.rmtree(destdir)
    assert locate_states(final.root) == {None: "patched"}
    assert_record_true(final.site, "setuptools-*.dist-info")
    cache = final.site / "pkg_resources" / "__pycache__"
    compiled = {p.name: p.read_bytes() for p in cache.glob("__init__.*.pyc")}
    assert compiled
    proc = subprocess.run(
        [final.python, "-c", "import pkg_resources; pkg_resources.WorkingSet()"],
        env=writing_byte_code(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert {p.name: p.read_bytes() for p in cache.glob("__init__.*.pyc")} == compiled  # valid: not compiled again

    pip(final.python, "uninstall", "-y", "setuptools")
    assert files_below(final.site) == empty
