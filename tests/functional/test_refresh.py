"""``refresh``: a made-up future release breaks a variant; a new variant is derived and fits it."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from patcher.engine.patchset import load_patchset

from ..conftest import VenvFactory, cli, download, make_patchset, remake_wheel, snapshot
from ..lib.runs import offline

ROOT = Path(__file__).resolve().parents[2]

#: setuptools 99.0.0: 40 lines more at the top, and the line just before the patched one rewritten
MOVE = b"# moved\n" * 40
OLD_LINE = b"        path = os.path.normpath(path)\n"
NEW_LINE = b"        path = os.path.normpath(os.fspath(path))\n"


@pytest.fixture
def future(tmp_path: Path) -> Path:
    links = tmp_path / "links"
    links.mkdir()
    remake_wheel(
        download("setuptools", "61.0.0"), links, "99.0.0", lambda text: MOVE + text.replace(OLD_LINE, NEW_LINE)
    )
    return links


def test_refresh_writes_a_variant_that_then_applies_clean(future: Path, tmp_path: Path) -> None:
    patches = make_patchset(tmp_path / "patches")
    opts = offline(future, tmp_path / "cache", patches)
    code, out, _ = cli("drift", "setuptools==99.0.0", "--format", "json", *opts)
    assert code == 1
    assert json.loads(out)["results"][0]["status"] == "fails"

    code, out, err = cli("refresh", "zip-manifest-load", "--for", "setuptools==99.0.0", *opts)
    assert (code, err) == (0, "")
    new = patches / "zip-manifest-load" / "setuptools-99.0.0.patch"
    assert out == (
        f"wrote {new}: zip-manifest-load/setuptools-99.0.0 (from zip-manifest-load/modern with fuzz 3)\n"
        "setuptools 99.0.0 pkg_resources/__init__.py: offset (find-eggs-in-zip: offset +46)\n"
    )
    assert (patches / "series").read_text() == (
        "zip-manifest-load/setuptools-99.0.0.patch\nzip-manifest-load/modern.patch\nfind-eggs-in-zip/modern.patch\n"
    )
    text = new.read_text()
    header, diff = text.split("\n---\n", 1)
    assert f"Last-Update: {datetime.date.today().isoformat()}" in header
    assert "Upstream-Releases: setuptools>=99.0.0" in header
    assert "Description: treat a zip that vanished while its manifest is loaded as empty" in header
    assert diff.startswith("--- a/__init__.py\n+++ b/__init__.py\n@@ -1731,7 +1731,10 @@\n")
    assert "         path = os.path.normpath(os.fspath(path))\n" in diff  # fresh context from the release
    variant = next(v for v in load_patchset(str(patches)).variants if v.name == "setuptools-99.0.0")
    assert [str(r) for r in variant.ranges] == ["setuptools>=99.0.0"]

    code, out, _ = cli("drift", "setuptools==99.0.0", "--format", "json", *opts)
    assert code == 0
    (result,) = json.loads(out)["results"]
    assert result["patches"][0] == {
        "patch": "zip-manifest-load",
        "status": "clean",
        "variant": "zip-manifest-load/setuptools-99.0.0",
        "offsets": [0],
        "fuzz": 0,
        "detail": None,
    }
    # the older releases still pick the variant they picked before
    code, out, _ = cli(
        "drift",
        "setuptools==60.0.0",
        "--format",
        "json",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--patches",
        str(patches),
    )
    assert json.loads(out)["results"][0]["variant"]["zip-manifest-load"] == "zip-manifest-load/modern"


def test_refresh_never_writes_over_an_existing_variant(future: Path, tmp_path: Path) -> None:
    patches = make_patchset(tmp_path / "patches")
    new = patches / "zip-manifest-load" / "setuptools-99.0.0.patch"
    new.write_text("work in progress, not yet in series\n")
    series = (patches / "series").read_text()
    code, out, err = cli(
        "refresh", "zip-manifest-load", "--for", "setuptools==99.0.0", *offline(future, tmp_path / "cache", patches)
    )
    assert (code, out) == (1, "")
    assert (
        err
        == f"pkgres-patcher: {new}: variant zip-manifest-load/setuptools-99.0.0 already exists; not overwriting it\n"
    )
    assert ((patches / "series").read_text(), new.read_text()) == (series, "work in progress, not yet in series\n")
    assert sorted(p.name for p in new.parent.iterdir()) == ["modern.patch", "setuptools-99.0.0.patch"]


def test_refresh_refuses_when_the_variant_already_fits(tmp_path: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    shutil.copy(download("setuptools", "60.0.0"), links)
    patches = make_patchset(tmp_path / "patches")
    code, out, err = cli(
        "refresh", "zip-manifest-load", "--for", "setuptools==60.0.0", *offline(links, tmp_path / "cache", patches)
    )
    assert (code, out) == (1, "")
    assert err == (
        "pkgres-patcher: zip-manifest-load: zip-manifest-load/modern already fits setuptools 60.0.0 cleanly; "
        "nothing to refresh\n"
    )


def test_refresh_unknown_patch_and_unfetchable_release(future: Path, tmp_path: Path) -> None:
    patches = make_patchset(tmp_path / "patches")
    opts = offline(future, tmp_path / "cache", patches)
    code, _, err = cli("refresh", "nope", "--for", "setuptools==99.0.0", *opts)
    assert code == 1
    assert (
        err
        == f"pkgres-patcher: {patches}/series: no patch named 'nope' (patches: zip-manifest-load, find-eggs-in-zip)\n"
    )
    code, _, err = cli("refresh", "zip-manifest-load", "--for", "setuptools==98.0.0", *opts)
    assert code == 3
    assert err == "pkgres-patcher: cannot fetch setuptools==98.0.0: no release found through pip\n"
    code, _, err = cli("refresh", "zip-manifest-load", *opts)
    assert code == 2
    assert err.splitlines()[-1] == "pkgres-patcher refresh: the following arguments are required: --for"


def test_refresh_of_an_installed_package_needs_a_patch_set_to_write_to(
    future: Path, tmp_path: Path, venv_factory: VenvFactory
) -> None:
    """Installed (not from a checkout), the shipped patch set lies in site-packages: refresh
    would write outside the package's RECORD, lost on reinstall. It refuses, changing nothing."""
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"),
    )
    env = venv_factory()
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", env.python, "install", "--quiet", str(source)],
        check=True,
        capture_output=True,
    )
    shipped = env.site / "patcher" / "patches"
    assert (shipped / "series").is_file()
    before = snapshot(shipped)
    tool = str(env.root / "bin" / "pkgres-patcher")
    argv = [tool, "refresh", "zip-manifest-load", "--for", "setuptools==99.0.0", "--no-index"]
    argv += ["--find-links", str(future), "--cache-dir", str(tmp_path / "cache")]
    run = subprocess.run(argv, capture_output=True, text=True, cwd=str(tmp_path))
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr.splitlines()[-1].endswith(
        f"--patches: refresh writes a new variant into the patch set; the one shipped in {shipped} "
        "is part of the installed package (outside its RECORD, lost on reinstall): pass --patches DIR with a "
        "checkout's patch set"
    )
    assert snapshot(shipped) == before
    # from a checkout (this one: an editable install), the checkout's patches/ is the default
    from patcher.locations import checkout_patches_dir

    assert checkout_patches_dir() == str(ROOT / "patches")
    probe = subprocess.run(
        [env.python, "-c", "from patcher.locations import checkout_patches_dir; print(checkout_patches_dir())"],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        check=True,
    )
    assert probe.stdout == "None\n"


def test_refresh_refuses_where_a_variant_declares_the_spot_absent(tmp_path: Path) -> None:
    """setuptools 0.9.8 has no memoized zip manifest: nothing to write a variant for."""
    from patcher.locations import default_patches_dir

    links = tmp_path / "links"
    links.mkdir()
    shutil.copy(download("setuptools", "0.9.8"), links)
    patches = tmp_path / "patches"
    shutil.copytree(str(default_patches_dir()), patches)
    before = snapshot(patches)
    code, out, err = cli(
        "refresh", "zip-manifest-load", "--for", "setuptools==0.9.8", *offline(links, tmp_path / "cache", patches)
    )
    assert (code, out) == (1, "")
    assert err == (
        "pkgres-patcher: zip-manifest-load: zip-manifest-load/setuptools-0.7 declares the spot absent in "
        "setuptools 0.9.8; nothing to refresh\n"
    )
    assert snapshot(patches) == before
