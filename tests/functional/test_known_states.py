"""The known states shipped with the patch set (``patches/known-states.json``) say what planning says.

They let a first run on a fresh machine answer every upstream copy without planning; they must
never answer for another patch set, and never differ from what the planner makes of the same
bytes. Real releases are planned afresh here and compared with what is shipped.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from patcher.engine.patchset import MEMBER, load_patchset
from patcher.engine.planning import plan_copy
from patcher.locations import default_patches_dir
from patcher.model import State
from patcher.statecache import KNOWN_STATES, encode, load_known_states, open_cache

from ..conftest import Venv, download

#: a spread of eras, pip's CRLF copies (10.0.x) and the backport included
RELEASES = [
    ("setuptools", "24.0.2", "pkg_resources/__init__.py"),
    ("setuptools", "44.1.1", "pkg_resources/__init__.py"),
    ("setuptools", "60.0.0", "pkg_resources/__init__.py"),
    ("setuptools", "81.0.0", "pkg_resources/__init__.py"),
    ("pip", "8.1.2", "pip/_vendor/pkg_resources/__init__.py"),
    ("pip", "10.0.1", "pip/_vendor/pkg_resources/__init__.py"),
    ("pip", "26.3", "pip/_vendor/pkg_resources/__init__.py"),
]


def test_the_shipped_known_states_are_made_for_the_shipped_patch_set() -> None:
    assert load_known_states(default_patches_dir()) is not None, (
        "patches/known-states.json was made for another patch set: run devtools/known_states.py"
    )


@pytest.mark.parametrize("project, version, member", RELEASES)
def test_known_states_are_what_planning_says(project: str, version: str, member: str) -> None:
    known = load_known_states(default_patches_dir())
    assert known is not None
    with zipfile.ZipFile(download(project, version)) as zf:
        text = zf.read(member)
    patchset = load_patchset()
    pristine = plan_copy(text, patchset, MEMBER)
    patched = plan_copy(pristine.result, patchset, MEMBER)
    assert (pristine.state, patched.state) == (State.UNPATCHED, State.PATCHED)
    for data, plan in ((text, pristine), (pristine.result, patched)):
        key = f"{hashlib.sha256(data).hexdigest()}:source"
        assert known.get(key) == encode((plan.state, plan.fits)), key


def test_known_states_of_another_patch_set_are_not_used(tmp_path: Path) -> None:
    same, other = tmp_path / "same", tmp_path / "other"
    shutil.copytree(default_patches_dir(), same)
    shutil.copytree(default_patches_dir(), other)
    variant = sorted(other.glob("*/*.patch"))[0]
    variant.write_text(variant.read_text().replace("Description: ", "Description: changed: ", 1))
    with zipfile.ZipFile(download("setuptools", "81.0.0")) as zf:
        key = f"{hashlib.sha256(zf.read('pkg_resources/__init__.py')).hexdigest()}:source"

    assert open_cache(str(same)).get(key) is not None
    stale = open_cache(str(other))
    assert (stale.known, stale.get(key)) == (False, None)
    (other / KNOWN_STATES).unlink()
    assert open_cache(str(other)).get(key) is None


def _planner_imports(site: Path) -> str:
    probe = (
        "import io, sys; from patcher.cli import main; "
        f"code = main(['locate', '--json', {str(site)!r}], io.StringIO()); "
        "print(code, sorted(m for m in sys.modules if m.split('.')[0] in ('unidiff', 'packaging') "
        "or m in ('patcher.engine.planning', 'patcher.engine.patchset', 'patcher.disk.patching')))"
    )
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout


def test_a_first_run_on_upstream_copies_plans_nothing(tmp_path: Path) -> None:
    venv = Venv(tmp_path / "venv")
    venv.install(download("setuptools", "81.0.0"), download("pip", "26.3"))
    # the user cache is empty (conftest gives each test its own): known states answer
    assert _planner_imports(venv.site) == "0 []\n"
    # a copy edited locally is not known: it is planned
    init = venv.site / "pkg_resources" / "__init__.py"
    init.write_bytes(init.read_bytes() + b"# edited here\n")
    assert "patcher.engine.planning" in _planner_imports(venv.site)
