"""``locate`` on real prefixes built from real upstream wheels (issue #2).

Every prefix here is made of real releases: wheels installed by real pip into real venvs, eggs
laid out from real wheels as easy_install did, wheels lying in a tree as ensurepip keeps them.
The expected values (owners, upstream releases, members, hashes) are computed independently of
the code under test: from the wheels themselves and from ``hashlib`` over the files on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..conftest import (
    Venv,
    VenvFactory,
    add_to_easy_install_pth,
    cli,
    download,
    json_output,
    make_egg,
    pyenv_python,
)

PKG = "pkg_resources/__init__.py"
PIP_VENDORED = "pip/_vendor/pkg_resources/__init__.py"

#: a one-line patch that fits every pkg_resources from 2014 to 2026 (each has exactly one
#: ``import zipfile`` line), so that ``state`` is computed by the real engine on every copy
MARKER = b"import zipfile  # pkgres-patcher test marker"
PATCH = """\
Description: test marker on the zipfile import
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
-import zipfile
+import zipfile  # pkgres-patcher test marker
"""


# --- helpers -------------------------------------------------------------------------------------


def write_patchset(directory: Path) -> Path:
    (directory / "marker").mkdir(parents=True)
    (directory / "series").write_text("marker/any.patch\n")
    (directory / "marker" / "any.patch").write_text(PATCH)
    return directory


@pytest.fixture
def patches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_patchset(tmp_path_factory.mktemp("patchset"))


def locate(patches: Path, *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    code, out, err = cli("locate", "--json", "--patches", str(patches), *argv)
    copies = json.loads(out)["copies"]
    for copy in copies:
        copy.pop("patches")  # the engine's plan: tested with the engine
    return code, copies, err


def keyed(copies: list[dict[str, Any]]) -> dict[tuple[str, str | None], dict[str, Any]]:
    result = {(c["file"], c["member"]): c for c in copies}
    assert len(result) == len(copies), f"a copy is listed twice: {copies}"
    return result


def sha_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sha_member(archive: Path, member: str) -> str:
    with zipfile.ZipFile(archive) as zf:
        return hashlib.sha256(zf.read(member)).hexdigest()


def dist(name: str, version: str) -> dict[str, str]:
    return {"name": name, "version": version}


def setuptools(version: str) -> dict[str, str]:
    return dist("setuptools", version)


def vendor_txt_setuptools(wheel: Path) -> str | None:
    """What a pip wheel's own ``_vendor/vendor.txt`` says, read without the code under test."""
    with zipfile.ZipFile(wheel) as zf:
        if "pip/_vendor/vendor.txt" not in zf.namelist():
            return None
        for line in zf.read("pip/_vendor/vendor.txt").decode().splitlines():
            if line.lower().startswith("setuptools=="):
                return line.split("==", 1)[1].split("#")[0].strip()
    return None


def copy_entry(
    file: Path,
    *,
    member: str | None = None,
    container: str = "directory",
    vendored_by: str | None = None,
    owner: dict[str, str] | None = None,
    upstream: dict[str, str] | None = None,
    sha256: str,
    state: str = "unpatched",
    conflicts: list[dict[str, str]] | None = None,
    via: Path | None = None,
) -> dict[str, Any]:
    return {
        "file": str(file),
        "member": member,
        "container": container,
        "vendored_by": vendored_by,
        "owner": owner,
        "upstream": upstream,
        "sha256": sha256,
        "state": state,
        "conflicts": conflicts or [],
        "bundled_by": None,
        "via": None if via is None else str(via),
        "manager": None,
    }


@pytest.fixture
def venv(tmp_path: Path) -> Venv:
    return Venv(tmp_path / "venv")


# --- real installs --------------------------------------------------------------------------------


def test_venv_with_setuptools_81_and_pip_26_3(venv: Venv, patches: Path) -> None:
    venv.install(download("setuptools", "81.0.0"), download("pip", "26.3"))
    # the files the scan must pass over really are there
    assert (venv.site / "pip/_internal/metadata/pkg_resources.py").is_file()
    assert (venv.site / "pkg_resources/tests/test_resources.py").is_file()

    code, copies, err = locate(patches, str(venv.root))

    assert (code, err) == (0, "")
    top, vendored = venv.site / PKG, venv.site / PIP_VENDORED
    assert copies == [
        copy_entry(
            vendored,
            vendored_by="pip",
            owner=dist("pip", "26.3"),
            upstream=setuptools("70.3.0"),
            sha256=sha_file(vendored),
        ),
        copy_entry(top, owner=setuptools("81.0.0"), upstream=setuptools("81.0.0"), sha256=sha_file(top)),
    ]
    assert vendor_txt_setuptools(download("pip", "26.3")) == "70.3.0"

    code, table, err = cli("locate", "--patches", str(patches), str(venv.root))
    assert (code, err) == (0, "")
    lines = table.splitlines()
    assert lines[0].split() == ["STATE", "CONTAINER", "OWNER", "UPSTREAM", "LOCATION"]
    assert lines[1].split() == ["unpatched", "directory", "pip", "26.3", "setuptools", "70.3.0", str(vendored)]
    assert lines[2].split() == ["unpatched", "directory", "setuptools", "81.0.0", "setuptools", "81.0.0", str(top)]
    assert lines[3:] == ["", "2 copies of pkg_resources: 2 unpatched"]


