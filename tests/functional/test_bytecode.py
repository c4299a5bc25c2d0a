"""apply/revert write fresh byte-code where there was byte-code, of the same kind, and revert
gives the original byte-code back byte for byte.

Checked by the interpreters that read it: the code in each file is what that interpreter
compiles from the new source, an import does not find it stale (it would write it anew), and
zipimport loads a zipped egg's module from it (its ``__file__`` then names the ``.pyc``).
"""

from __future__ import annotations

import os
import shutil
import stat
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from ..conftest import cli, download, make_egg, pyenv_python, require_python
from ..lib.runs import writing_byte_code

SETUPTOOLS = "81.0.0"
PKG = "pkg_resources/__init__.py"
RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"

#: run by the interpreter a byte-code file is for: is its code what that interpreter compiles
#: from the source now?
SAME_CODE = r"""
import marshal, sys
pyc, src, opt = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(pyc, 'rb').read()
head = 8 if sys.version_info < (3, 3) else 12 if sys.version_info < (3, 7) else 16
source = open(src, 'rb').read()
if sys.version_info[0] == 2:
    code = compile(source.replace(b'\r\n', b'\n'), src, 'exec', 0, True)
else:
    code = compile(source, src, 'exec', dont_inherit=True, optimize=opt)
sys.stdout.write(str(marshal.loads(data[head:]) == code))
"""


def same_code(python: str, pyc: Path, source: Path, optimize: int) -> bool:
    flags = ["-O"] * optimize  # Python 2 compiles asserts away only under -O; Python 3 takes optimize=
    proc = subprocess.run(
        [python, *flags, "-c", SAME_CODE, str(pyc), str(source), str(optimize)],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout == "True"


def flags_of(pyc: bytes) -> int:
    return int(struct.unpack("<I", pyc[4:8])[0])


def site_with_byte_code(tmp_path: Path) -> tuple[Path, Path]:
    """setuptools unpacked into a directory, ``pkg_resources`` compiled by the running
    interpreter three ways: timestamp (opt 0), checked hash (opt 1), unchecked hash (opt 2)."""
    site = tmp_path / "site"
    with zipfile.ZipFile(download("setuptools", SETUPTOOLS)) as zf:
        zf.extractall(site)
    for level, mode in ((0, "timestamp"), (1, "checked-hash"), (2, "unchecked-hash")):
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", "-o", str(level), "--invalidation-mode", mode, str(site / PKG)],
            check=True,
        )
    return site, site / PKG


def pycs(source: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((source.parent / "__pycache__").glob("__init__.*.pyc"))}


def test_apply_compiles_every_kind_of_byte_code_anew_and_revert_gives_it_back(tmp_path: Path) -> None:
    site, source = site_with_byte_code(tmp_path)
    before, mtime_before = pycs(source), source.stat().st_mtime_ns
    tag = sys.implementation.cache_tag
    assert set(before) == {f"__init__.{tag}.pyc", f"__init__.{tag}.opt-1.pyc", f"__init__.{tag}.opt-2.pyc"}

    run = cli("apply", str(site))
    assert run.code == 0, run.err
    assert run.err == ""
    after = pycs(source)
    assert set(after) == set(before)  # none dropped
    st = source.stat()
    for name, data in after.items():
        optimize = 2 if ".opt-2." in name else 1 if ".opt-1." in name else 0
        assert data != before[name]
        assert data[:4] == before[name][:4]  # this interpreter's magic number
        assert flags_of(data) == flags_of(before[name]), name  # the same invalidation mode
        assert same_code(sys.executable, source.parent / "__pycache__" / name, source, optimize), name
    timestamp = after[f"__init__.{tag}.pyc"]
    assert struct.unpack("<II", timestamp[8:16]) == (int(st.st_mtime), st.st_size)  # names the new source
    import importlib.util

    checked = after[f"__init__.{tag}.opt-1.pyc"]
    assert checked[8:16] == importlib.util.source_hash(source.read_bytes())

    # the interpreter finds none of them stale: it would write them anew
    for flags in ([], ["-O"], ["-OO"]):
        code = f"import sys; sys.path.insert(0, {str(site)!r}); import pkg_resources"
        subprocess.run(
            [sys.executable, "-S", *flags, "-c", code], env=writing_byte_code(), check=True, capture_output=True
        )
    assert pycs(source) == after

    run = cli("revert", str(site))
    assert run.code == 0, run.err
    assert pycs(source) == before
    assert source.stat().st_mtime_ns == mtime_before  # the timestamp file is valid again


