"""Copies reached through symlinks: Spack-style views, GNU stow trees, eggs and wheels linked in.

Each copy is patched where it really lives, once; the link stays a link; the RECORD that lists
the real file (and a view's own RECORD that lists the link) says what is read through it; and a
tree holding both a link and its target reports one copy, the real one.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ..conftest import cli, download, make_egg, pip_install, snapshot
from ..lib.records import record_row

PKG = "pkg_resources/__init__.py"
PIP_VENDORED = "pip/_vendor/pkg_resources/__init__.py"
SETUPTOOLS = "81.0.0"
PIP = "26.3"


def install_prefix(prefix: Path, *wheels: Path) -> Path:
    """Install wheels into ``prefix`` with real pip (``--prefix``, as Spack and stow packages
    are built); its site-packages."""
    # --ignore-installed: else pip would remove the running environment's own pip
    pip_install("install", "--ignore-installed", "--prefix", str(prefix), *map(str, wheels))
    [site] = prefix.glob("lib/python*/site-packages")
    return site


def symlink_view(view: Path, *prefixes: Path, copy_metadata: bool = False) -> None:
    """A Spack-style view: real directories, every file a symlink to the store's file.

    With ``copy_metadata`` the ``.dist-info`` directories are real copies (a view with a
    RECORD of its own that lists the links).
    """
    for prefix in prefixes:
        for dirpath, _dirs, files in os.walk(prefix):
            rel = os.path.relpath(dirpath, prefix)
            (view / rel).mkdir(parents=True, exist_ok=True)
            for name in files:
                target = os.path.join(dirpath, name)
                if copy_metadata and dirpath.endswith(".dist-info"):
                    shutil.copy2(target, view / rel / name)
                else:
                    os.symlink(target, view / rel / name)


def links(root: Path) -> dict[str, str]:
    """Every symlink below ``root`` and where it points."""
    found = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                found[os.path.relpath(path, root)] = os.readlink(path)
    return found


def true_row(path: Path) -> list[str]:
    """What a RECORD row must say of the bytes read at ``path`` (computed without the tool)."""
    data = path.read_bytes()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [f"sha256={digest}", str(len(data))]


def dist(name: str, version: str) -> dict[str, str]:
    return {"name": name, "version": version}


def rows(run_json: dict[str, Any]) -> list[tuple[str, str | None, str | None, Any, str]]:
    return [(c["file"], c["member"], c["via"], c["owner"], c["state"]) for c in run_json["copies"]]


class Store:
    """setuptools and pip installed into a Spack-like store, one prefix each."""

    def __init__(self, root: Path) -> None:
        self.st_prefix = root / "linux-x86_64" / f"py-setuptools-{SETUPTOOLS}-4uzvhx3"
        self.pip_prefix = root / "linux-x86_64" / f"py-pip-{PIP}-qhm7d2a"
        self.st_site = install_prefix(self.st_prefix, download("setuptools", SETUPTOOLS))
        self.pip_site = install_prefix(self.pip_prefix, download("pip", PIP))
        self.st_record = next(self.st_site.glob("setuptools-*.dist-info")) / "RECORD"
        self.pip_record = next(self.pip_site.glob("pip-*.dist-info")) / "RECORD"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store")


def test_spack_view_is_patched_in_the_store_and_the_links_stay(tmp_path: Path, store: Store) -> None:
    view = tmp_path / "view"
    symlink_view(view, store.st_prefix, store.pip_prefix)
    view_site = view / store.st_site.relative_to(store.st_prefix)
    before_links, before_store = links(view), snapshot(store.st_prefix.parent)

    run = cli("apply", str(view))
    assert run.code == 0, run.err

    assert links(view) == before_links  # every link still a link, to the same file
    for site, record, member in (
        (store.st_site, store.st_record, PKG),
        (store.pip_site, store.pip_record, PIP_VENDORED),
    ):
        assert b"vanished under us" in (site / member).read_bytes()  # the store's file is patched
        assert record_row(record, member)[1:] == true_row(site / member)  # and its RECORD says so
    located = cli("locate", "--json", str(view))
    assert located.code == 0, located.err
    assert rows(located.json) == [
        (str(store.pip_site / PIP_VENDORED), None, str(view_site / PIP_VENDORED), dist("pip", PIP), "patched"),
        (str(store.st_site / PKG), None, str(view_site / PKG), dist("setuptools", SETUPTOOLS), "patched"),
    ]
    table = cli("locate", str(view)).out
    assert f"{store.st_site / PKG} (via {view_site / PKG})" in table

    run = cli("revert", str(view))
    assert run.code == 0, run.err
    assert links(view) == before_links
    assert snapshot(store.st_prefix.parent) == before_store  # every byte back, RECORDs included


def test_a_tree_holding_links_and_their_targets_reports_each_copy_once(tmp_path: Path, store: Store) -> None:
    symlink_view(tmp_path / "view", store.st_prefix, store.pip_prefix)

    run = cli("locate", "--json", str(tmp_path))

    assert run.code == 0, run.err
    assert rows(run.json) == [  # the real ones, with their owners; not reached through a link
        (str(store.pip_site / PIP_VENDORED), None, None, dist("pip", PIP), "unpatched"),
        (str(store.st_site / PKG), None, None, dist("setuptools", SETUPTOOLS), "unpatched"),
    ]
    run = cli("apply", "--json", str(tmp_path))
    assert run.code == 0, run.err
    assert [c["outcome"] for c in run.json["copies"]] == ["patched", "patched"]


@pytest.mark.parametrize("scanned", ["view", "view-and-store"])
def test_a_view_with_records_of_its_own_keeps_them_true(tmp_path: Path, store: Store, scanned: str) -> None:
    """A view whose ``.dist-info`` is a copy: its RECORD lists the link, and what is read
    through the link is the patched file, so that RECORD gets the new hash too (also when the
    store, scanned as well, is where the copy is found)."""
    view = tmp_path / "view"
    symlink_view(view, store.st_prefix, copy_metadata=True)
    view_site = view / store.st_site.relative_to(store.st_prefix)
    view_record = next(view_site.glob("setuptools-*.dist-info")) / "RECORD"
    assert not view_record.is_symlink() and (view_site / PKG).is_symlink()
    originals = store.st_record.read_bytes(), view_record.read_bytes()
    target = str(view) if scanned == "view" else str(tmp_path)

    assert cli("apply", target).code == 0

    assert (view_site / PKG).is_symlink()
    assert record_row(store.st_record, PKG)[1:] == true_row(store.st_site / PKG)
    assert record_row(view_record, PKG)[1:] == true_row(view_site / PKG)
    assert cli("revert", target).code == 0
    assert (store.st_record.read_bytes(), view_record.read_bytes()) == originals


def _stow(stow_dir: Path, target: Path, *packages: str) -> str:
    """Link ``packages`` into ``target`` with GNU stow; by hand, the way stow folds trees,
    when stow is not installed (the returned word says which)."""
    target.mkdir()
    stow = shutil.which("stow")
    if stow is not None:
        subprocess.run([stow, "-d", str(stow_dir), "-t", str(target), *packages], check=True)
        return "stow"
    # stow's layout for two packages sharing lib/pythonX.Y/site-packages: real directories
    # down to the shared ones, relative links to each package's own entries
    for package in packages:
        for dirpath, dirs, files in os.walk(stow_dir / package):
            rel = Path(os.path.relpath(dirpath, stow_dir / package))
            for name in list(dirs) + files:
                shared = any((stow_dir / p / rel / name).exists() for p in packages if p != package)
                dest = target / rel / name
                if name in dirs and shared:
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                if name in dirs:
                    dirs.remove(name)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.symlink_to(os.path.relpath(Path(dirpath) / name, dest.parent))
    return "by hand"


def test_gnu_stow_tree_of_directory_links(tmp_path: Path) -> None:
    stow_dir = tmp_path / "stow"
    st_site = install_prefix(stow_dir / "setuptools", download("setuptools", SETUPTOOLS))
    pip_site = install_prefix(stow_dir / "pip", download("pip", PIP))
    target = tmp_path / "target"
    how = _stow(stow_dir, target, "setuptools", "pip")
    target_site = target / st_site.relative_to(stow_dir / "setuptools")
    assert (target_site / "pkg_resources").is_symlink(), how  # stow linked the package directory
    assert (target_site / "pip").is_symlink(), how
    before_links, before_stow = links(target), snapshot(stow_dir)

    located = cli("locate", "--json", str(target))
    assert located.code == 0, located.err
    assert rows(located.json) == [
        (str(pip_site / PIP_VENDORED), None, str(target_site / PIP_VENDORED), dist("pip", PIP), "unpatched"),
        (str(st_site / PKG), None, str(target_site / PKG), dist("setuptools", SETUPTOOLS), "unpatched"),
    ]
    run = cli("apply", str(target))
    assert run.code == 0, run.err
    assert links(target) == before_links
    st_record = next(st_site.glob("setuptools-*.dist-info")) / "RECORD"
    assert b"vanished under us" in (st_site / PKG).read_bytes()
    assert record_row(st_record, PKG)[1:] == true_row(st_site / PKG)
    both = cli("locate", "--json", str(tmp_path))
    assert [(f, via, state) for f, _m, via, _o, state in rows(both.json)] == [
        (str(pip_site / PIP_VENDORED), None, "patched"),
        (str(st_site / PKG), None, "patched"),
    ]

    assert cli("revert", str(target)).code == 0
    assert links(target) == before_links
    assert snapshot(stow_dir) == before_stow


def test_eggs_and_wheels_reached_through_links(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    egg = make_egg(download("setuptools", "44.1.1"), store, zipped=True)
    wheel = store / download("pip", PIP).name
    shutil.copy(download("pip", PIP), wheel)
    view = tmp_path / "view"
    view.mkdir()
    (view / egg.name).symlink_to(egg)
    (view / wheel.name).symlink_to(wheel)
    before = egg.read_bytes(), wheel.read_bytes()

    located = cli("locate", "--json", str(tmp_path))
    assert located.code == 0, located.err
    assert [(c["file"], c["member"], c["via"]) for c in located.json["copies"]] == [
        (str(wheel), PIP_VENDORED, None),
        (str(egg), PKG, None),
    ]
    run = cli("apply", "--wheels", "--json", str(view))
    assert run.code == 0, run.err
    assert [(c["file"], c["via"], c["outcome"]) for c in run.json["copies"]] == [
        (str(wheel), str(view / wheel.name), "patched"),
        (str(egg), str(view / egg.name), "patched"),
    ]
    assert os.readlink(view / egg.name) == str(egg) and os.readlink(view / wheel.name) == str(wheel)
    with zipfile.ZipFile(egg) as zf:
        assert b"vanished under us" in zf.read(PKG)
    with zipfile.ZipFile(wheel) as zf:
        assert b"vanished under us" in zf.read(PIP_VENDORED)

    run = cli("revert", "--wheels", str(view))
    assert run.code == 0, run.err
    assert os.readlink(view / egg.name) == str(egg) and os.readlink(view / wheel.name) == str(wheel)
    assert (egg.read_bytes(), wheel.read_bytes()) == before
