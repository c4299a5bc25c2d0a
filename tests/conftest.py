"""Shared fixtures: real upstream wheels (cached ``pip download``), real venvs, real eggs.

Downloads go through ``pip`` (so the user's pip configuration applies) into a cache that
survives between runs: ``$PKGRES_PATCHER_TEST_CACHE`` or ``~/.cache/pkgres-patcher-tests``.
"""

from __future__ import annotations

import email.parser
import glob
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Optional

import pytest

from patcher.cli import main

CACHE = Path(os.environ.get("PKGRES_PATCHER_TEST_CACHE", Path.home() / ".cache" / "pkgres-patcher-tests"))
WHEELS = CACHE / "wheels"


def _wheel_glob(name: str, version: str) -> str:
    return f"{name.replace('-', '_')}-{version}-*.whl"


def download(name: str, version: str) -> Path:
    """A real upstream wheel, from the cache or fetched once with ``pip download``."""
    WHEELS.mkdir(parents=True, exist_ok=True)
    pattern = _wheel_glob(name, version)
    found = sorted(WHEELS.glob(pattern)) or sorted(WHEELS.glob(pattern.replace("_", "-")))
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
             "--disable-pip-version-check", "--quiet", "-d", str(WHEELS), f"{name}=={version}"],
            check=True,
        )
        found = sorted(WHEELS.glob(pattern)) or sorted(WHEELS.glob(pattern.replace("_", "-")))
    assert found, f"pip download gave no wheel for {name}=={version}"
    return found[0]


def wheel_version(wheel: Path) -> str:
    return wheel.name.split("-")[1]


def pyenv_python(version: str) -> Optional[str]:
    """The pyenv interpreter for ``version`` (e.g. ``2.7``), or None when pyenv lacks it."""
    pyenv = shutil.which("pyenv")
    roots = []
    if pyenv:
        proc = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            roots.append(proc.stdout.strip())
    roots.append(os.path.expanduser("~/.pyenv"))
    for root in roots:
        for candidate in sorted(glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", "python"))):
            if os.access(candidate, os.X_OK):
                return candidate
    return None


def require_python(version: str) -> str:
    exe = pyenv_python(version)
    if exe is None:
        pytest.skip(f"Python {version} is not installed (pyenv has no {version}.x)")
    return exe


class Venv:
    """A real virtual environment made with ``venv``; wheels installed into it by real pip."""

    def __init__(self, root: Path, python: str = sys.executable) -> None:
        self.root = root
        subprocess.run([python, "-m", "venv", "--without-pip", str(root)], check=True)
        self.python = str(root / "bin" / "python")
        out = subprocess.run(
            [self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        )
        self.site = Path(out.stdout.strip())

    def install(self, *wheels: Path) -> None:
        subprocess.run(
            [sys.executable, "-m", "pip", "--python", self.python, "install", "--no-deps", "--no-index",
             "--disable-pip-version-check", "--quiet", "--no-compile", *map(str, wheels)],
            check=True,
        )

    def run(self, code: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.python, "-c", code], capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]


def make_egg(wheel: Path, dest_dir: Path, pyver: str = "2.7", zipped: bool = True, only: Optional[Callable[[str], bool]] = None) -> Path:
    """Lay out an egg from a wheel as easy_install did: the code plus ``EGG-INFO/PKG-INFO``."""
    with zipfile.ZipFile(wheel) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.BytesParser().parsebytes(zf.read(meta_name), headersonly=True)
        name, version = meta["Name"], meta["Version"]
        egg = dest_dir / f"{name.replace('-', '_')}-{version}-py{pyver}.egg"
        members = [
            n for n in zf.namelist()
            if ".dist-info/" not in n and not n.endswith("/") and (only is None or only(n))
        ]
        pkg_info = zf.read(meta_name)
        top_level = sorted({n.split("/")[0] for n in members if "/" in n})
        if zipped:
            with zipfile.ZipFile(egg, "w", zipfile.ZIP_DEFLATED) as out:
                for n in members:
                    out.writestr(zf.getinfo(n), zf.read(n))
                out.writestr("EGG-INFO/PKG-INFO", pkg_info)
                out.writestr("EGG-INFO/top_level.txt", "\n".join(top_level) + "\n")
        else:
            for n in members:
                target = egg / n
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(n))
            (egg / "EGG-INFO").mkdir(parents=True)
            (egg / "EGG-INFO" / "PKG-INFO").write_bytes(pkg_info)
            (egg / "EGG-INFO" / "top_level.txt").write_text("\n".join(top_level) + "\n")
    return egg


def add_to_easy_install_pth(site: Path, *eggs: Path) -> None:
    """List eggs in ``easy-install.pth``, the way easy_install put them on ``sys.path``."""
    pth = site / "easy-install.pth"
    lines = pth.read_text().splitlines() if pth.exists() else []
    lines += [f"./{egg.name}" for egg in eggs]
    pth.write_text("\n".join(lines) + "\n")


def run_cli(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file below ``root`` with its mode and bytes: to prove that nothing changed."""
    state = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                continue
            with open(path, "rb") as f:
                state[os.path.relpath(path, root)] = (os.stat(path).st_mode, f.read())
    return state


@pytest.fixture(autouse=True)
def _private_lock_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep the tests' lock files out of the user's runtime directory."""
    monkeypatch.setenv("PKGRES_PATCHER_LOCK_DIR", str(tmp_path_factory.getbasetemp() / "locks"))
    yield


@pytest.fixture
def venv_factory(tmp_path: Path) -> Callable[..., Venv]:
    counter = iter(range(1000))

    def make(python: str = sys.executable) -> Venv:
        return Venv(tmp_path / f"venv{next(counter)}", python)

    return make
