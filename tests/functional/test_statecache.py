"""``locate`` remembers states across runs (``patcher.statecache``), and is never wrong for it.

Each test has a cache directory of its own (``PKGRES_PATCHER_CACHE_DIR``, set in conftest).
The copies here are edited locally (a line added at the end), so that the known states shipped
with the patch set (every upstream release's bytes: ``tests/functional/test_known_states.py``) cannot
answer for them: these tests are about the user's cache.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from patcher.locations import default_patches_dir
from patcher.statecache import patchset_digest

from ..conftest import Venv, cli, download, json_output
from ..lib.runs import states


def cache_files() -> list[Path]:
    return sorted((Path(os.environ["PKGRES_PATCHER_CACHE_DIR"]) / "states").glob("*.json"))


def edit_locally(path: Path) -> None:
    """Give a copy bytes no upstream release has (the patches still fit)."""
    path.write_bytes(path.read_bytes() + b"# edited here\n")


@pytest.fixture
def venv(tmp_path: Path) -> Venv:
    env = Venv(tmp_path / "venv")
    env.install(download("setuptools", "81.0.0"), download("pip", "26.3"))
    edit_locally(env.site / "pkg_resources" / "__init__.py")
    edit_locally(env.site / "pip" / "_vendor" / "pkg_resources" / "__init__.py")
    return env


def tamper(path: Path, state: str) -> None:
    data = json.loads(path.read_text())
    for value in data["states"].values():
        value["state"] = state
    path.write_text(json.dumps(data))


def test_a_second_run_answers_from_the_cache(venv: Venv) -> None:
    first = cli("locate", "--json", str(venv.site))
    assert first[0] == 0 and first[2] == ""
    assert states(first[1]) == ["unpatched", "unpatched"]
    [cache] = cache_files()
    assert len(json.loads(cache.read_text())["states"]) == 2

    assert cli("locate", "--json", str(venv.site)) == first

    # it really is the cache that answers: what it says is what is reported ...
    tamper(cache, "drifted")
    assert states(cli("locate", "--json", str(venv.site))[1]) == ["drifted", "drifted"]
    # ... unless it is not asked
    before = cache.read_bytes()
    assert cli("locate", "--json", "--no-cache", str(venv.site)) == first
    assert cache.read_bytes() == before


def test_a_changed_patch_set_is_planned_afresh(venv: Venv, tmp_path: Path) -> None:
    patches = tmp_path / "patches"
    shutil.copytree(default_patches_dir(), patches)
    first = cli("locate", "--json", "--patches", str(patches), str(venv.site))
    [cache] = cache_files()
    tamper(cache, "drifted")

    target = patches / "zip-manifest-load" / "py3-typed.patch"
    target.write_text(target.read_text().replace("Description: ", "Description: (edited) ", 1))

    assert cli("locate", "--json", "--patches", str(patches), str(venv.site)) == first
    assert len(cache_files()) == 2


def test_identical_patch_sets_share_a_digest(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    shutil.copytree(default_patches_dir(), one)
    shutil.copytree(default_patches_dir(), two)
    assert patchset_digest(str(one)) == patchset_digest(str(two)) == patchset_digest(default_patches_dir())
    (two / "series").write_text((two / "series").read_text() + "\n")
    assert patchset_digest(str(two)) != patchset_digest(str(one))
    assert patchset_digest(str(tmp_path / "missing")) is None


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        '{"format": 1, "states": []}',
        '{"format": 999, "states": {}}',
        "[]",
    ],
)
def test_a_corrupt_cache_is_ignored_and_rewritten(venv: Venv, content: str) -> None:
    first = cli("locate", "--json", str(venv.site))
    [cache] = cache_files()
    cache.write_text(content)
    assert cli("locate", "--json", str(venv.site)) == first
    assert len(json.loads(cache.read_text())["states"]) == 2


def test_an_entry_of_the_wrong_shape_is_planned_afresh(venv: Venv) -> None:
    first = cli("locate", "--json", str(venv.site))
    [cache] = cache_files()
    data = json.loads(cache.read_text())
    for value in data["states"].values():
        value["state"] = 5
    cache.write_text(json.dumps(data))
    assert cli("locate", "--json", str(venv.site)) == first


def test_an_unusable_cache_directory_changes_nothing(
    venv: Venv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = cli("locate", "--json", str(venv.site))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("PKGRES_PATCHER_CACHE_DIR", str(blocker / "cache"))
    assert cli("locate", "--json", str(venv.site)) == first
    assert cli("locate", "--json", str(venv.site)) == first


def test_patched_copies_are_reported_patched(venv: Venv) -> None:
    assert states(cli("locate", "--json", str(venv.site))[1]) == ["unpatched", "unpatched"]
    assert cli("apply", str(venv.site))[0] == 0
    assert states(cli("locate", "--json", str(venv.site))[1]) == ["patched", "patched"]
    assert cli("revert", str(venv.site))[0] == 0
    assert states(cli("locate", "--json", str(venv.site))[1]) == ["unpatched", "unpatched"]


def test_a_malformed_patch_set_is_named_even_when_no_copy_is_found(tmp_path: Path) -> None:
    patches = tmp_path / "patches"
    patches.mkdir()
    (patches / "series").write_text("not a patch\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = cli("locate", "--patches", str(patches), str(empty))
    assert code == 1
    assert (
        err == f"pkgres-patcher: {patches / 'series'}: line 1: expected '<patch>/<variant>.patch', got 'not a patch'\n"
    )
    assert cache_files() == []


def test_old_cache_files_are_pruned(venv: Venv) -> None:
    states_dir = Path(os.environ["PKGRES_PATCHER_CACHE_DIR"]) / "states"
    states_dir.mkdir(parents=True)
    for n in range(12):
        old = states_dir / f"{n:064x}.json"
        old.write_text('{"format": 1, "states": {}}')
        os.utime(old, (1_000_000 + n, 1_000_000 + n))
    cli("locate", "--json", str(venv.site))
    left = cache_files()
    assert len(left) == 8
    # the newest stay, and the one just written is among them
    assert states_dir / f"{11:064x}.json" in left and states_dir / f"{4:064x}.json" not in left
    assert any(len(json.loads(p.read_text())["states"]) == 2 for p in left)


def test_concurrent_runs_add_up(tmp_path: Path) -> None:
    import subprocess
    import sys
    import zipfile

    # six copies with six different texts, each in a tree of its own, located at the same time
    sources = [("setuptools", v) for v in ("81.0.0", "24.0.2", "60.0.0", "44.1.1", "61.0.0")] + [("pip", "26.3")]
    trees = []
    for name, version in sources:
        member = "pkg_resources/__init__.py" if name == "setuptools" else "pip/_vendor/pkg_resources/__init__.py"
        tree = tmp_path / f"{name}-{version}"
        (tree / "pkg_resources").mkdir(parents=True)
        with zipfile.ZipFile(download(name, version)) as zf:
            (tree / "pkg_resources" / "__init__.py").write_bytes(zf.read(member))
        edit_locally(tree / "pkg_resources" / "__init__.py")
        trees.append(tree)
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "patcher", "locate", "--json", str(tree)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for tree in trees
    ]
    outputs = [run.communicate() for run in runs]
    assert [run.returncode for run in runs] == [0] * 6, outputs
    [cache] = cache_files()
    shas = {json_output(out.decode())["copies"][0]["sha256"] for out, _ in outputs}
    assert len(shas) == 6
    assert {key.split(":")[0] for key in json.loads(cache.read_text())["states"]} == shas


def test_an_answer_from_the_cache_needs_no_planner(venv: Venv) -> None:
    import subprocess
    import sys

    probe = (
        "import io, sys; from patcher.cli import main; "
        f"code = main(['locate', '--json', {str(venv.site)!r}], io.StringIO()); "
        "print(code, sorted(m for m in sys.modules if m.split('.')[0] in ('unidiff', 'packaging') "
        "or m in ('patcher.engine.planning', 'patcher.engine.patchset', 'patcher.disk.patching', 'zipfile')))"
    )
    cold = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    warm = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "patcher.engine.planning" in cold and "unidiff" in cold
    assert warm == "0 []\n"