def test_revert_without_the_originals_compiles_anew(tmp_path: Path) -> None:
    """A revert on another machine (or after the cache went) still leaves valid byte-code."""
    site, source = site_with_byte_code(tmp_path)
    assert cli("apply", str(site)).code == 0
    shutil.rmtree(os.environ["PKGRES_PATCHER_CACHE_DIR"])
    assert cli("revert", str(site)).code == 0
    st = source.stat()
    tag = sys.implementation.cache_tag
    timestamp = (source.parent / "__pycache__" / f"__init__.{tag}.pyc").read_bytes()
    assert struct.unpack("<II", timestamp[8:16]) == (int(st.st_mtime), st.st_size)
    for name in pycs(source):
        optimize = 2 if ".opt-2." in name else 1 if ".opt-1." in name else 0
        assert same_code(sys.executable, source.parent / "__pycache__" / name, source, optimize), name


def test_read_only_source_leaves_byte_code_alone(tmp_path: Path) -> None:
    """All or nothing: a source that cannot be written keeps its byte-code as it was."""
    site, source = site_with_byte_code(tmp_path)
    before = pycs(source)
    source.chmod(0o444)
    run = cli("apply", str(site))
    assert run.code == 1
    assert run.err == f"pkgres-patcher: {source}: file is read-only: left unchanged\n"
    assert pycs(source) == before


def test_byte_code_of_an_interpreter_not_here_is_removed_with_a_warning(tmp_path: Path) -> None:
    site, source = site_with_byte_code(tmp_path)
    cache = source.parent / "__pycache__"
    foreign = cache / "__init__.pypy39.pyc"  # PyPy 3.9's, in a tree it shares
    shutil.copy(cache / f"__init__.{sys.implementation.cache_tag}.pyc", foreign)
    run = cli("apply", str(site))
    assert run.code == 0, run.err
    assert (
        run.err
        == f"pkgres-patcher: warning: {foreign}: no Python for byte-code pypy39 found (pass --python): removed\n"
    )
    assert not foreign.exists()
    assert len(pycs(source)) == 3