def test_state_is_read_from_the_copy(venv: Venv, patches: Path) -> None:
    venv.install(download("setuptools", "81.0.0"))
    top = venv.site / PKG
    text = top.read_bytes()
    top.write_bytes(text.replace(b"import zipfile\n", MARKER + b"\n", 1))
    code, copies, err = locate(patches, str(venv.site))
    assert (code, err) == (0, "")
    assert [(c["file"], c["state"], c["sha256"]) for c in copies] == [(str(top), "patched", sha_file(top))]

    top.write_bytes(text.replace(b"import zipfile\n", b"import zipfile as zf\n", 1))
    code, copies, err = locate(patches, str(venv.site))
    assert (code, err) == (0, "")
    assert [(c["file"], c["state"]) for c in copies] == [(str(top), "drifted")]


def test_backport_with_setuptools_without_pkg_resources(venv: Venv, patches: Path) -> None:
    st84 = download("setuptools", "84.0.0")
    with zipfile.ZipFile(st84) as zf:
        assert not [n for n in zf.namelist() if n.startswith("pkg_resources")]
    backport = download("pkg-resources-backport", "1.0.1")
    venv.install(st84, backport)

    code, copies, err = locate(patches, str(venv.root))

    assert (code, err) == (0, "")
    top = venv.site / PKG
    with zipfile.ZipFile(backport) as zf:
        assert hashlib.sha256(zf.read(PKG)).hexdigest() == sha_file(top)
    # the backport states no setuptools release: nothing is guessed
    assert copies == [
        copy_entry(top, owner=dist("pkg-resources-backport", "1.0.1"), upstream=None, sha256=sha_file(top))
    ]
    # its own test data (a zipped egg, an unpacked egg) is no copy
    assert (venv.site / "pkg_resources/tests/data/my-test-package_zipped-egg/my_test_package-1.0-py3.7.egg").is_file()


@pytest.mark.parametrize("last", ["backport", "setuptools"])
def test_backport_and_setuptools_81_conflict(venv: Venv, patches: Path, last: str) -> None:
    st81, backport = download("setuptools", "81.0.0"), download("pkg-resources-backport", "1.0.0")
    order = [st81, backport] if last == "backport" else [backport, st81]
    for wheel in order:  # two pip runs, as a user would: the second overwrites pkg_resources/
        venv.install(wheel)
    top = venv.site / PKG
    with zipfile.ZipFile(order[-1]) as zf:
        assert hashlib.sha256(zf.read(PKG)).hexdigest() == sha_file(top)

    code, copies, err = locate(patches, str(venv.site))

    if last == "backport":
        owner, upstream, other = dist("pkg-resources-backport", "1.0.0"), None, setuptools("81.0.0")
        other_text = "setuptools 81.0.0"
    else:
        owner, upstream, other = setuptools("81.0.0"), setuptools("81.0.0"), dist("pkg-resources-backport", "1.0.0")
        other_text = "pkg-resources-backport 1.0.0"
    assert copies == [copy_entry(top, owner=owner, upstream=upstream, sha256=sha_file(top), conflicts=[other])]
    assert err == f"pkgres-patcher: {top}: also installed by {other_text}\n"
    assert code == 0

    code, table, err = cli("locate", "--patches", str(patches), str(venv.site))
    assert f"(also: {other_text})" in table.splitlines()[1]
    assert err == f"pkgres-patcher: {top}: also installed by {other_text}\n"


# --- eggs and wheels ------------------------------------------------------------------------------


def test_zipped_and_directory_eggs_as_easy_install_left_them(venv: Venv, patches: Path) -> None:
    st_wheel, pip_wheel = download("setuptools", "24.0.2"), download("pip", "8.1.2")
    zipped = make_egg(st_wheel, venv.site, "2.7", zipped=True)
    unzipped = make_egg(pip_wheel, venv.site, "2.7", zipped=False)
    add_to_easy_install_pth(venv.site, zipped, unzipped)
    # the eggs are importable the way easy_install meant: through easy-install.pth
    assert zipped.name == "setuptools-24.0.2-py2.7.egg" and unzipped.name == "pip-8.1.2-py2.7.egg"
    path = venv.run("import sys; print('\\n'.join(sys.path))").stdout.splitlines()
    assert str(zipped) in path and str(unzipped) in path
    # pip 8.1.2 does not ship vendor.txt: its upstream comes from the table in locate.py
    assert vendor_txt_setuptools(pip_wheel) is None

    code, copies, err = locate(patches, str(venv.root))

    assert (code, err) == (0, "")
    dir_copy = unzipped / PIP_VENDORED
    assert copies == [
        copy_entry(
            dir_copy,
            container="egg-dir",
            vendored_by="pip",
            owner=dist("pip", "8.1.2"),
            upstream=setuptools("21.0.0"),
            sha256=sha_file(dir_copy),
        ),
        copy_entry(
            zipped,
            member=PKG,
            container="egg-zip",
            owner=setuptools("24.0.2"),
            upstream=setuptools("24.0.2"),
            sha256=sha_member(st_wheel, PKG),
        ),
    ]
    # read in place: the archive is the file named, not an extracted copy
    assert sha_member(zipped, PKG) == sha_member(st_wheel, PKG)


