"""apply + revert gives zipped eggs and wheels back byte for byte.

conda's ``paths_data``, ``debsums`` and ``rpm -V`` compare whole files: members that read the
same are not enough. Archives made by the tools that really make them: Info-ZIP ``zip``,
setuptools' ``bdist_egg``, upstream wheels.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from ..conftest import Venv, VenvFactory, cli, download
from ..lib.records import wheel_record_rows

PKG = "pkg_resources/__init__.py"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def require_zip() -> str:
    zip_tool = shutil.which("zip")
    if zip_tool is None:
        pytest.skip("Info-ZIP zip is not installed (apt-get install -y zip)")
    return zip_tool


def zip_made_egg(tmp_path: Path, *, byte_code: bool) -> Path:
    """setuptools 44.1.1 laid out as an egg and zipped by Info-ZIP ``zip -r`` (its own deflate,
    its extra fields), with legacy ``.pyc`` beside the sources when ``byte_code``."""
    zip_tool = require_zip()
    tree = tmp_path / "tree"
    with zipfile.ZipFile(download("setuptools", "44.1.1")) as zf:
        for name in zf.namelist():
            if ".dist-info/" in name:
                continue
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            (tree / name).write_bytes(zf.read(name))
    (tree / "EGG-INFO").mkdir()
    (tree / "EGG-INFO" / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: setuptools\nVersion: 44.1.1\n")
    (tree / "EGG-INFO" / "top_level.txt").write_text("easy_install\npkg_resources\nsetuptools\n")
    if byte_code:
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-b", str(tree / "pkg_resources")], check=True)
        assert (tree / "pkg_resources" / "__init__.pyc").is_file()
    site = tmp_path / "site"
    site.mkdir()
    egg = site / "setuptools-44.1.1-py3.11.egg"
    subprocess.run([zip_tool, "-q", "-r", str(egg), "."], cwd=tree, check=True)
    return egg


@pytest.mark.parametrize("byte_code", [False, True], ids=["sources", "with-byte-code"])
def test_zip_made_egg_comes_back_byte_for_byte(tmp_path: Path, byte_code: bool) -> None:
    egg = zip_made_egg(tmp_path, byte_code=byte_code)
    before = sha256_file(egg)

    run = cli("apply", str(egg.parent))
    assert run.code == 0, run.err
    with zipfile.ZipFile(egg) as zf:
        assert b"vanished under us" in zf.read(PKG)
        # byte-code compiled anew, or (without it) none
        assert ("pkg_resources/__init__.pyc" in zf.namelist()) is byte_code
    if shutil.which("unzip"):
        test = subprocess.run(["unzip", "-tq", str(egg)], capture_output=True, text=True, check=False)
        assert test.returncode == 0, test.stdout + test.stderr  # Info-ZIP reads the patched archive

    run = cli("revert", str(egg.parent))
    assert run.code == 0, run.err
    assert sha256_file(egg) == before


def test_untouched_members_keep_their_records_byte_for_byte(tmp_path: Path) -> None:
    """Every member but the patched one keeps its local header, extra fields, compressed bytes
    and order, whether or not the original is remembered (a revert on another machine)."""
    egg = zip_made_egg(tmp_path, byte_code=False)
    before = raw_records(egg)
    assert cli("apply", str(egg.parent)).code == 0
    after = raw_records(egg)
    assert list(after) == list(before)
    assert {n for n in before if before[n] != after[n]} == {PKG}
    shutil.rmtree(os.environ["PKGRES_PATCHER_CACHE_DIR"])  # nothing remembered
    assert cli("revert", str(egg.parent)).code == 0
    again = raw_records(egg)
    assert list(again) == list(before)
    assert {n for n in before if before[n] != again[n]} <= {PKG}
    with zipfile.ZipFile(egg) as zf:
        assert zf.read(PKG) == zipfile.ZipFile(download("setuptools", "44.1.1")).read(PKG)


def raw_records(archive: Path) -> dict[str, bytes]:
    """Each member's local header, extra field and compressed data, as stored, in order."""
    data = archive.read_bytes()
    records = {}
    with zipfile.ZipFile(archive) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.header_offset):
            start = info.header_offset
            name_len, extra_len = struct.unpack("<HH", data[start + 26 : start + 30])
            end = start + 30 + name_len + extra_len + info.compress_size
            records[info.filename] = data[start:end]
    return records


