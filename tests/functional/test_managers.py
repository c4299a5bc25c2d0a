"""Copies another package manager owns: conda (``conda-meta``), dpkg, rpm.

``locate`` names the package; ``apply`` keeps conda's ``paths_data`` true as it keeps RECORD and
``revert`` gives it back byte for byte; for dpkg and rpm it warns that the next upgrade of the
package overwrites the change. Real tools where they exist: Debian's own python3-pkg-resources,
packages built with ``dpkg-deb`` and ``rpmbuild`` and installed into a private database.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from patcher.disk import copyio
from patcher.disk.atomic import TEMP_MARK
from patcher.model import Copy

from ..conftest import cli, download, make_egg, pip_install, snapshot

PKG = "pkg_resources/__init__.py"
SETUPTOOLS = "81.0.0"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- conda ----------------------------------------------------------------------------------------


def conda_json(record: dict[str, Any]) -> str:
    """A ``conda-meta`` record as conda writes it (``conda.common.serialize.json_dump``)."""
    return json.dumps(record, indent=2, sort_keys=True, separators=(",", ": "))


def conda_record(prefix: Path, name: str, version: str, files: list[str]) -> dict[str, Any]:
    """A ``conda-meta/<name>-<version>-<build>.json`` record of ``files`` (prefix-relative), with
    their hashes and sizes as conda computes them (hashlib over the files)."""
    build = "pyhd8ed1ab_0"
    paths = []
    for rel in sorted(files):
        data = (prefix / rel).read_bytes()
        paths.append(
            {
                "_path": rel,
                "path_type": "hardlink",
                "sha256": sha256(data),
                "sha256_in_prefix": sha256(data),
                "size_in_bytes": len(data),
            }
        )
    return {
        "build": build,
        "build_number": 0,
        "channel": "local",
        "constrains": [],
        "depends": ["python >=3.9"],
        "extracted_package_dir": f"/opt/conda/pkgs/{name}-{version}-{build}",
        "files": sorted(files),
        "fn": f"{name}-{version}-{build}.conda",
        "license": "MIT",
        "link": {"source": f"/opt/conda/pkgs/{name}-{version}-{build}", "type": 1},
        "md5": "0" * 32,
        "name": name,
        "noarch": "python",
        "package_tarball_full_path": f"/opt/conda/pkgs/{name}-{version}-{build}.conda",
        "paths_data": {"paths": paths, "paths_version": 1},
        "requested_spec": name,
        "sha256": "0" * 64,
        "size": 1234567,
        "subdir": "noarch",
        "timestamp": 1700000000000,
        "url": f"file:///opt/conda/conda-bld/noarch/{name}-{version}-{build}.conda",
        "version": version,
    }


def conda_prefix(root: Path) -> tuple[Path, Path, Path]:
    """A conda environment holding setuptools: files installed by real pip, listed in
    ``conda-meta`` as conda lists them. Returns (prefix, the copy, the conda-meta record)."""
    prefix = root / "envs" / "build"
    pip_install("install", "--ignore-installed", "--prefix", str(prefix), str(download("setuptools", SETUPTOOLS)))
    [site] = prefix.glob("lib/python*/site-packages")
    files = [str(p.relative_to(prefix)) for p in site.rglob("*") if p.is_file()]
    (prefix / "conda-meta").mkdir()
    meta = prefix / "conda-meta" / f"setuptools-{SETUPTOOLS}-pyhd8ed1ab_0.json"
    meta.write_text(conda_json(conda_record(prefix, "setuptools", SETUPTOOLS, files)))
    (prefix / "conda-meta" / "history").write_text("==> 2024-01-01 00:00:00 <==\n")
    return prefix, site / PKG, meta


def paths_entry(meta: Path, rel: str) -> dict[str, Any]:
    record = json.loads(meta.read_text())
    [entry] = [p for p in record["paths_data"]["paths"] if p["_path"] == rel]
    return dict(entry)


def test_conda_package_is_named_and_its_paths_data_kept_true(tmp_path: Path) -> None:
    prefix, copy, meta = conda_prefix(tmp_path)
    rel = str(copy.relative_to(prefix))
    original_meta, original_copy = meta.read_bytes(), copy.read_bytes()

    run = cli("locate", "--json", str(prefix))
    assert run.code == 0, run.err
    [found] = run.json["copies"]
    assert found["manager"] == {"kind": "conda", "name": "setuptools", "version": SETUPTOOLS}
    assert found["owner"] == {"name": "setuptools", "version": SETUPTOOLS}  # the RECORD still says so
    assert f"conda: setuptools {SETUPTOOLS}" in cli("locate", str(prefix)).out

    run = cli("apply", "--json", str(prefix))
    assert run.code == 0, run.err
    [done] = run.json["copies"]
    assert done["outcome"] == "patched" and done["warnings"] == []  # conda keeps no copy of its own to restore
    patched = copy.read_bytes()
    entry = paths_entry(meta, rel)
    assert (entry["sha256"], entry["sha256_in_prefix"], entry["size_in_bytes"]) == (
        sha256(patched),
        sha256(patched),
        len(patched),
    )
    # nothing else changed, and the record is still written the way conda writes it
    expected = json.loads(original_meta)
    for path in expected["paths_data"]["paths"]:
        if path["_path"] == rel:
            path.update(sha256=sha256(patched), sha256_in_prefix=sha256(patched), size_in_bytes=len(patched))
    assert meta.read_text() == conda_json(expected)

    run = cli("revert", str(prefix))
    assert run.code == 0, run.err
    assert copy.read_bytes() == original_copy
    assert meta.read_bytes() == original_meta


def test_conda_record_keeps_its_own_formatting(tmp_path: Path) -> None:
    """A record written in another style (compact, CRLF-free, other key order) is edited in place."""
    prefix, copy, meta = conda_prefix(tmp_path)
    record = json.loads(meta.read_text())
    meta.write_text(json.dumps(record, separators=(",", ":")) + "\n")
    original = meta.read_bytes()

    assert cli("apply", str(prefix)).code == 0
    text = meta.read_text()
    assert text.count("\n") == 1 and ": " not in text  # still compact
    assert paths_entry(meta, str(copy.relative_to(prefix)))["sha256"] == sha256(copy.read_bytes())
    assert cli("revert", str(prefix)).code == 0
    assert meta.read_bytes() == original


def test_conda_owned_zipped_egg_comes_back_whole(tmp_path: Path) -> None:
    """conda lists a zipped egg's hash: after apply it is the patched archive's, after revert
    the original archive (byte for byte) and the original record. The egg is zipped by Info-ZIP."""
    zip_tool = shutil.which("zip")
    if zip_tool is None:
        pytest.skip("Info-ZIP zip is not installed (apt-get install -y zip)")
    prefix = tmp_path / "env"
    site = prefix / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    tree = make_egg(download("setuptools", "44.1.1"), tmp_path, zipped=False)
    egg = site / tree.name
    subprocess.run([zip_tool, "-q", "-r", str(egg), "."], cwd=tree, check=True)
    (prefix / "conda-meta").mkdir()
    meta = prefix / "conda-meta" / "setuptools-44.1.1-py27_0.json"
    rel = str(egg.relative_to(prefix))
    meta.write_text(conda_json(conda_record(prefix, "setuptools", "44.1.1", [rel])))
    original_meta, original_egg = meta.read_bytes(), egg.read_bytes()

    assert cli("locate", "--json", str(prefix)).json["copies"][0]["manager"]["kind"] == "conda"
    assert cli("apply", str(prefix)).code == 0
    entry = paths_entry(meta, rel)
    assert (entry["sha256"], entry["size_in_bytes"]) == (sha256(egg.read_bytes()), egg.stat().st_size)
    assert egg.read_bytes() != original_egg
    assert cli("revert", str(prefix)).code == 0
    assert (egg.read_bytes(), meta.read_bytes()) == (original_egg, original_meta)


# --- dpkg -----------------------------------------------------------------------------------------

DEBIAN_SITE = Path("/usr/lib/python3/dist-packages")


def dpkg_owner(path: Path, admindir: Path | None = None) -> tuple[str, str] | None:
    """(package, version) dpkg itself gives for ``path``: the expected answer."""
    admin = [f"--admindir={admindir}"] if admindir else []
    found = subprocess.run(["dpkg-query", *admin, "-S", str(path)], capture_output=True, text=True, check=False)
    if found.returncode != 0:
        return None
    package = found.stdout.split(":")[0]
    version = subprocess.run(
        ["dpkg-query", *admin, "-W", "-f=${Version}", package], capture_output=True, text=True, check=True
    ).stdout
    return package, version


def test_debian_package_is_named_and_apply_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    copy = DEBIAN_SITE / PKG
    if shutil.which("dpkg-query") is None:
        pytest.skip("dpkg is not installed")
    owner = dpkg_owner(copy) if copy.is_file() else None
    if owner is None:
        pytest.skip(f"{copy} is not installed by a Debian package (apt-get install -y python3-pkg-resources)")
    monkeypatch.delenv("PKGRES_PATCHER_DPKG_ADMINDIR", raising=False)
    package, version = owner
    before = copy.read_bytes()

    run = cli("locate", "--json", str(DEBIAN_SITE))
    [found] = [c for c in run.json["copies"] if c["file"] == str(copy)]
    assert found["manager"] == {"kind": "dpkg", "name": package, "version": version}
    assert f"dpkg: {package} {version}" in cli("locate", str(DEBIAN_SITE)).out

    run = cli("apply", "--dry-run", "--json", str(DEBIAN_SITE))
    [planned] = [c for c in run.json["copies"] if c["file"] == str(copy)]
    assert planned["outcome"] == "patched"
    assert [w for w in planned["warnings"] if package in w and "export --layout quilt" in w]
    assert copy.read_bytes() == before


def _admindir(root: Path) -> Path:
    admin = root / "dpkg-admin"
    for sub in ("info", "updates", "triggers"):
        (admin / sub).mkdir(parents=True)
    (admin / "status").touch()
    (admin / "available").touch()
    return admin


def test_dpkg_package_in_a_private_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real .deb (``dpkg-deb --build``) installed by real dpkg into a private admin dir."""
    if shutil.which("dpkg-deb") is None or shutil.which("dpkg") is None:
        pytest.skip("dpkg is not installed")
    site = tmp_path / "root" / "site-packages"
    source = tmp_path / "deb"
    (source / "DEBIAN").mkdir(parents=True)
    inside = source / site.relative_to("/") / "pkg_resources"
    inside.mkdir(parents=True)
    with zipfile.ZipFile(download("setuptools", "65.5.1")) as zf:
        original = zf.read(PKG)
    (inside / "__init__.py").write_bytes(original)
    (source / "DEBIAN" / "control").write_text(
        "Package: python3-pkgres-test\nVersion: 1:65.5.1-1+test1\nArchitecture: all\n"
        "Maintainer: tests <tests@example.invalid>\nDescription: test\n test\n"
    )
    deb = tmp_path / "test.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(source), str(deb)], check=True, capture_output=True
    )
    admin = _admindir(tmp_path)
    install = ["dpkg", f"--admindir={admin}", "--force-not-root", "--force-script-chrootless", "-i", str(deb)]
    subprocess.run(install, check=True, capture_output=True)
    copy = site / PKG
    assert copy.read_bytes() == original
    assert dpkg_owner(copy, admin) == ("python3-pkgres-test", "1:65.5.1-1+test1")
    verify = ["dpkg", f"--admindir={admin}", "--verify", "python3-pkgres-test"]

    monkeypatch.setenv("PKGRES_PATCHER_DPKG_ADMINDIR", str(admin))
    run = cli("locate", "--json", str(site))
    assert run.json["copies"][0]["manager"] == {
        "kind": "dpkg",
        "name": "python3-pkgres-test",
        "version": "1:65.5.1-1+test1",
    }
    run = cli("apply", "--json", str(site))
    assert run.code == 0, run.err
    [done] = run.json["copies"]
    assert done["outcome"] == "patched"
    assert done["warnings"] == [
        f"{copy}: installed by the dpkg package python3-pkgres-test 1:65.5.1-1+test1: its next upgrade "
        "will overwrite this change; to keep it, carry the patches in that package's build "
        "(pkgres-patcher export --layout quilt)"
    ]
    assert str(copy) in subprocess.run(verify, capture_output=True, text=True, check=False).stdout  # dpkg sees it

    assert cli("revert", str(site)).code == 0
    assert copy.read_bytes() == original
    assert subprocess.run(verify, capture_output=True, text=True, check=False).stdout == ""