def test_egg_given_as_the_path(tmp_path: Path, patches: Path) -> None:
    egg = make_egg(download("setuptools", "24.0.2"), tmp_path, "2.7", zipped=True)
    code, copies, err = locate(patches, str(egg))
    assert (code, err) == (0, "")
    assert copies == [
        copy_entry(
            egg,
            member=PKG,
            container="egg-zip",
            owner=setuptools("24.0.2"),
            upstream=setuptools("24.0.2"),
            sha256=sha_member(egg, PKG),
        )
    ]


def test_wheels_lying_in_a_prefix(tmp_path: Path, patches: Path) -> None:
    bundled = tmp_path / "prefix/lib/python3.11/ensurepip/_bundled"
    bundled.mkdir(parents=True)
    new, old = download("pip", "26.3"), download("pip", "8.1.2")
    shutil.copy(new, bundled)
    shutil.copy(old, tmp_path / "prefix")
    st = download("setuptools", "81.0.0")
    shutil.copy(st, bundled)
    with zipfile.ZipFile(new) as zf:  # the wrappers that must not count are in the wheel
        assert "pip/_internal/metadata/pkg_resources.py" in zf.namelist()

    code, copies, err = locate(patches, str(tmp_path / "prefix"))

    assert (code, err) == (0, "")
    old_file, new_file, st_file = tmp_path / "prefix" / old.name, bundled / new.name, bundled / st.name
    assert copies == [
        copy_entry(
            new_file,
            member=PIP_VENDORED,
            container="wheel",
            vendored_by="pip",
            owner=dist("pip", "26.3"),
            upstream=setuptools("70.3.0"),
            sha256=sha_member(new, PIP_VENDORED),
        ),
        copy_entry(
            st_file,
            member=PKG,
            container="wheel",
            owner=setuptools("81.0.0"),
            upstream=setuptools("81.0.0"),
            sha256=sha_member(st, PKG),
        ),
        copy_entry(
            old_file,
            member=PIP_VENDORED,
            container="wheel",
            vendored_by="pip",
            owner=dist("pip", "8.1.2"),
            upstream=setuptools("21.0.0"),
            sha256=sha_member(old, PIP_VENDORED),
        ),
    ]


@pytest.mark.parametrize(
    ("pip_version", "setuptools_version"),
    # vendor.txt absent from these wheels; the values were read from each release's sdist
    # (pip/_vendor/README.rst up to 9.x, src/pip/_vendor/vendor.txt from 10.0)
    [
        ("6.0.8", "11.0"),
        ("7.1.2", "18.2"),
        ("9.0.1", "28.8.0"),
        ("10.0.1", "39.0.1"),
        ("19.2.3", "41.0.1"),
        ("20.0.2", "44.0.0"),
    ],
)
def test_pip_wheels_without_vendor_txt(
    tmp_path: Path, patches: Path, pip_version: str, setuptools_version: str
) -> None:
    wheel = download("pip", pip_version)
    assert vendor_txt_setuptools(wheel) is None
    code, copies, err = locate(patches, str(wheel))
    assert (code, err) == (0, "")
    assert [(c["member"], c["owner"], c["upstream"]) for c in copies] == [
        (PIP_VENDORED, dist("pip", pip_version), setuptools(setuptools_version))
    ]


def test_single_module_copies(venv: Venv, tmp_path: Path, patches: Path) -> None:
    """setuptools up to 8.2.1 shipped ``pkg_resources.py``; pip 1.5.1 to 6.0.3 vendored it as one
    module. Its byte-code beside it (legacy ``.pyc``, ``__pycache__``) is no other copy; an egg of
    byte-code only is one, ``unpatchable``."""
    st7, pip156, pip60 = download("setuptools", "7.0"), download("pip", "1.5.6"), download("pip", "6.0")
    venv.install(st7, pip156)
    shutil.copy(pip60, venv.root)
    zipped = make_egg(st7, tmp_path, "2.7", zipped=True)
    eggs = tmp_path / "eggs"
    eggs.mkdir()
    directory = make_egg(pip60, eggs, "2.7", zipped=False)
    byte_code_only = make_egg(st7, eggs, "3.11", zipped=True, only=lambda name: name != "pkg_resources.py")
    with zipfile.ZipFile(byte_code_only, "a") as zf:
        zf.writestr("pkg_resources.pyc", b"\x03\xf3\r\n" + bytes(4))  # a Python 2.7 header
    module, vendored = venv.site / "pkg_resources.py", venv.site / "pip/_vendor/pkg_resources.py"
    for source in (module, vendored, directory / "pip/_vendor/pkg_resources.py"):
        for options in (["-b"], []):  # the legacy .pyc beside it, and __pycache__
            subprocess.run([sys.executable, "-m", "compileall", "-q", *options, str(source)], check=True)

    code, copies, err = locate(patches, str(venv.root), str(zipped), str(eggs))

    assert (code, err) == (0, "")
    assert copies == [
        copy_entry(
            directory / "pip/_vendor/pkg_resources.py",
            container="egg-dir",
            vendored_by="pip",
            owner=dist("pip", "6.0"),
            upstream=setuptools("8.2.1"),
            sha256=sha_member(pip60, "pip/_vendor/pkg_resources.py"),
        ),
        copy_entry(
            byte_code_only,
            member="pkg_resources.pyc",
            container="egg-zip",
            owner=setuptools("7.0"),
            upstream=setuptools("7.0"),
            sha256=sha_member(byte_code_only, "pkg_resources.pyc"),
            state="unpatchable",
        ),
        copy_entry(
            zipped,
            member="pkg_resources.py",
            container="egg-zip",
            owner=setuptools("7.0"),
            upstream=setuptools("7.0"),
            sha256=sha_member(st7, "pkg_resources.py"),
        ),
        # pip 1.5.x names no source for its copy: upstream stays unknown
        copy_entry(vendored, vendored_by="pip", owner=dist("pip", "1.5.6"), upstream=None, sha256=sha_file(vendored)),
        copy_entry(module, owner=setuptools("7.0"), upstream=setuptools("7.0"), sha256=sha_file(module)),
        copy_entry(
            venv.root / pip60.name,
            member="pip/_vendor/pkg_resources.py",
            container="wheel",
            vendored_by="pip",
            owner=dist("pip", "6.0"),
            upstream=setuptools("8.2.1"),
            sha256=sha_member(pip60, "pip/_vendor/pkg_resources.py"),
        ),
    ]


