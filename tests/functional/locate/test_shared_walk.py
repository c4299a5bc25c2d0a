"""A walk shared between processes (``--jobs``): the same result as one process."""

import os
import shutil
from pathlib import Path

import pytest

from ...conftest import (
    Venv,
    VenvFactory,
    cli,
    download,
    make_egg,
)
from ...lib.locating import (
    PKG,
    console,
    deep_dir,
)


def _big_prefix(root: Path, venv_factory: VenvFactory) -> Path:
    """A prefix large enough for its walk to be shared, with every kind of copy and trouble."""
    env = venv_factory()
    env.install(download("setuptools", "81.0.0"), download("pip", "26.3"))
    prefix = root / "prefix"
    prefix.mkdir()
    shutil.move(str(env.root), prefix / "venv")
    site = prefix / "venv" / Path(env.site).relative_to(env.root)
    make_egg(download("setuptools", "24.0.2"), site)
    make_egg(download("pip", "8.1.2"), site, zipped=False)
    bundled = prefix / "lib" / "ensurepip" / "_bundled"
    bundled.mkdir(parents=True)
    shutil.copy(download("pip", "26.3"), bundled)
    for n in range(300):  # many directories: shares of the walk are many and small
        pkg = prefix / "synthetic" / f"group{n // 30}" / f"pkg{n:03d}"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
    (prefix / "synthetic" / "group9" / "pkg299" / "to-site").symlink_to(site)  # a real dir of another share
    (prefix / "synthetic" / "group0" / "loop").symlink_to(prefix)
    (prefix / "synthetic" / "group5" / "pkg150" / "truncated.egg").write_bytes(b"PK\x03\x04 not a zip")
    deep_dir(prefix / "synthetic" / "group3")
    return prefix


def test_a_shared_walk_finds_what_one_process_finds(tmp_path: Path, venv_factory: VenvFactory, patches: Path) -> None:
    from patcher.scan.walk import scan

    prefix = _big_prefix(tmp_path, venv_factory)

    alone, shared = scan([str(prefix)], jobs=1), scan([str(prefix)], jobs=2)

    assert (alone.processes, shared.processes) == (1, 2)
    assert shared.copies == alone.copies
    assert [(type(e), str(e)) for e in shared.errors] == [(type(e), str(e)) for e in alone.errors]
    assert dict(shared.texts) == dict(alone.texts)
    # what both found is right: each kind once, through real paths, and both troubles named
    assert sorted({c.container for c in alone.copies}) == ["directory", "egg-dir", "egg-zip", "wheel"]
    assert not [c for c in alone.copies if "to-site" in c.file or "/loop/" in c.file]
    assert len(alone.copies) == 5
    assert sorted(type(e).__name__ for e in alone.errors) == ["ArchiveError", "ScanError"]

    four = [cli("locate", "--json", "--patches", str(patches), "--jobs", str(j), str(prefix)) for j in (1, 4)]
    assert four[0] == four[1]
    assert four[0].code == 1 and len(four[0].json["copies"]) == 5


def test_small_trees_are_walked_by_one_process(venv: Venv) -> None:
    from patcher.scan.walk import scan

    venv.install(download("setuptools", "81.0.0"))
    result = scan([str(venv.site)], jobs=4)
    assert result.processes == 1
    assert [c.file for c in result.copies] == [str(venv.site / PKG)]


def test_a_share_whose_process_fails_is_walked_by_the_parent(
    tmp_path: Path, venv_factory: VenvFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patcher.scan import walk
    from patcher.scan.walk import scan

    prefix = _big_prefix(tmp_path, venv_factory)
    alone = scan([str(prefix)], jobs=1)

    def fail(self: object, *args: object) -> bytes:
        raise RuntimeError("the child dies")

    monkeypatch.setattr(walk.Walker, "_in_child", fail)  # runs in forked children only
    result = scan([str(prefix)], jobs=2)
    assert result.processes == 1
    assert (result.copies, [str(e) for e in result.errors]) == (alone.copies, [str(e) for e in alone.errors])


def test_no_fork_beside_other_threads(tmp_path: Path, venv_factory: VenvFactory) -> None:
    import threading

    from patcher.scan.walk import scan

    prefix = _big_prefix(tmp_path, venv_factory)
    release = threading.Event()
    waiting = threading.Thread(target=release.wait)
    waiting.start()
    try:
        result = scan([str(prefix)], jobs=2)
    finally:
        release.set()
        waiting.join()
    assert result.processes == 1
    assert len(result.copies) == 5


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_jobs_must_be_a_positive_number(value: str) -> None:
    proc = console("locate", "--jobs", value)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1].startswith("pkgres-patcher locate: argument --jobs: ")


def test_archives_are_shared_by_size(tmp_path: Path) -> None:
    from patcher.scan.sharing import split_by_size

    sizes = [9000, 7000, 5000, 4000, 3000, 3000, 1000, 500]
    paths = []
    for n, size in enumerate(sizes):
        path = tmp_path / f"a{n}.egg"
        path.write_bytes(b"x" * size)
        paths.append(str(path))
    paths.append(str(tmp_path / "vanished.egg"))

    shares = split_by_size(paths, 2)

    assert sorted(p for share in shares for p in share) == sorted(paths)
    loads = [sum(os.path.getsize(p) for p in share if os.path.exists(p)) for share in shares]
    assert abs(loads[0] - loads[1]) <= 1000  # 16,250 each would be even
    assert split_by_size(paths[:1], 4) == [paths[:1]]
    assert split_by_size([], 2) == []


def test_many_eggs_in_a_small_tree_are_read_by_several_processes(tmp_path: Path) -> None:
    from patcher.scan.walk import scan

    site = tmp_path / "site-packages"
    site.mkdir()
    releases = [("setuptools", v) for v in ("24.0.2", "44.1.1", "60.0.0", "61.0.0", "81.0.0")] + [("pip", "8.1.2")]
    eggs = [make_egg(download(name, version), site) for name, version in releases]
    (site / "broken-1.0-py2.7.egg").write_bytes(eggs[0].read_bytes()[:5000])  # truncated

    alone, shared = scan([str(site)], jobs=1), scan([str(site)], jobs=2)

    assert (alone.processes, shared.processes) == (1, 2)
    assert shared.copies == alone.copies
    assert [(type(e), str(e)) for e in shared.errors] == [(type(e), str(e)) for e in alone.errors]
    assert sorted({c.file for c in alone.copies}) == sorted(str(e) for e in eggs)
    assert [type(e).__name__ for e in alone.errors] == ["ArchiveError"]
