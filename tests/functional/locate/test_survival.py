"""What a scan survives: files vanishing, unreadable directories, symlink loops, non-UTF-8 names."""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ...conftest import (
    Venv,
    add_to_easy_install_pth,
    cli,
    download,
    json_output,
    make_egg,
)
from ...lib.locating import (
    PIP_VENDORED,
    PKG,
    deep_dir,
    locate,
    setuptools,
    sha_file,
    write_patchset,
)


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


def test_unreadable_directory_even_as_root(venv: Venv, patches: Path) -> None:
    venv.install(download("setuptools", "81.0.0"))
    root = venv.root / "deep"
    root.mkdir()
    deep = deep_dir(root)
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