# --- what is not a copy ---------------------------------------------------------------------------


def test_wrappers_and_test_trees_are_not_copies(venv: Venv, tmp_path: Path, patches: Path) -> None:
    pip211 = download("pip", "21.1")
    with zipfile.ZipFile(pip211) as zf:
        names = zf.namelist()
    assert "pip/_internal/utils/pkg_resources.py" in names and "pip/_internal/metadata/pkg_resources.py" in names
    venv.install(pip211, download("setuptools", "81.0.0"))
    tests_dir = venv.site / "pkg_resources/tests"
    assert (tests_dir / "__init__.py").is_file()
    # test data below pkg_resources/tests: a module and a package named like a copy, in
    # directories that are not packages, as test fixtures are laid out
    fixture = tests_dir / "data/fixture-tree"
    (fixture / "pkg_resources").mkdir(parents=True)
    shutil.copy(venv.site / PKG, fixture / "pkg_resources/__init__.py")
    shutil.copy(venv.site / PKG, fixture / "pkg_resources.py")
    (fixture / "pip/_vendor/pkg_resources").mkdir(parents=True)
    for d in ("pip", "pip/_vendor"):
        (fixture / d / "__init__.py").write_text("")
    shutil.copy(venv.site / PKG, fixture / "pip/_vendor/pkg_resources/__init__.py")

    code, copies, err = locate(patches, str(venv.root))

    assert (code, err) == (0, "")
    assert [(c["file"], c["owner"]) for c in copies] == [
        (str(venv.site / PIP_VENDORED), dist("pip", "21.1")),
        (str(venv.site / PKG), setuptools("81.0.0")),
    ]


def test_pycache_is_not_descended(tmp_path: Path, patches: Path) -> None:
    st = download("setuptools", "24.0.2")
    site = tmp_path / "site"
    cache = site / "__pycache__"
    (cache / "pkg_resources").mkdir(parents=True)
    with zipfile.ZipFile(st) as zf:
        text = zf.read(PKG)
    (cache / "pkg_resources/__init__.py").write_bytes(text)
    (cache / "pkg_resources.py").write_bytes(text)
    make_egg(st, cache, "2.7", zipped=True)
    shutil.copy(st, cache)
    (site / "pkg_resources").mkdir()
    (site / PKG).write_bytes(text)
    nested = site / "pkg_resources/__pycache__"
    nested.mkdir()
    (nested / "__init__.py").write_bytes(text)

    code, copies, err = locate(patches, str(site))

    assert (code, err) == (0, "")
    assert [c["file"] for c in copies] == [str(site / PKG)]


# --- other interpreters ---------------------------------------------------------------------------


