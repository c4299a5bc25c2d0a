"""``export``: the patch files a distribution build applies, applied to the real releases with the
tools those builds use (GNU ``patch``, ``quilt``, ``patch`` with Spack's arguments), imported
afterwards, and checked byte for byte against what ``apply`` makes of the same release.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from ..conftest import WHEELS, cli, download
from .test_sdist import SDISTS, real_sdist

#: the four releases every layout is tried on: the newest and one old one of each project
RELEASES = [("setuptools", "81.0.0"), ("pip", "26.3"), ("setuptools", "44.1.1"), ("pip", "20.3.4")]
IDS = [f"{p}-{v}" for p, v in RELEASES]


def unpack(archive: Path, into: Path) -> Path:
    """The archive unpacked (an sdist: its top directory, as a build sees it)."""
    into.mkdir(parents=True)
    if archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(into)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(into, filter="data")
    if archive.name.endswith(".whl"):
        return into
    (top,) = into.iterdir()
    return top


def export(tmp_path: Path, requirement: str, layout: str, *extra: str, name: str = "") -> Path:
    """``export`` run offline on the tests' cache, the release put there first (whatever ran before)."""
    project, version = requirement.split("==")
    if layout == "wheel":
        download(project, version)
    else:
        real_sdist(project, version)
    output = tmp_path / (name or f"export-{layout}")
    run = cli(
        "export",
        "--for",
        requirement,
        "--layout",
        layout,
        "--output",
        str(output),
        "--find-links",
        str(SDISTS),
        "--find-links",
        str(WHEELS),
        "--no-index",
        "--cache-dir",
        str(tmp_path / "cache"),
        *extra,
    )
    assert (run.code, run.err) == (0, ""), run.err
    return output


def patch_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.patch"))