def test_one_compile_child_per_interpreter(tmp_path: Path) -> None:
    """Byte-code of every copy a run changes is compiled by one child of each interpreter."""
    site, source = site_with_byte_code(tmp_path)
    other = tmp_path / "other"
    shutil.copytree(site, other)
    log = tmp_path / "calls.log"
    wrapper = tmp_path / "python"
    # -S: its sys.path, which apply --python also patches, holds no copy
    wrapper.write_text(f'#!/bin/sh\necho "$*" | head -c 40 >> {log}; echo >> {log}\nexec {sys.executable} -S "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    run = cli("apply", "--python", str(wrapper), str(site), str(other))
    assert run.code == 0, run.err
    assert run.out.startswith("patched ") and run.out.count("\npatched ") == 1
    calls = [line for line in log.read_text().splitlines() if line.startswith("-S -E -B -c")]
    assert len(calls) == 2  # what it writes (the first), then every compile of both copies


@pytest.mark.parametrize("version", ["running", "2.7"])
def test_zipped_egg_keeps_byte_code_zipimport_loads(tmp_path: Path, version: str) -> None:
    """zipimport never writes byte-code: a zipped egg's ``.pyc`` members are compiled anew, and
    the module is loaded from them (``__file__`` names the ``.pyc``), not compiled at each start."""
    python = sys.executable if version == "running" else require_python(version)
    pyver = RUNNING if version == "running" else version
    tree = tmp_path / "tree"
    with zipfile.ZipFile(download("setuptools", "44.1.1")) as zf:
        zf.extractall(tree, [n for n in zf.namelist() if n.startswith("pkg_resources/")])
    legacy = [] if version == "2.7" else ["-b"]  # beside the source, as bdist_egg compiled it for zipimport
    subprocess.run([python, "-m", "compileall", "-q", *legacy, str(tree / "pkg_resources")], check=True)
    site = tmp_path / "site"
    site.mkdir()
    egg = site / f"setuptools-44.1.1-py{pyver}.egg"
    with zipfile.ZipFile(egg, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(tree).as_posix())
        zf.writestr("EGG-INFO/PKG-INFO", "Metadata-Version: 1.1\nName: setuptools\nVersion: 44.1.1\n")
    loaded = (
        f"import sys; sys.path.insert(0, {str(egg)!r}); import pkg_resources; sys.stdout.write(pkg_resources.__file__)"
    )

    def loaded_from() -> str:
        return subprocess.run([python, "-S", "-c", loaded], capture_output=True, text=True, check=True).stdout

    assert loaded_from().endswith("__init__.pyc")
    run = cli("apply", "--json", str(egg))
    assert run.code == 0, run.err
    assert run.json["copies"][0]["warnings"] == []
    with zipfile.ZipFile(egg) as zf:
        assert b"vanished under us" in zf.read(PKG)
        pyc = zf.read("pkg_resources/__init__.pyc")
        date_time = zf.getinfo(PKG).date_time
    assert struct.unpack("<I", pyc[4:8] if version == "2.7" else pyc[8:12])[0] == int(
        time.mktime((*date_time, 0, 0, -1))
    )
    assert loaded_from().endswith("__init__.pyc")  # the fresh byte-code is used
    source, compiled = tmp_path / "new.py", tmp_path / "new.pyc"
    with zipfile.ZipFile(egg) as zf:
        source.write_bytes(zf.read(PKG))
    compiled.write_bytes(pyc)
    assert same_code(python, compiled, source, 0)

    before = egg.read_bytes()
    assert cli("revert", str(egg)).code == 0
    assert egg.read_bytes() != before
    assert loaded_from().endswith("__init__.pyc")


def test_python2_directory_egg_legacy_byte_code(tmp_path: Path) -> None:
    """Python 2's ``.pyc`` and ``.pyo`` beside the source in a directory egg: compiled anew
    by Python 2.7 (``-O`` for ``.pyo``), and Python 2.7 takes them as they are."""
    python = require_python("2.7")
    site = tmp_path / "site"
    site.mkdir()
    egg = make_egg(download("setuptools", "24.0.2"), site, pyver="2.7", zipped=False)
    package = egg / "pkg_resources"
    for flags in ([], ["-O"]):
        subprocess.run([python, *flags, "-m", "compileall", "-q", str(package)], check=True)
    source, pyc, pyo = package / "__init__.py", package / "__init__.pyc", package / "__init__.pyo"
    originals = (pyc.read_bytes(), pyo.read_bytes(), source.stat().st_mtime_ns)

    run = cli("apply", str(site))
    assert run.code == 0, run.err
    assert run.err == ""
    for compiled, optimize in ((pyc, 0), (pyo, 1)):
        data = compiled.read_bytes()
        assert data[:4] == originals[0][:4]
        assert struct.unpack("<I", data[4:8])[0] == int(source.stat().st_mtime)
        assert same_code(python, compiled, source, optimize)
    fresh = (pyc.read_bytes(), pyo.read_bytes())
    for flags in ([], ["-O"]):
        code = f"import sys; sys.path.insert(0, {str(egg)!r}); import pkg_resources"
        subprocess.run([python, *flags, "-S", "-c", code], env=writing_byte_code(), check=True, capture_output=True)
    assert (pyc.read_bytes(), pyo.read_bytes()) == fresh  # not stale: not written anew

    assert cli("revert", str(site)).code == 0
    assert (pyc.read_bytes(), pyo.read_bytes(), source.stat().st_mtime_ns) == originals


def test_record_listing_byte_code_hashes_stays_true(tmp_path: Path) -> None:
    """An installer that lists byte-code with hashes (``installer --compile-bytecode``): the
    RECORD keeps describing the files on disk."""
    from patcher.disk.record import record_hash

    site, source = site_with_byte_code(tmp_path)
    [dist_info] = site.glob("setuptools-*.dist-info")
    record = dist_info / "RECORD"
    rows = []
    for path in sorted((source.parent / "__pycache__").glob("__init__.*.pyc")):
        data = path.read_bytes()
        rows.append(f"{path.relative_to(site).as_posix()},{record_hash(data)},{len(data)}\n")
    with open(record, "a") as f:
        f.writelines(rows)
    original = record.read_bytes()
    assert cli("apply", str(site)).code == 0
    text = record.read_text()
    assert len(pycs(source)) == 3
    for path in sorted((source.parent / "__pycache__").glob("__init__.*.pyc")):
        data = path.read_bytes()
        assert f"{path.relative_to(site).as_posix()},{record_hash(data)},{len(data)}\n" in text
    assert cli("revert", str(site)).code == 0
    assert record.read_bytes() == original


def test_pyenv_python_of_the_tag_compiles_byte_code_of_another_version(tmp_path: Path) -> None:
    """A tree shared by two Pythons has byte-code of both: each is compiled by its own."""
    other = next((v for v in ("3.12", "3.10", "3.13") if v != RUNNING and pyenv_python(v)), None)
    if other is None:
        pytest.skip("no second Python 3 in pyenv")
    python = pyenv_python(other)
    assert python is not None
    site, source = site_with_byte_code(tmp_path)
    subprocess.run([python, "-m", "compileall", "-q", str(source)], check=True)
    tag = "cpython-" + other.replace(".", "")
    theirs = source.parent / "__pycache__" / f"__init__.{tag}.pyc"
    assert theirs.exists()
    run = cli("apply", str(site))
    assert run.code == 0, run.err
    assert run.err == ""
    assert same_code(python, theirs, source, 0)


def test_a_views_own_byte_code_is_compiled_anew_too(tmp_path: Path) -> None:
    """A Spack-style view (real directories, files linked to the store) has a ``__pycache__``
    of its own, compiled from the links: it is written anew beside the store's."""
    from .test_links import symlink_view

    store, _source = site_with_byte_code(tmp_path)
    view = tmp_path / "view"
    symlink_view(view, store)
    link = view / PKG
    shutil.rmtree(link.parent / "__pycache__")  # links to the store's: the view compiles its own
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(link)], check=True)
    [theirs] = (link.parent / "__pycache__").glob("__init__.*.pyc")
    before = theirs.read_bytes()

    run = cli("apply", str(view))
    assert run.code == 0, run.err
    assert link.is_symlink()
    assert theirs.read_bytes() != before
    assert same_code(sys.executable, theirs, link, 0)
    code = f"import sys; sys.path.insert(0, {str(view)!r}); import pkg_resources"
    subprocess.run([sys.executable, "-S", "-c", code], env=writing_byte_code(), check=True, capture_output=True)
    assert len(pycs(store / PKG)) == 3
    fresh = theirs.read_bytes()
    subprocess.run([sys.executable, "-S", "-c", code], env=writing_byte_code(), check=True, capture_output=True)
    assert theirs.read_bytes() == fresh  # valid: not written anew
