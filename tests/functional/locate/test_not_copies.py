"""What ``locate`` does not take for a copy: test code inside upstream packages, pip's wrapper modules."""

import shutil
import zipfile
from pathlib import Path

from ...conftest import (
    Venv,
    download,
    make_egg,
)
from ...lib.locating import (
    PIP_VENDORED,
    PKG,
    dist,
    locate,
    setuptools,
)


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
