"""``locate`` on eggs and wheels: zipped and directory eggs as easy_install laid them out, wheels lying in a tree."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ...conftest import (
    Venv,
    add_to_easy_install_pth,
    download,
    make_egg,
)
from ...lib.locating import (
    PIP_VENDORED,
    PKG,
    copy_entry,
    dist,
    locate,
    setuptools,
    sha_file,
    sha_member,
    vendor_txt_setuptools,
)


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
