"""The module era (2013-2015): ``pkg_resources.py`` as one module -- setuptools 0.7.2 to 8.2.1,
``pip/_vendor/pkg_resources.py`` in pip 1.5.1 to 6.0.3 -- found, patched, reverted and verified
wherever it lies: a site directory (installed by real pip, or an unpacked wheel), a zipped or
directory egg, a wheel; with its byte-code beside it (``__pycache__`` of the running
interpreter, Python 2's legacy ``.pyc``/``.pyo``).

The index has no egg of a module-era release (the only setuptools egg after 0.6 is 18.3.1's,
a package): eggs are laid out from the real wheels as easy_install left them, compiled as
``bdist_egg`` compiled them. Module-era code runs on Python 2.7 (and 3.3/3.4, not to be had
here: it needs ``importlib._bootstrap.SourceFileLoader`` and ``symbol``), so ``verify`` needs
pyenv's 2.7; patching and byte-code use the running interpreter.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ..conftest import Venv, cli, download, make_egg, require_python, snapshot
from ..lib.records import record_rows
from ..lib.runs import writing_byte_code
from .test_artefacts import pip
from .test_bytecode import same_code

MODULE = "pkg_resources.py"
VENDORED = "pip/_vendor/pkg_resources.py"
TAG = sys.implementation.cache_tag
RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"

#: a patch set that changes what a copy lists (every project keyed in capitals): ``verify``
#: must see that the patched copy lists otherwise than its pristine text
UPPER_KEYS = """\
Description: key every distribution by its name in capitals
Author: pkgres-patcher tests
Origin: vendor
Bug: https://example.invalid/test
Forwarded: not-needed
Applied-Upstream: no
Last-Update: 2026-01-01
Upstream-Releases: setuptools>=0
---
--- a/__init__.py
+++ b/__init__.py
@@ -1,1 +1,1 @@
-            self._key = key = self.project_name.lower()
+            self._key = key = self.project_name.upper()
"""


def compile_tree(python: str, tree: Path, *options: str, optimized: bool = False) -> None:
    """Byte-code for every module below ``tree`` (the ``.pyo`` too when ``optimized``), as
    ``bdist_egg`` or a distribution's package compiled it; modules another Python's syntax (a
    ``py3`` file under Python 2) are left without, as there."""
    for flags in ([], ["-O"]) if optimized else ([],):
        subprocess.run([python, *flags, "-m", "compileall", "-q", *options, str(tree)], capture_output=True)


def module_egg(
    wheel: Path, site: Path, pyver: str, *, zipped: bool, python: str, options: tuple[str, ...] = ()
) -> Path:
    """An egg laid out from a real wheel, compiled by ``python`` (compileall ``options``), zipped or not."""
    staging = site.parent / f"staging-{wheel.name}"
    staging.mkdir()
    tree = make_egg(wheel, staging, pyver, zipped=False)
    compile_tree(python, tree, *options, optimized=not zipped and python != sys.executable)
    if not zipped:
        return Path(shutil.move(str(tree), str(site)))
    egg = site / tree.name
    with zipfile.ZipFile(egg, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(tree).as_posix())
    return egg


def member_timestamp(archive: Path, member: str) -> int:
    """The mtime zipimport reads for a member: its DOS date, local time."""
    with zipfile.ZipFile(archive) as zf:
        return int(time.mktime((*zf.getinfo(member).date_time, 0, 0, -1)))


def same_member_code(python: str, archive: Path, pyc: str, source: str, scratch: Path) -> bool:
    """Is the byte-code member ``pyc`` what ``python`` compiles from the member ``source``?"""
    scratch.mkdir(exist_ok=True)
    with zipfile.ZipFile(archive) as zf:
        (scratch / "member.py").write_bytes(zf.read(source))
        (scratch / "member.pyc").write_bytes(zf.read(pyc))
    return same_code(python, scratch / "member.pyc", scratch / "member.py", 0)


def wheel_record_true(wheel: Path) -> None:
    """Every member of a wheel is listed in its RECORD with the hash and size it has."""
    with zipfile.ZipFile(wheel) as zf:
        [record] = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD")]
        rows = {row[0]: row[1:] for row in csv.reader(io.StringIO(zf.read(record).decode()))}
        for name in zf.namelist():
            if name == record:
                continue
            data = zf.read(name)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert rows[name] == [f"sha256={digest}", str(len(data))], name


def assert_listed_true(site: Path, dist_info: str, entry: str) -> None:
    """The RECORD row of ``entry`` states the hash and size of the file now there."""
    data = (site / entry).read_bytes()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    assert record_rows(site / dist_info / "RECORD")[entry][1:] == [f"sha256={digest}", str(len(data))], entry


def found(run: Any) -> list[tuple[str, str | None, str, str]]:
    """(file, member, container, state) of each copy a ``--json`` run reports."""
    assert run.code == 0 and run.err == "", run.err
    return [(c["file"], c["member"], c["container"], c["state"]) for c in run.json["copies"]]


def applied(run: Any) -> dict[str, dict[str, Any]]:
    """The copies an ``apply --json`` run patched, by location; every patch placed or not needed,
    never by fuzz, and no warning (nothing left stale or removed)."""
    assert (run.code, run.err) == (0, ""), run.err
    copies = {c["file"] + (f"!{c['member']}" if c["member"] else ""): c for c in run.json["copies"]}
    for location, copy in copies.items():
        assert (copy["outcome"], copy["warnings"]) == ("patched", []), location
        assert all(p["action"] in ("change", "not-needed") and p["fuzz"] == 0 for p in copy["patches"]), location
    return copies


# --- a site directory, installed by real pip --------------------------------------------------

#: both ends of the era: the variants of setuptools 0.7 (0.9.8: the enterprise distributions'
#: release; pip 1.5.6 vendors it), and those of 18.0 that fit back to 5.4 (pip 6.0 vendors 8.2.1)
ERAS = [("0.9.8", "1.5.6"), ("5.5.1", "6.0")]


@pytest.mark.parametrize(("setuptools", "pip_version"), ERAS, ids=[f"setuptools-{s}-pip-{p}" for s, p in ERAS])
def test_installed_modules_and_their_byte_code_round_trip(tmp_path: Path, setuptools: str, pip_version: str) -> None:
    """``pip install`` compiles each module into ``__pycache__`` and lists it in RECORD: apply
    compiles it anew from the patched source, RECORD stays true, revert gives every byte back."""
    env = Venv(tmp_path / "venv")
    pip(env.python, "install", "--no-deps", "--no-index", str(download("setuptools", setuptools)))
    pip(env.python, "install", "--no-deps", "--no-index", str(download("pip", pip_version)))
    module, vendored = env.site / MODULE, env.site / VENDORED
    pycs = [
        env.site / "__pycache__" / f"pkg_resources.{TAG}.pyc",
        env.site / "pip/_vendor/__pycache__" / f"pkg_resources.{TAG}.pyc",
    ]
    assert all(pyc.is_file() for pyc in pycs)
    before = snapshot(env.root)

    assert found(cli("locate", "--json", str(env.root))) == [
        (str(vendored), None, "directory", "unpatched"),
        (str(module), None, "directory", "unpatched"),
    ]
    copies = applied(cli("apply", "--json", str(env.root)))
    assert sorted(copies) == [str(vendored), str(module)]
    for source, pyc in zip((module, vendored), pycs):
        assert b"vanished under us" in source.read_bytes()
        assert pyc.read_bytes() != before[str(pyc.relative_to(env.root))][1]
        assert same_code(sys.executable, pyc, source, 0), pyc
        assert struct.unpack("<II", pyc.read_bytes()[8:16]) == (int(source.stat().st_mtime), source.stat().st_size)
    for dist_info, source, pyc in zip((f"setuptools-{setuptools}", f"pip-{pip_version}"), (module, vendored), pycs):
        assert_listed_true(env.site, f"{dist_info}.dist-info", source.relative_to(env.site).as_posix())
        assert pyc.relative_to(env.site).as_posix() in record_rows(env.site / f"{dist_info}.dist-info" / "RECORD")
    assert cli("locate", "--check", str(env.root)).code == 0

    run = cli("revert", str(env.root))
    assert (run.code, run.err) == (0, "")
    assert snapshot(env.root) == before


# --- eggs, zipped and directory ------------------------------------------------------------


def test_eggs_and_the_byte_code_bdist_egg_compiled(tmp_path: Path) -> None:
    """A zipped egg's ``pkg_resources.pyc`` member (what zipimport loads) and a directory egg's
    ``__pycache__``: compiled anew, the member's timestamp its date; revert: the eggs byte for byte."""
    site = tmp_path / "site"
    site.mkdir()
    # bdist_egg compiled legacy .pyc beside the sources of a zipped egg: zipimport reads only those
    zipped = module_egg(
        download("setuptools", "8.0"), site, RUNNING, zipped=True, python=sys.executable, options=("-b",)
    )
    directory = module_egg(download("pip", "6.0"), site, RUNNING, zipped=False, python=sys.executable)
    with zipfile.ZipFile(zipped) as zf:
        assert "pkg_resources.pyc" in zf.namelist()
    pyc = directory / "pip/_vendor/__pycache__" / f"pkg_resources.{TAG}.pyc"
    assert pyc.is_file()
    before = snapshot(site)

    assert found(cli("locate", "--json", str(site))) == [
        (str(directory / VENDORED), None, "egg-dir", "unpatched"),
        (str(zipped), MODULE, "egg-zip", "unpatched"),
    ]
    copies = applied(cli("apply", "--json", str(site)))
    assert sorted(copies) == [str(directory / VENDORED), f"{zipped}!{MODULE}"]
    assert same_member_code(sys.executable, zipped, "pkg_resources.pyc", MODULE, tmp_path / "scratch")
    with zipfile.ZipFile(zipped) as zf:
        assert b"vanished under us" in zf.read(MODULE)
        assert struct.unpack("<I", zf.read("pkg_resources.pyc")[8:12])[0] == member_timestamp(zipped, MODULE)
    assert same_code(sys.executable, pyc, directory / VENDORED, 0)
    assert cli("locate", "--check", str(site)).code == 0

    assert cli("revert", str(site)).code == 0
    assert snapshot(site) == before


