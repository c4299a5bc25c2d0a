"""Patched code still compiles on the oldest and the newest Python each upstream release supported."""

from __future__ import annotations

import email.parser
import subprocess
import zipfile
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from ..conftest import cli, download, pyenv_python
from .test_patching import ROUND_TRIP

PYTHONS = ["2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]


def supported(wheel: Path) -> list[str]:
    """The pyenv Pythons a release declares it supports (all of them when it says nothing)."""
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        message = email.parser.BytesParser().parsebytes(zf.read(meta), headersonly=True)
        py3_only = "py3-none" in wheel.name and "py2" not in wheel.name
    spec = SpecifierSet(message.get("Requires-Python") or "")  # no Requires-Python: every Python
    return [v for v in PYTHONS if Version(f"{v}.0") in spec and not (py3_only and v == "2.7")]


@pytest.mark.slow
@pytest.mark.parametrize(("project", "version"), ROUND_TRIP, ids=[f"{p}-{v}" for p, v in ROUND_TRIP])
def test_patched_copy_compiles_on_oldest_and_newest_supported_python(
    tmp_path: Path, project: str, version: str
) -> None:
    wheel = download(project, version)
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp_path)
    assert cli("apply", str(tmp_path)).code == 0
    member = tmp_path / ("pip/_vendor/pkg_resources/__init__.py" if project == "pip" else "pkg_resources/__init__.py")
    pythons = supported(wheel)
    assert pythons, "no supported Python known"
    checked = 0
    for python in dict.fromkeys([pythons[0], pythons[-1]]):
        exe = pyenv_python(python)
        if exe is None:
            continue
        proc = subprocess.run(
            [exe, "-c", "import sys; compile(open(sys.argv[1], 'rb').read(), sys.argv[1], 'exec')", str(member)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, f"Python {python}: {proc.stderr}"
        checked += 1
    if not checked:
        pytest.skip(f"none of Python {pythons[0]} / {pythons[-1]} is installed (pyenv)")