def gnu_patch(tree: Path, patch: Path, *extra: str) -> str:
    proc = subprocess.run(
        ["patch", "-p1", "--force", *extra, "-i", str(patch)], cwd=tree, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def applied_by_the_tool(archive: Path, into: Path, path: str) -> bytes:
    """The copy as ``pkgres-patcher apply`` patches it in another unpacking of the release."""
    tree = unpack(archive, into)
    run = cli("apply", str(tree), "--lock-dir", str(into.parent / "locks"), "--cache-dir", str(into.parent / "c"))
    assert run.code == 0, run.out + run.err
    return (tree / path).read_bytes()


def import_from(root: Path, project: str) -> str:
    """Import pkg_resources (pip's vendored one for pip) from ``root`` in a fresh interpreter."""
    module = "pip._vendor.pkg_resources" if project == "pip" else "pkg_resources"
    code = f"import sys; sys.path.insert(0, {str(root)!r}); import {module} as m; print(m.__file__)"
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def sdist_path(project: str) -> str:
    return "src/pip/_vendor/pkg_resources/__init__.py" if project == "pip" else "pkg_resources/__init__.py"


@pytest.mark.parametrize(("project", "version"), RELEASES, ids=IDS)
def test_sdist_layout_applies_clean_with_gnu_patch(tmp_path: Path, project: str, version: str) -> None:
    sdist = real_sdist(project, version)
    output = export(tmp_path, f"{project}=={version}", "sdist")
    files = patch_files(output)
    assert [f.name for f in files] == [
        "0001-zip-manifest-load.patch",
        "0002-zip-manifest-build.patch",
        "0003-path-scan-listdir.patch",
        "0004-egg-link-read.patch",
        "0005-metadata-read.patch",
        "0006-metadata-entry-scan.patch",
        "0007-resolve-requires.patch",
    ]
    tree = unpack(sdist, tmp_path / "tree")
    path = sdist_path(project)
    pristine = (tree / path).read_bytes()
    for f in files:
        text = f.read_text()
        assert text.startswith("Description: ") and "\nBug: " in text  # the DEP-3 header kept
        assert f"\n--- a/{path}\n+++ b/{path}\n" in text
        said = gnu_patch(tree, f, "--dry-run") + gnu_patch(tree, f)
        assert "offset" not in said and "fuzz" not in said and "FAILED" not in said, said
    patched = (tree / path).read_bytes()
    assert patched != pristine
    assert patched == applied_by_the_tool(sdist, tmp_path / "by-apply", path)
    root = tree / "src" if project == "pip" and (tree / "src").is_dir() else tree
    assert import_from(root, project) == str(tree / path)


@pytest.mark.parametrize(("project", "version"), RELEASES[:2], ids=IDS[:2])
def test_wheel_layout_applies_to_the_unpacked_wheel(tmp_path: Path, project: str, version: str) -> None:
    wheel = download(project, version)
    output = export(tmp_path, f"{project}=={version}", "wheel", "--json")
    tree = unpack(wheel, tmp_path / "tree")
    path = "pip/_vendor/pkg_resources/__init__.py" if project == "pip" else "pkg_resources/__init__.py"
    for f in patch_files(output):
        said = gnu_patch(tree, f, "--dry-run") + gnu_patch(tree, f)
        assert "offset" not in said and "fuzz" not in said, said
    assert (tree / path).read_bytes() == applied_by_the_tool(wheel, tmp_path / "by-apply", path)
    assert import_from(tree, project) == str(tree / path)


def test_quilt_layout_is_pushed_by_quilt(tmp_path: Path) -> None:
    if shutil.which("quilt") is None:
        pytest.skip("quilt is not installed (apt-get install quilt)")
    sdist = real_sdist("setuptools", "81.0.0")
    output = export(tmp_path, "setuptools==81.0.0", "quilt")
    series = (output / "series").read_text().splitlines()
    assert series == [f.name for f in patch_files(output)] and len(series) == 7
    tree = unpack(sdist, tmp_path / "tree")
    env = {**os.environ, "QUILT_PATCHES": str(output), "QUILTRC": os.devnull}
    proc = subprocess.run(["quilt", "push", "-a"], cwd=tree, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Now at patch" in proc.stdout and "offset" not in proc.stdout and "fuzz" not in proc.stdout
    path = "pkg_resources/__init__.py"
    assert (tree / path).read_bytes() == applied_by_the_tool(sdist, tmp_path / "by-apply", path)
    assert import_from(tree, "setuptools") == str(tree / path)


@pytest.mark.parametrize(("project", "version"), [RELEASES[1], RELEASES[2]], ids=[IDS[1], IDS[2]])
def test_spack_layout_applies_with_spacks_arguments(tmp_path: Path, project: str, version: str) -> None:
    sdist = real_sdist(project, version)
    output = export(tmp_path, f"{project}=={version}", "spack")
    snippet = (output / "package-patches.py").read_text()
    lines = re.findall(r'^    patch\("([^"]+)", sha256="([0-9a-f]{64})", when="@([^"]*)"\)$', snippet, re.M)
    assert [name for name, _, _ in lines] == [f.name for f in patch_files(output)] and len(lines) == 7
    tree = unpack(sdist, tmp_path / "tree")
    for name, digest, when in lines:
        assert hashlib.sha256((output / name).read_bytes()).hexdigest() == digest
        assert re.fullmatch(r"[0-9.]*:[0-9.]*(,[0-9.]*:[0-9.]*)*|[0-9.]+", when), when
        # spack.patch.apply_patch: patch -s -p 1 -i <file> -d <stage source>
        proc = subprocess.run(
            ["patch", "-s", "-p", "1", "-i", str(output / name), "-d", str(tree)], capture_output=True
        )
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    path = sdist_path(project)
    assert (tree / path).read_bytes() == applied_by_the_tool(sdist, tmp_path / "by-apply", path)


def test_spack_when_is_the_variants_declared_range(tmp_path: Path) -> None:
    output = export(tmp_path, "setuptools==44.1.1", "spack", "--json")
    snippet = (output / "package-patches.py").read_text()
    # zip-manifest-load/setuptools-18.0 is declared for setuptools>=5.4,<70.1: Spack's 5.4:70.0
    assert 'patch("0001-zip-manifest-load.patch", sha256="' in snippet
    assert re.search(r'0001-zip-manifest-load\.patch", sha256="[0-9a-f]{64}", when="@5\.4:70\.0"\)', snippet)


def test_a_range_is_refused_naming_it(tmp_path: Path) -> None:
    run = cli("export", "--for", "setuptools>=81", "--layout", "sdist", "--output", str(tmp_path / "o"))
    assert run.code == 2
    assert "setuptools>=81: must pin one release" in run.err
    assert not (tmp_path / "o").exists()


def test_a_directory_that_is_not_a_previous_export_is_refused_and_kept(tmp_path: Path) -> None:
    output = tmp_path / "mine"
    output.mkdir()
    (output / "notes.txt").write_text("mine")
    run = cli(
        "export", "--for", "setuptools==81.0.0", "--layout", "sdist", "--output", str(output), "--no-index", "--json"
    )
    assert run.code == 1
    assert (
        run.err == f"pkgres-patcher: {output}: is not empty and holds more than a previous export: choose another DIR\n"
    )
    assert run.json["export"] is None
    assert [p.name for p in output.iterdir()] == ["notes.txt"]


def test_a_previous_export_is_replaced_whole(tmp_path: Path) -> None:
    output = export(tmp_path, "setuptools==81.0.0", "spack", name="out")
    (output / "0009-gone.patch").write_text("from an older patch set")
    again = export(tmp_path, "setuptools==81.0.0", "sdist", "--json", name="out")
    assert again == output
    assert sorted(p.name for p in output.iterdir()) == sorted(p.name for p in patch_files(output))
    assert len(patch_files(output)) == 7
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_the_schema_speaks_the_models_words() -> None:
    from patcher.handoff.export import Handed, Layout

    from ..conftest import load_schema

    schema = load_schema("export")
    assert [w["const"] for w in schema["$defs"]["layout"]["oneOf"]] == [w.value for w in Layout]
    assert [w["const"] for w in schema["$defs"]["status"]["oneOf"]] == [w.value for w in Handed]


@pytest.mark.parametrize(
    ("project", "version", "path"),
    [("setuptools", "0.7.2", "pkg_resources.py"), ("pip", "1.5.6", "pip/_vendor/pkg_resources.py")],
    ids=["setuptools-0.7.2", "pip-1.5.6"],
)
def test_module_era_sdist_gets_a_file_for_each_spot_it_has(
    tmp_path: Path, project: str, version: str, path: str
) -> None:
    """A 2013-2014 single-module copy: no zip manifest memo, so zip-manifest-load carries no file."""
    sdist = real_sdist(project, version)
    output = tmp_path / "export"
    run = cli(
        "export", "--for", f"{project}=={version}", "--layout", "sdist", "--output", str(output), "--json",
        "--find-links", str(SDISTS), "--no-index", "--cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    assert (run.code, run.err) == (0, ""), run.err
    handed = {p["patch"]: (p["status"], p["file"]) for p in run.json["export"]["patches"]}
    assert handed["zip-manifest-load"] == ("not-needed", None)
    assert run.json["export"]["path"] == path
    files = patch_files(output)
    assert [f.name for f in files] == [
        "0001-zip-manifest-build.patch",
        "0002-path-scan-listdir.patch",
        "0003-egg-link-read.patch",
        "0004-metadata-read.patch",
        "0005-metadata-entry-scan.patch",
        "0006-resolve-requires.patch",
    ]
    tree = unpack(sdist, tmp_path / "tree")
    for f in files:
        said = gnu_patch(tree, f, "-F0")
        assert "fuzz" not in said and "FAILED" not in said, said
    assert (tree / path).read_bytes() == applied_by_the_tool(sdist, tmp_path / "by-apply", path)