def test_an_egg_of_byte_code_only_is_unpatchable(tmp_path: Path) -> None:
    """``bdist_egg --exclude-source-files`` of a module-era release: ``pkg_resources.pyc`` alone."""
    import importlib.util
    import marshal

    wheel = download("setuptools", "8.0")
    egg = make_egg(wheel, tmp_path, RUNNING, zipped=True, only=lambda name: name != MODULE)
    with zipfile.ZipFile(wheel) as zf:
        code = compile(zf.read(MODULE), MODULE, "exec")
    with zipfile.ZipFile(egg, "a") as zf:
        zf.writestr("pkg_resources.pyc", importlib.util.MAGIC_NUMBER + b"\0" * 12 + marshal.dumps(code))
    before = egg.read_bytes()
    assert found(cli("locate", "--json", str(tmp_path))) == [(str(egg), "pkg_resources.pyc", "egg-zip", "unpatchable")]
    run = cli("apply", str(tmp_path))
    assert (run.code, run.err) == (
        1,
        f"pkgres-patcher: {egg}!pkg_resources.pyc: holds only byte-code, no source to patch\n",
    )
    assert egg.read_bytes() == before


# --- wheels --------------------------------------------------------------------------------


def test_wheels_in_a_tree_named_and_written_to_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Wheels met in a tree are left alone unless ``--wheels``; a named one is patched, also into
    ``--output DIR`` given relative, as a build gives it: the report names the file written."""
    tree = tmp_path / "wheels"
    tree.mkdir()
    wheels = [Path(shutil.copy(download(p, v), tree)) for p, v in (("setuptools", "7.0"), ("pip", "6.0"))]
    originals = [w.read_bytes() for w in wheels]
    members = {wheels[0]: MODULE, wheels[1]: VENDORED}

    run = cli("apply", "--json", str(tree))
    assert (run.code, run.err, run.json["copies"]) == (0, "", [])
    assert sorted((c["file"], c["member"]) for c in run.json["left_alone"]) == sorted(
        (str(w), m) for w, m in members.items()
    )
    assert cli("locate", "--check", str(tree)).code == 0  # artefacts: not judged without --wheels
    check = cli("locate", "--check", "--wheels", str(tree))
    assert check.code == 1
    assert sorted(check.err.splitlines()) == sorted(f"pkgres-patcher: {w}!{m}: unpatched" for w, m in members.items())

    copies = applied(cli("apply", "--json", "--wheels", str(tree)))
    assert sorted(copies) == sorted(f"{w}!{m}" for w, m in members.items())
    for wheel in wheels:
        wheel_record_true(wheel)
    assert cli("locate", "--check", "--wheels", str(tree)).code == 0
    assert cli("revert", "--wheels", str(tree)).code == 0
    assert [w.read_bytes() for w in wheels] == originals

    monkeypatch.chdir(tmp_path)
    named = Path("wheels") / wheels[0].name
    copies = applied(cli("apply", "--json", "--output", "out", str(named)))
    written = tmp_path / "out" / wheels[0].name
    assert sorted(copies) == [f"{written}!{MODULE}"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == [written.name]
    wheel_record_true(written)
    assert wheels[0].read_bytes() == originals[0]


# --- Python 2.7: legacy byte-code, and verify -------------------------------------------------


def test_python27_legacy_byte_code_and_verify(tmp_path: Path) -> None:
    """A Python 2.7 site as 2015 left it: setuptools 8.0 unpacked with ``.pyc``/``.pyo`` beside
    the module, setuptools 0.9.8 as a zipped egg with its ``pkg_resources.pyc``, pip 1.5.6 as a
    directory egg, and pip 6.0 as a wheel named. verify fails each unpatched copy and passes it
    patched; the byte-code is 2.7's, valid, and given back byte for byte."""
    python = require_python("2.7")
    site = tmp_path / "lib/python2.7/site-packages"
    site.mkdir(parents=True)
    with zipfile.ZipFile(download("setuptools", "8.0")) as zf:
        zf.extractall(site)
    compile_tree(python, site, optimized=True)
    zipped = module_egg(download("setuptools", "0.9.8"), site, "2.7", zipped=True, python=python)
    directory = module_egg(download("pip", "1.5.6"), site, "2.7", zipped=False, python=python)
    wheel = Path(shutil.copy(download("pip", "6.0"), tmp_path))
    module, vendored = site / MODULE, directory / VENDORED
    legacy = [path.with_suffix(suffix) for path in (module, vendored) for suffix in (".pyc", ".pyo")]
    assert all(pyc.is_file() for pyc in legacy)
    before = snapshot(site)
    wheel_before = wheel.read_bytes()
    targets = (str(site), str(wheel))

    run = cli("verify", "--quick", "--json", *targets)
    assert run.code == 1
    assert [(c["python_version"], c["status"]) for c in run.json["copies"]] == [("2.7", "failed")] * 4
    assert all("egg-zip" in [r["kind"] for r in c["race_replay"] if r["escapes"]] for c in run.json["copies"])

    applied(cli("apply", "--json", *targets))
    for pyc in legacy:
        source, optimize = pyc.with_suffix(".py"), int(pyc.suffix == ".pyo")
        data = pyc.read_bytes()
        assert data != before[str(pyc.relative_to(site))][1]
        assert struct.unpack("<I", data[4:8])[0] == int(source.stat().st_mtime)
        assert same_code(python, pyc, source, optimize), pyc
    assert same_member_code(python, zipped, "pkg_resources.pyc", MODULE, tmp_path / "scratch")
    fresh = [pyc.read_bytes() for pyc in legacy]
    for flags in ([], ["-O"]):  # Python 2.7 finds none stale: it would write them anew
        code = f"import sys; sys.path[:0] = [{str(site)!r}, {str(directory)!r}]; import pkg_resources, pip._vendor.pkg_resources"
        subprocess.run([python, "-S", *flags, "-c", code], env=writing_byte_code(), check=True, capture_output=True)
    assert [pyc.read_bytes() for pyc in legacy] == fresh
    assert cli("locate", "--check", *targets).code == 0

    run = cli("verify", "--quick", "--json", *targets)
    assert run.code == 0, run.out
    assert [(c["python_version"], c["status"], c["same_listing"]) for c in run.json["copies"]] == [
        ("2.7", "passed", True)
    ] * 4

    assert cli("revert", *targets).code == 0
    assert snapshot(site) == before
    assert wheel.read_bytes() == wheel_before


