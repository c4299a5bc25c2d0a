"""``locate`` on real installs: venvs and prefixes made by real pip from real upstream wheels."""

import hashlib
import zipfile
from pathlib import Path

import pytest

from ...conftest import (
    Venv,
    cli,
    download,
)
from ...lib.locating import (
    MARKER,
    PIP_VENDORED,
    PKG,
    copy_entry,
    dist,
    locate,
    setuptools,
    sha_file,
    vendor_txt_setuptools,
)


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