def test_bdist_egg_comes_back_byte_for_byte(tmp_path: Path, venv_factory: VenvFactory) -> None:
    """An egg built by setuptools' own ``bdist_egg`` (byte-code compiled into ``__pycache__``)."""
    env = venv_factory()
    env.install(download("setuptools", "70.1.0"))
    project = tmp_path / "project"
    vendored = project / "mytool" / "_vendor" / "pkg_resources"
    vendored.mkdir(parents=True)
    (project / "mytool" / "__init__.py").write_text("")
    (project / "mytool" / "_vendor" / "__init__.py").write_text("")
    with zipfile.ZipFile(download("setuptools", "70.1.0")) as zf:
        (vendored / "__init__.py").write_bytes(zf.read(PKG))
    packages = ["mytool", "mytool._vendor", "mytool._vendor.pkg_resources"]
    (project / "setup.py").write_text(
        f"from setuptools import setup\nsetup(name='mytool', version='1.0', packages={packages})\n"
    )
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # compiled, as usual
    built = subprocess.run(
        [env.python, "setup.py", "-q", "bdist_egg"],
        cwd=project,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    [egg] = (project / "dist").glob("*.egg")
    with zipfile.ZipFile(egg) as zf:
        assert [n for n in zf.namelist() if n.startswith("mytool/_vendor/pkg_resources/__pycache__/__init__.")]
    before = sha256_file(egg)

    run = cli("apply", "--json", str(egg))
    assert run.code == 0, run.err
    assert [c["outcome"] for c in run.json["copies"]] == ["patched"]
    assert sha256_file(egg) != before
    run = cli("revert", str(egg))
    assert run.code == 0, run.err
    assert sha256_file(egg) == before


@pytest.mark.parametrize(
    ("project", "version", "member"),
    [
        ("pip", "26.3", "pip/_vendor/pkg_resources/__init__.py"),
        ("setuptools", "81.0.0", PKG),
        ("setuptools", "44.1.1", PKG),
        ("pip", "9.0.1", "pip/_vendor/pkg_resources/__init__.py"),
    ],
)
def test_real_wheels_come_back_byte_for_byte_and_install_patched(
    tmp_path: Path, project: str, version: str, member: str
) -> None:
    wheel = tmp_path / download(project, version).name
    shutil.copy(download(project, version), wheel)
    before = sha256_file(wheel)

    run = cli("apply", "--wheels", str(wheel))
    assert run.code == 0, run.err
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(member)
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    assert wheel_record_rows(wheel)[member][1:] == [f"sha256={digest}", str(len(data))]
    env = Venv(tmp_path / "venv")
    env.install(wheel)  # real pip takes the patched wheel
    assert (env.site / member).read_bytes() == data

    run = cli("revert", "--wheels", str(wheel))
    assert run.code == 0, run.err
    assert sha256_file(wheel) == before


def test_an_original_is_kept_in_the_cache_dir_named(tmp_path: Path) -> None:
    """``--cache-dir`` of apply/revert is where the archive as it was is kept (and found)."""
    egg = zip_made_egg(tmp_path, byte_code=False)
    before = sha256_file(egg)
    cache = tmp_path / "cache"

    assert cli("apply", "--cache-dir", str(cache), str(egg)).code == 0
    assert len(list((cache / "originals").iterdir())) == 1
    assert cli("revert", "--cache-dir", str(cache), str(egg)).code == 0
    assert sha256_file(egg) == before


def test_an_original_goes_to_the_private_temp_dir_in_a_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a cache that cannot be written (a build sandbox), the archive as it was is kept in
    the user's private temporary directory, and a revert is still exact."""
    egg = zip_made_egg(tmp_path, byte_code=False)
    before = sha256_file(egg)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("PKGRES_PATCHER_CACHE_DIR", str(blocker / "cache"))
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))

    run = cli("apply", "--json", str(egg))
    assert run.code == 0, run.err
    assert [c["warnings"] for c in run.json["copies"]] == [[]]
    assert len(list(temp.glob("pkgres-patcher-*/cache/originals/*.zip"))) == 1
    assert cli("revert", str(egg)).code == 0
    assert sha256_file(egg) == before


def test_an_original_that_cannot_be_kept_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With neither the cache nor the temporary directory writable, the egg is still patched,
    and the user is told that a revert will not give back its exact bytes."""
    egg = zip_made_egg(tmp_path, byte_code=False)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("PKGRES_PATCHER_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(blocker / "temp"))

    run = cli("apply", "--json", str(egg))

    assert run.code == 0, run.err
    [done] = run.json["copies"]
    assert done["outcome"] == "patched"
    [warning] = done["warnings"]
    assert warning.startswith(f"{egg}: the archive as it was could not be kept (no directory for originals: ")
    assert warning.endswith("a revert will give back its members, not its exact bytes")
    assert cli("revert", str(egg)).code == 0
    with zipfile.ZipFile(egg) as zf:
        assert zf.read(PKG) == zipfile.ZipFile(download("setuptools", "44.1.1")).read(PKG)