def test_python27_sys_path_after_site_processing(
    tmp_path: Path, patches: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python27 = pyenv_python("2.7")
    if python27 is None:
        pytest.skip("pyenv has no Python 2.7.x: cannot ask a 2.7 interpreter for its sys.path")
    # Eggs kept outside every directory that is on sys.path, reachable only through a .pth
    # file in the user site directory: only an interpreter that processed its site directories
    # has them on sys.path.
    eggs = tmp_path / "eggs"
    eggs.mkdir()
    zipped = make_egg(download("setuptools", "24.0.2"), eggs, "2.7", zipped=True)
    unzipped = make_egg(download("pip", "8.1.2"), eggs, "2.7", zipped=False)
    userbase = tmp_path / "userbase"
    user_site = userbase / "lib/python2.7/site-packages"
    user_site.mkdir(parents=True)
    (user_site / "eggs.pth").write_text(f"{zipped}\n{unzipped}\n")
    monkeypatch.setenv("PYTHONUSERBASE", str(userbase))
    probe = subprocess.run(
        [python27, "-c", "import sys; print(sys.version_info[:2]); print('\\n'.join(sys.path))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert probe[0] == "(2, 7)"
    assert str(zipped) in probe and str(unzipped) in probe
    # without site processing (-S) the eggs are not there: the scan must use the processed path
    bare = subprocess.run(
        [python27, "-S", "-c", "import sys; print('\\n'.join(sys.path))"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert str(zipped) not in bare

    code, copies, err = locate(patches, "--python", python27)

    assert code == 0, err
    found = keyed(copies)
    ours = {k: v for k, v in found.items() if k[0].startswith(str(tmp_path))}
    dir_copy = unzipped / PIP_VENDORED
    assert ours == {
        (str(dir_copy), None): copy_entry(
            dir_copy,
            container="egg-dir",
            vendored_by="pip",
            owner=dist("pip", "8.1.2"),
            upstream=setuptools("21.0.0"),
            sha256=sha_file(dir_copy),
        ),
        (str(zipped), PKG): copy_entry(
            zipped,
            member=PKG,
            container="egg-zip",
            owner=setuptools("24.0.2"),
            upstream=setuptools("24.0.2"),
            sha256=sha_member(zipped, PKG),
        ),
    }
    # and the rest is the 2.7 installation's own copies, each under an entry of its sys.path
    entries = [e for e in probe[1:] if e]
    for file, _member in found:
        assert any(file == e or file.startswith(e.rstrip("/") + "/") for e in entries), file


def test_python3_venv_through_python_option(venv: Venv, patches: Path) -> None:
    venv.install(download("setuptools", "81.0.0"))
    code, copies, err = locate(patches, "--python", venv.python)
    assert code == 0, err
    files = [c["file"] for c in copies]
    assert str(venv.site / PKG) in files
    path = venv.run("import sys; print('\\n'.join(sys.path))").stdout.splitlines()
    for file in files:
        assert any(file.startswith(e.rstrip("/") + "/") for e in path if e), file


def test_no_arguments_scans_the_running_interpreter(tmp_path: Path, patches: Path) -> None:
    """``python -m patcher locate`` from a venv: the copies of that venv's sys.path."""
    venv = Venv(tmp_path / "venv")
    venv.install(download("setuptools", "81.0.0"), download("pip", "26.3"))
    # the tool itself and its dependencies, without any copy of pkg_resources beside them
    deps = tmp_path / "deps"
    deps.mkdir()
    import packaging
    import unidiff

    import patcher

    for module in (patcher, packaging, unidiff):
        os.symlink(os.path.dirname(module.__file__ or ""), deps / module.__name__)
    (venv.site / "tool.pth").write_text(f"{deps}\n")
    egg = make_egg(download("setuptools", "24.0.2"), tmp_path, "2.7", zipped=True)
    (venv.site / "egg.pth").write_text(f"{egg}\n")

    proc = subprocess.run(
        [venv.python, "-m", "patcher", "locate", "--json", "--patches", str(patches)],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        check=False,
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    copies = keyed(json_output(proc.stdout)["copies"])
    top, vendored = venv.site / PKG, venv.site / PIP_VENDORED
    assert copies[(str(top), None)]["owner"] == setuptools("81.0.0")
    assert copies[(str(top), None)]["sha256"] == sha_file(top)
    assert copies[(str(vendored), None)]["upstream"] == setuptools("70.3.0")
    assert copies[(str(egg), PKG)]["container"] == "egg-zip"  # added to sys.path by a .pth file
    path = [e for e in venv.run("import sys; print('\\n'.join(sys.path))").stdout.splitlines() if e]
    for file, _member in copies:
        assert any(file == e or file.startswith(e.rstrip("/") + "/") for e in path), file
    # a directory on sys.path is scanned, a site directory below it that is not is left alone:
    # the base interpreter's own site-packages (below its stdlib directory) is not this venv's
    base_site = Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    assert not [f for f, _m in copies if f.startswith(str(base_site) + "/")]


# --- what a scan survives -------------------------------------------------------------------------


def test_truncated_egg_is_named_and_the_scan_goes_on(venv: Venv, patches: Path) -> None:
    venv.install(download("setuptools", "81.0.0"))
    egg = make_egg(download("setuptools", "24.0.2"), venv.site, "2.7", zipped=True)
    data = egg.read_bytes()
    egg.write_bytes(data[: len(data) // 2])
    add_to_easy_install_pth(venv.site, egg)

    code, copies, err = locate(patches, str(venv.root))

    assert code == 1
    assert err == f"pkgres-patcher: {egg}: not a valid zip archive (File is not a zip file)\n"
    assert [(c["file"], c["member"]) for c in copies] == [(str(venv.site / PKG), None)]


def test_wheel_with_a_corrupt_member_is_named(tmp_path: Path, patches: Path) -> None:
    wheel = tmp_path / "pip-26.3-py3-none-any.whl"
    shutil.copy(download("pip", "26.3"), wheel)
    with zipfile.ZipFile(wheel) as zf:
        info = zf.getinfo(PIP_VENDORED)
    raw = bytearray(wheel.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start, start + 64):  # damage the compressed bytes of the copy itself
        raw[i] ^= 0xFF
    wheel.write_bytes(bytes(raw))

    code, copies, err = locate(patches, str(tmp_path))

    assert code == 1
    assert copies == []
    assert err == (
        f"pkgres-patcher: {wheel}: damaged compressed data "
        "(Error -3 while decompressing data: invalid distance too far back)\n"
    )


def _deep_dir(root: Path) -> str:
    """A directory whose path is longer than PATH_MAX: unreadable by path, even for root."""
    fd = os.open(root, os.O_RDONLY)
    try:
        component = "d" * 200
        for _ in range(25):
            os.mkdir(component, dir_fd=fd)
            new = os.open(component, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = new
        os.mkdir("pkg_resources", dir_fd=fd)
    finally:
        os.close(fd)
    return os.path.join(str(root), *(["d" * 200] * 25))


def test_unreadable_directory_even_as_root(venv: Venv, patches: Path) -> None:
    venv.install(download("setuptools", "81.0.0"))
    root = venv.root / "deep"
    root.mkdir()
    deep = _deep_dir(root)
    with pytest.raises(OSError):
        os.listdir(deep)

    code, copies, err = locate(patches, str(venv.root))

    assert code == 1
    assert [c["file"] for c in copies] == [str(venv.site / PKG)]
    lines = err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"pkgres-patcher: {root}/{'d' * 200}/")
    assert lines[0].endswith(": File name too long")


def _unprivileged() -> list[str] | None:
    """A command prefix that runs a program without root's power over file permissions."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "nobody", "--"]
    return None


@pytest.fixture
def public_tmp() -> Iterator[Path]:
    """A temporary directory that an unprivileged user can walk (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="pkgres-locate-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for dirpath, dirnames, _files in os.walk(path):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o755)
        shutil.rmtree(path)


def test_unreadable_directory_chmod_000(public_tmp: Path) -> None:
    prefix = _unprivileged()
    if prefix is None:
        pytest.skip("running as root without setpriv or runuser: permissions cannot be made to bite")
    st = download("setuptools", "24.0.2")
    tree = public_tmp / "tree"
    (tree / "pkg_resources").mkdir(parents=True)
    with zipfile.ZipFile(st) as zf:
        (tree / PKG).write_bytes(zf.read(PKG))
    locked = tree / "locked"
    (locked / "pkg_resources").mkdir(parents=True)
    (locked / PKG).write_bytes(b"import zipfile\n")
    locked.chmod(0)
    patches = write_patchset(public_tmp / "patches")
    for p in (public_tmp, tree, tree / "pkg_resources", patches, patches / "marker"):
        p.chmod(0o755)
    for p in (tree / PKG, patches / "series", patches / "marker/any.patch"):
        p.chmod(0o644)
    runs = subprocess.run(
        [*prefix, sys.executable, "-c", "import patcher"], capture_output=True, text=True, check=False
    )
    if runs.returncode != 0:
        pytest.skip(f"the unprivileged user cannot run this interpreter: {runs.stderr.strip()[-200:]}")
    check = subprocess.run(
        [*prefix, sys.executable, "-c", f"import os; os.listdir({str(locked)!r})"],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode == 0:
        pytest.skip("the unprivileged user can still read a mode-000 directory here")

    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "patcher", "locate", "--json", "--patches", str(patches), str(tree)],
        capture_output=True,
        text=True,
        cwd="/",
        check=False,
    )

    assert proc.returncode == 1
    assert proc.stderr == f"pkgres-patcher: {locked}: Permission denied\n"
    assert [c["file"] for c in json_output(proc.stdout)["copies"]] == [str(tree / PKG)]


def test_symlink_loops_terminate_and_list_each_copy_once(venv: Venv, patches: Path) -> None:
    venv.install(download("setuptools", "81.0.0"), download("pip", "26.3"))
    (venv.site / "pip/_vendor/loop").symlink_to(venv.root)  # points to an ancestor
    (venv.site / "self").symlink_to(".")
    other = venv.root / "elsewhere"
    other.mkdir()
    (other / "back").symlink_to(venv.site)
    (venv.site / "to-elsewhere").symlink_to(other)

    code, copies, err = locate(patches, str(venv.root))

    assert (code, err) == (0, "")
    assert [c["file"] for c in copies] == [str(venv.site / PIP_VENDORED), str(venv.site / PKG)]


def test_copies_reached_only_through_a_symlink_are_found_where_they_live(tmp_path: Path, patches: Path) -> None:
    real = tmp_path / "real"
    (real / "pkg_resources").mkdir(parents=True)
    with zipfile.ZipFile(download("setuptools", "24.0.2")) as zf:
        (real / PKG).write_bytes(zf.read(PKG))
    scanned = tmp_path / "scanned"
    scanned.mkdir()
    (scanned / "link").symlink_to(real)
    code, copies, err = locate(patches, str(scanned))
    assert (code, err) == (0, "")
    assert [(c["file"], c["via"]) for c in copies] == [(str(real / PKG), str(scanned / "link" / PKG))]


def test_non_utf8_names(venv: Venv, patches: Path) -> None:
    venv.install(download("setuptools", "81.0.0"))
    site = os.fsencode(venv.site)
    odd = site + b"/caf\xe9-\xff"
    os.mkdir(odd)
    os.mkdir(odd + b"/pkg_resources")
    shutil.copy(venv.site / PKG, os.fsdecode(odd + b"/pkg_resources/__init__.py"))
    open(site + b"/stray-\xfe.py", "wb").close()
    egg = make_egg(download("setuptools", "24.0.2"), venv.root, "2.7", zipped=True)
    os.rename(os.fsencode(egg), os.fsencode(venv.root) + b"/weird-\xe9.egg")

    code, copies, err = locate(patches, str(venv.root))

    assert (code, err) == (0, "")
    shown_dir = f"{venv.site}/caf\\xe9-\\xff"
    shown_egg = f"{venv.root}/weird-\\xe9.egg"
    assert [(c["file"], c["member"], c["owner"]) for c in copies] == [
        (f"{shown_dir}/{PKG}", None, None),
        (str(venv.site / PKG), None, setuptools("81.0.0")),
        (shown_egg, PKG, setuptools("24.0.2")),
    ]
    assert copies[0]["sha256"] == sha_file(venv.site / PKG)

    code, table, err = cli("locate", "--patches", str(patches), str(venv.root))
    assert (code, err) == (0, "")
    table.encode("ascii")  # printable on any terminal
    assert table.splitlines()[1].endswith(f"{shown_dir}/{PKG}")
    assert table.splitlines()[3].endswith(f"{shown_egg}!{PKG}")


def test_dangling_symlinks_and_broken_egg_links(venv: Venv, patches: Path) -> None:
    venv.install(download("setuptools", "81.0.0"))
    (venv.site / "gone.egg").symlink_to(venv.root / "no-such.egg")
    (venv.site / "gone.whl").symlink_to(venv.root / "no-such.whl")
    (venv.site / "gone-dir").symlink_to(venv.root / "no-such-dir")
    (venv.site / "pkg_resources.py").symlink_to(venv.root / "no-such.py")
    (venv.site / "dangling-pkg").mkdir()
    (venv.site / "dangling-pkg/pkg_resources").mkdir()
    (venv.site / "dangling-pkg" / PKG).symlink_to(venv.root / "nothing.py")

    code, copies, err = locate(patches, str(venv.root))

    assert (code, err) == (0, "")
    assert [c["file"] for c in copies] == [str(venv.site / PKG)]


VANISH_DRIVER = textwrap.dedent(
    r"""
    import os, shutil, sys
    from patcher.cli import main
    targets = {os.path.abspath(p): kind for p, kind in zip(sys.argv[3::2], sys.argv[4::2])}
    fired = set()

    def hook(event, args):
        if event not in ("open", "os.scandir") or not args or not isinstance(args[0], str):
            return
        path = os.path.abspath(args[0])
        if path in targets and path not in fired and targets[path] == event:
            fired.add(path)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)

    sys.addaudithook(hook)
    code = main(["locate", "--json", "--jobs", os.environ.get("JOBS", "1"), "--patches", sys.argv[1], sys.argv[2]])
    sys.stderr.write("fired %d\n" % len(fired))  # in this process: forked children fire their own
    sys.exit(code)
    """
)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_files_vanishing_during_the_scan(venv: Venv, tmp_path: Path, patches: Path, jobs: str) -> None:
    """Right before the scan opens them, a copy, an egg and a whole directory are deleted
    (with two jobs, in a tree large enough for its walk to be shared)."""
    venv.install(download("setuptools", "81.0.0"), download("pip", "26.3"))
    egg = make_egg(download("setuptools", "24.0.2"), venv.site, "2.7", zipped=True)
    wheel = venv.root / "pip-8.1.2-py2.py3-none-any.whl"
    shutil.copy(download("pip", "8.1.2"), wheel)
    vanishing_dir = venv.root / "staging"
    (vanishing_dir / "pkg_resources").mkdir(parents=True)
    shutil.copy(venv.site / PKG, vanishing_dir / PKG)
    if jobs != "1":
        for n in range(300):
            (venv.root / "many" / f"d{n // 20}" / f"e{n}").mkdir(parents=True)
    driver = tmp_path / "driver.py"
    driver.write_text(VANISH_DRIVER)

    proc = subprocess.run(
        [
            sys.executable,
            str(driver),
            str(patches),
            str(venv.root),
            str(venv.site / PIP_VENDORED),
            "open",
            str(egg),
            "open",
            str(vanishing_dir),
            "os.scandir",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "JOBS": jobs},
    )

    if jobs == "1":
        assert proc.stderr == "fired 3\n"
    else:
        assert proc.stderr in {f"fired {n}\n" for n in range(4)}, proc.stderr
    assert proc.returncode == 0
    assert not egg.exists() and not vanishing_dir.exists() and not (venv.site / PIP_VENDORED).exists()
    assert [(c["file"], c["member"]) for c in json_output(proc.stdout)["copies"]] == [
        (str(venv.site / PKG), None),
        (str(wheel), PIP_VENDORED),
    ]


# --- the command line -----------------------------------------------------------------------------


def console_command() -> list[str]:
    script = Path(sys.executable).parent / "pkgres-patcher"
    return [str(script)] if script.exists() else [sys.executable, "-m", "patcher"]


def console(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*console_command(), *argv], capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["locate", "--bogus"], "pkgres-patcher locate: unrecognized arguments: --bogus"),
        ([], "pkgres-patcher: the following arguments are required: COMMAND"),
        (["locate", "--python"], "pkgres-patcher locate: argument --python: expected one argument"),
        (
            ["locate", "--python-timeout", "0"],
            "pkgres-patcher locate: argument --python-timeout: must be a number of seconds more than 0, got 0",
        ),
        (
            ["apply", "--python-timeout", "soon"],
            "pkgres-patcher apply: argument --python-timeout: not a number of seconds: 'soon'",
        ),
        (
            ["pip", "--python-timeout", "inf"],
            "pkgres-patcher pip: argument --python-timeout: must be a number of seconds more than 0, got inf",
        ),
        (["locate", "--fuzz=1"], "pkgres-patcher locate: unrecognized arguments: --fuzz=1"),
        (["find"], "pkgres-patcher: argument COMMAND: invalid choice: 'find' (choose from "),
    ],
)
def test_usage_errors(argv: list[str], message: str) -> None:
    proc = console(*argv)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[-1] == message if not message.endswith(" ") else lines[-1].startswith(message)
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("usage: pkgres-patcher locate " if argv[:1] == ["locate"] else "usage: pkgres-patcher [")
    assert all(line.startswith(" ") for line in lines[1:-1])  # the usage, wrapped, then the one line


def test_python_that_does_not_exist(tmp_path: Path, patches: Path) -> None:
    missing = tmp_path / "no" / "python"
    proc = console("locate", "--patches", str(patches), "--python", str(missing))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == f"pkgres-patcher: {missing}: cannot run (No such file or directory)\n"


def script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_python_that_is_not_python(tmp_path: Path, venv_factory: VenvFactory, patches: Path) -> None:
    fake = script(tmp_path / "python", "#!/bin/sh\necho 'not python' >&2\nexit 3\n")
    proc = console("locate", "--patches", str(patches), "--python", str(fake))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"pkgres-patcher: {fake}: not a Python interpreter (exited with status 3: not python)\n"
    # a real interpreter whose site processing ends it (a .pth line that exits) is a Python (it
    # runs code without its site): its failure is said as it is
    venv = venv_factory()
    (venv.site / "exits.pth").write_text("import os; os._exit(7)\n")
    proc = console("locate", "--patches", str(patches), "--python", venv.python)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"pkgres-patcher: {venv.python}: exited with status 7 (no output)\n"


@pytest.mark.parametrize(
    ("program", "reason"),
    [
        # ls takes the probe's code for a file name: the code is not repeated back to the user
        ("/bin/ls", "exited with status 2"),
        ("/bin/echo", "printed something other than JSON"),
        ("/bin/true", "printed nothing"),
    ],
)
@pytest.mark.parametrize("command", ["locate", "apply", "pip"])
def test_a_program_that_is_not_python_is_named_in_one_line(
    tmp_path: Path, patches: Path, program: str, reason: str, command: str
) -> None:
    argv = ["--patches", str(patches)] if command != "pip" else []
    proc = console(command, *argv, "--python", program, *(["--", "list"] if command == "pip" else []))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"pkgres-patcher: {program}: not a Python interpreter ({reason})\n"


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie no reaper collected is dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def ended(pids: list[int], within: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + within
    while any(alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def pids_in(path: Path) -> list[int]:
    import time

    deadline = time.monotonic() + 10
    while not path.exists() or len(path.read_text().split()) < 2:
        assert time.monotonic() < deadline, f"{path} was not written"
        time.sleep(0.05)
    return [int(pid) for pid in path.read_text().split()]


@pytest.mark.parametrize("command", ["locate", "apply", "revert", "verify", "pip"])
def test_a_python_that_never_answers_is_ended_with_what_it_started(tmp_path: Path, patches: Path, command: str) -> None:
    """A program that never answers (it waits on a child of its own, which waits forever): the
    wait is bounded by --python-timeout, one line says so, both processes are ended."""
    record = tmp_path / "pids"
    hang = script(tmp_path / "python", f"#!/bin/sh\nsleep 1000 &\necho $$ $! > {record}\nwait\n")
    argv = ["--patches", str(patches)] if command != "pip" else []
    after = ["--", "list"] if command == "pip" else []
    proc = subprocess.run(
        [*console_command(), command, *argv, "--python", str(hang), "--python-timeout", "1.5", *after],
        capture_output=True,
        text=True,
        timeout=50,  # the default timeout is 60 seconds: not waited for
    )
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (
        f"pkgres-patcher: {hang}: did not answer within 1.5 seconds, ended (--python-timeout SECONDS waits longer)\n"
    )
    assert ended(pids_in(record))


def test_a_real_python_hanging_in_its_site_is_ended(venv_factory: VenvFactory, patches: Path, tmp_path: Path) -> None:
    """A real interpreter that hangs while processing its site (a ``.pth`` line that sleeps)."""
    venv = venv_factory()
    record = tmp_path / "pid"
    line = f"import os, time; open({str(record)!r}, 'w').write('%d 0' % os.getpid()); time.sleep(1000)\n"
    (venv.site / "hangs.pth").write_text(line)
    code, out, err = cli("locate", "--patches", str(patches), "--python", venv.python, "--python-timeout", "1")
    assert (code, out) == (1, "")
    assert (
        err
        == f"pkgres-patcher: {venv.python}: did not answer within 1 second, ended (--python-timeout SECONDS waits longer)\n"
    )
    assert ended(pids_in(record)[:1])


def test_a_named_path_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-prefix"
    code, out, err = cli("locate", str(missing))
    assert code == 1
    assert err == f"pkgres-patcher: {missing}: No such file or directory\n"
    assert out == "no copy of pkg_resources found\n"


# --- a walk shared between processes (--jobs) ------------------------------------------------------


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
    _deep_dir(prefix / "synthetic" / "group3")
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