def test_verify_runs_the_text_of_a_module_in_a_zipped_egg_not_its_byte_code(tmp_path: Path) -> None:
    """The scratch egg verify runs a module from holds the text under test and no byte-code
    of it (zipimport would load a valid ``pkg_resources.pyc`` instead): the pristine text of a
    copy patched to key every project in capitals lists other keys than the patched copy."""
    python = require_python("2.7")
    patches = tmp_path / "patches"
    (patches / "upper").mkdir(parents=True)
    (patches / "upper/keys.patch").write_text(UPPER_KEYS)
    (patches / "series").write_text("upper/keys.patch\n")
    site = tmp_path / "site"
    site.mkdir()
    egg = module_egg(download("setuptools", "8.0"), site, "2.7", zipped=True, python=python)
    assert cli("apply", "--patches", str(patches), str(egg)).code == 0
    with zipfile.ZipFile(egg) as zf:
        assert b"project_name.upper()" in zf.read(MODULE) and "pkg_resources.pyc" in zf.namelist()

    run = cli("verify", "--quick", "--json", "--patches", str(patches), str(egg))
    [copy] = run.json["copies"]
    assert copy["python_version"] == "2.7", (copy["status"], copy["notes"], copy.get("reason"))
    assert copy["same_listing"] is False, copy
    assert "KEEP: listed, pristine does not" in copy["listing_differences"]
    assert run.code == 1


def test_a_module_no_record_lists_runs_with_setuptools_beside_it(tmp_path: Path) -> None:
    """No RECORD says which files are the copy's (an unpacked tree, a distribution's package
    without metadata): the scratch layout is the module and the setuptools it imports
    (``setuptools._vendor.packaging`` from 8.0), as for a package."""
    require_python("2.7")
    site = tmp_path / "lib/python2.7/site-packages"
    site.mkdir(parents=True)
    with zipfile.ZipFile(download("setuptools", "8.0")) as zf:
        zf.extractall(site, [n for n in zf.namelist() if ".dist-info/" not in n])
    assert cli("apply", str(site)).code == 0
    run = cli("verify", "--quick", "--json", str(site))
    [copy] = run.json["copies"]
    assert (copy["python_version"], copy["status"], copy["owner"]) == ("2.7", "passed", None), copy
    assert copy["notes"] == []
    assert run.code == 0