# --- rpm ------------------------------------------------------------------------------------------


def test_rpm_package_in_a_private_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real rpm built with ``rpmbuild`` and installed by real rpm into a private ``--dbpath``."""
    rpm, rpmbuild = shutil.which("rpm"), shutil.which("rpmbuild")
    if rpm is None or rpmbuild is None:
        pytest.skip("rpm and rpmbuild are not installed (apt-get install -y rpm)")
    site = tmp_path / "root" / "site-packages"
    with zipfile.ZipFile(download("setuptools", "65.5.1")) as zf:
        original = zf.read(PKG)
    source = tmp_path / "source.py"
    source.write_bytes(original)
    top = tmp_path / "rpmbuild"
    for sub in ("BUILD", "RPMS", "SOURCES", "SPECS", "SRPMS"):
        (top / sub).mkdir(parents=True)
    spec = top / "SPECS" / "test.spec"
    spec.write_text(
        "Name: python3-pkgres-test\nVersion: 65.5.1\nRelease: 2.fc40\nSummary: test\nLicense: MIT\n"
        "BuildArch: noarch\n%description\ntest\n%install\n"
        f"mkdir -p %{{buildroot}}{site}/pkg_resources\n"
        f"cp {source} %{{buildroot}}{site / PKG}\n"
        f"%files\n{site / PKG}\n"
    )
    defines = ["--define", f"_topdir {top}", "--define", "__os_install_post %{nil}"]
    subprocess.run([rpmbuild, *defines, "-bb", str(spec)], check=True, capture_output=True)
    [package] = (top / "RPMS").rglob("*.rpm")
    db = tmp_path / "rpmdb"
    db.mkdir()
    subprocess.run([rpm, "--dbpath", str(db), "--initdb"], check=True, capture_output=True)
    subprocess.run(
        [rpm, "--dbpath", str(db), "-i", "--nodeps", "--ignoreos", "--ignorearch", str(package)],
        check=True,
        capture_output=True,
    )
    copy = site / PKG
    assert copy.read_bytes() == original

    def digest_changed() -> bool:
        verify = subprocess.run([rpm, "--dbpath", str(db), "-V", "python3-pkgres-test"], capture_output=True, text=True)
        return any(line.endswith(str(copy)) and line[2] == "5" for line in verify.stdout.splitlines())

    monkeypatch.setenv("PKGRES_PATCHER_RPM_DBPATH", str(db))
    run = cli("locate", "--json", str(site))
    assert run.json["copies"][0]["manager"] == {
        "kind": "rpm",
        "name": "python3-pkgres-test",
        "version": "65.5.1-2.fc40",
    }
    run = cli("apply", "--json", str(site))
    assert run.code == 0, run.err
    [done] = run.json["copies"]
    assert [w for w in done["warnings"] if "python3-pkgres-test" in w and "export --layout quilt" in w]
    assert digest_changed()  # rpm -V sees the change

    assert cli("revert", str(site)).code == 0
    assert copy.read_bytes() == original
    assert not digest_changed()


def test_environment_variables_are_documented() -> None:
    locate = (Path(__file__).resolve().parents[2] / "docs" / "reference" / "commands" / "locate.rst").read_text()
    for name in ("PKGRES_PATCHER_DPKG_ADMINDIR", "PKGRES_PATCHER_RPM_DBPATH"):
        assert name in locate, name


def test_conda_record_that_cannot_be_written_leaves_the_copy_unchanged(
    tmp_path: Path, freeze: Callable[[Path], None]
) -> None:
    prefix, copy, meta = conda_prefix(tmp_path)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(copy.parent)], check=True)
    before = snapshot(prefix), copy.stat().st_mtime_ns
    freeze(meta)

    run = cli("apply", "--json", str(prefix))
    assert run.code == 1
    [row] = run.json["copies"]
    said = f"{meta}: file is immutable (chattr +i): {copy} left unchanged"
    assert (row["outcome"], row["state"], row["message"]) == ("failed", "unpatched", said)
    assert row["unwritable"] == {"subject": str(meta), "reason": "file is immutable (chattr +i)"}
    assert run.err == f"pkgres-patcher: {said}\n"
    assert (snapshot(prefix), copy.stat().st_mtime_ns) == before
    assert [p for p in prefix.rglob("*") if TEMP_MARK in p.name] == []


def test_conda_record_made_immutable_midway_puts_record_source_and_byte_code_back(
    tmp_path: Path, freeze: Callable[[Path], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """conda's record passes the check, then becomes immutable (a real ``chattr +i``) once the
    source and byte-code are written: those and the RECORD, written before it, are put back."""
    prefix, copy, meta = conda_prefix(tmp_path)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(copy.parent)], check=True)
    before = snapshot(prefix), copy.stat().st_mtime_ns
    [record] = prefix.glob("lib/python*/site-packages/setuptools-*.dist-info/RECORD")
    record_ctime = record.stat().st_ctime_ns
    write = copyio.write

    def write_then_freeze(found: Copy, *args: Any, **kwargs: Any) -> tuple[str, ...]:
        warnings = write(found, *args, **kwargs)
        freeze(meta)
        return warnings

    monkeypatch.setattr(copyio, "write", write_then_freeze)
    for command in ("apply", "revert"):
        run = cli(command, str(prefix))
        if command == "apply":
            assert run.code == 1
            assert run.err == f"pkgres-patcher: {meta}: file is immutable (chattr +i): {copy} left unchanged\n"
        else:
            assert (run.code, run.err) == (0, "")  # nothing to revert: nothing written
        assert (snapshot(prefix), copy.stat().st_mtime_ns) == before
    assert record.stat().st_ctime_ns != record_ctime  # the RECORD was written, then put back
    assert [p for p in prefix.rglob("*") if TEMP_MARK in p.name] == []
