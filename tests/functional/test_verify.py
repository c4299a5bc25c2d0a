"""``verify``: real releases run in real interpreters against a scratch site whose
distributions vanish; unpatched copies must fail (that is how a user sees the bug), patched
ones pass, and the user's tree is never written to."""

from __future__ import annotations

import importlib.resources
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

import patcher
from patcher.verification.results import VerifyReport, VerifyStatus

from ..conftest import CliRun, Venv, VenvFactory, cli, download, json_output, make_egg, require_python, snapshot


def site_of(tmp: Path, project: str, version: str, name: str = "site") -> Path:
    site = tmp / name
    site.mkdir()
    with zipfile.ZipFile(download(project, version)) as zf:
        zf.extractall(site)
    return site


def copies(document: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = document["copies"]
    assert found, "no copy verified"
    return found


def died(copy: dict[str, Any]) -> list[str]:
    return [race["kind"] for race in copy["race_replay"] if race["escapes"]]


def recent_python() -> None:
    """Copies in a PATH run on the running interpreter (``--python`` would add its own sys.path
    to the targets): setuptools 81 and pip 26.3 need Python >= 3.10."""
    if sys.version_info < (3, 10):
        pytest.skip("setuptools 81 and pip 26.3 need Python >= 3.10; the tests run on an older one")


RELEASES = [("setuptools", "81.0.0"), ("pip", "26.3")]


@pytest.mark.parametrize(("project", "version"), RELEASES, ids=[f"{p}-{v}" for p, v in RELEASES])
def test_quick_unpatched_fails_and_patched_passes(tmp_path: Path, project: str, version: str) -> None:
    recent_python()
    site = site_of(tmp_path, project, version)
    before = cli("verify", str(site), "--quick", "--json")
    assert before.code == 1, before.err
    [copy] = copies(before.json)
    assert copy["status"] == "failed"
    # the 2016 traceback: a zipped egg, its zipimporter cached, gone under MemoizedZipManifests.load
    assert died(copy) == ["egg-zip"]
    [escape, *_] = next(r for r in copy["race_replay"] if r["kind"] == "egg-zip")["escapes"]
    assert escape["type"] == "FileNotFoundError" and escape["where"].endswith(" in load"), escape
    assert "failed verification" in before.err

    assert cli("apply", str(site)).code == 0
    after = cli("verify", str(site), "--quick", "--json")
    assert after.code == 0, after.out
    [copy] = copies(after.json)
    assert copy["status"] == "passed"
    assert died(copy) == []
    assert all(race["reached"] for race in copy["race_replay"]), "a victim was never touched: the replay proves nothing"
    assert copy["same_listing"] is True and copy["listing_differences"] == []
    assert copy["fault_sweep"] is None


def test_table_names_each_check(tmp_path: Path) -> None:
    recent_python()
    site = site_of(tmp_path, "setuptools", "81.0.0")
    run = cli("verify", str(site), "--quick")
    assert run.code == 1
    header, row = run.out.splitlines()[:2]
    assert header.split()[:4] == ["STATUS", "OWNER", "PYTHON", "RACE"]
    assert row.startswith("failed  setuptools 81.0.0") and "6/7 survived (died: egg-zip)" in row
    assert "race egg-zip: FileNotFoundError in Environment()" in run.out
    assert run.out.rstrip().endswith("1 copy of pkg_resources verified: 1 failed")


def test_the_users_tree_is_never_written(tmp_path: Path) -> None:
    recent_python()
    site = site_of(tmp_path, "setuptools", "81.0.0")
    make_egg(download("pip", "26.3"), site, pyver=f"{sys.version_info[0]}.{sys.version_info[1]}", zipped=True)
    assert cli("apply", str(site)).code == 0
    before = snapshot(tmp_path)
    run = cli("verify", str(site), "--quick")
    assert "2 copies of pkg_resources verified" in run.out, run.out + run.err
    assert snapshot(tmp_path) == before
    assert not list(tmp_path.rglob("__pycache__"))


def test_full_sweep_patched_raises_nowhere_unpatched_does(tmp_path: Path) -> None:
    """Every call setuptools 81 makes on another distribution's files, that distribution
    vanishing right then: the pristine copy raises at some of them, the patched one at none."""
    recent_python()
    unpatched = site_of(tmp_path, "setuptools", "81.0.0", "unpatched")
    patched = site_of(tmp_path, "setuptools", "81.0.0", "patched")
    assert cli("apply", str(patched)).code == 0
    runs = {
        name: cli("verify", str(site), "--json", "--jobs", "2")
        for name, site in (("unpatched", unpatched), ("patched", patched))
    }
    sweeps = {}
    for name, run in runs.items():
        [copy] = copies(run.json)
        sweeps[name] = copy["fault_sweep"]
        assert sweeps[name]["total"] == len(sweeps[name]["points"]) > 0
        assert sweeps[name]["raising"] == sum(1 for p in sweeps[name]["points"] if p["escapes"])
    assert runs["unpatched"].code == 1 and sweeps["unpatched"]["raising"] > 0
    loads = [p for p in sweeps["unpatched"]["points"] if any(e["where"].endswith(" in load") for e in p["escapes"])]
    assert loads and all(p["path"].startswith("victim-egg-zip") for p in loads)
    # the gaps the two later patches close: a vanished .dist-info read for require(), a
    # vanished develop install's version
    phases = {e["phase"] for p in sweeps["unpatched"]["points"] for e in p["escapes"]}
    assert "require(keep)" in phases, phases
    assert runs["patched"].code == 0, runs["patched"].out
    assert sweeps["patched"]["raising"] == 0, [p for p in sweeps["patched"]["points"] if p["escapes"]][:3]
    # the patched copy makes every call the pristine one makes, plus its eager version reads
    assert sweeps["patched"]["total"] >= sweeps["unpatched"]["total"]


def sweep_or_skip(run: CliRun) -> dict[str, Any]:
    """The one copy a run verified; skipped when no interpreter could run it (a release too old
    for the running Python, and none of the Pythons it supported installed)."""
    [copy] = copies(run.json)
    if copy["status"] == "not-verifiable":
        pytest.skip(f"no interpreter here runs {copy['owner']}: {copy['reason']}")
    return copy


#: a release of each era between the 2016 layout and today (where ``WorkingSet()`` still died,
#: 49.6 where it learned to skip a vanished zipped egg, the last one before the 66 reformat),
#: the backport, and pip vendoring setuptools 44
SPREAD = [
    ("setuptools", "36.8.0"),  # no longer imports on 3.10+: verified on a Python its classifiers name
    ("setuptools", "44.1.1"),
    ("setuptools", "49.6.0"),
    ("setuptools", "65.7.0"),
    ("pkg-resources-backport", "1.0.1"),
    ("pip", "20.3.4"),
]


@pytest.mark.parametrize(("project", "version"), SPREAD, ids=[f"{p}-{v}" for p, v in SPREAD])
def test_release_spread_unpatched_fails_patched_passes_the_full_sweep(
    tmp_path: Path, project: str, version: str
) -> None:
    site = site_of(tmp_path, project, version)
    before = sweep_or_skip(cli("verify", str(site), "--quick", "--json"))
    assert before["status"] == "failed" and "egg-zip" in died(before), before
    assert cli("apply", str(site)).code == 0
    run = cli("verify", str(site), "--json", "--jobs", "2")
    after = sweep_or_skip(run)
    sweep = after["fault_sweep"]
    assert sweep["total"] > 0 and sweep["raising"] == 0, [p for p in sweep["points"] if p["escapes"]][:3]
    assert after["status"] == "passed" and run.code == 0, after


def test_pip_26_3_on_python_3_10(tmp_path: Path) -> None:
    """Where pip still lists installed distributions through its pkg_resources by default."""
    venv = Venv(tmp_path / "venv", require_python("3.10"))
    with zipfile.ZipFile(download("pip", "26.3")) as zf:
        zf.extractall(venv.site)
    targets = ("--python", venv.python, "--exclude", "*.whl")  # not the wheels ensurepip bundles
    before = cli("verify", *targets, "--quick", "--json")
    [copy] = copies(before.json)
    assert copy["python_version"] == "3.10" and copy["status"] == "failed" and died(copy) == ["egg-zip"], copy
    assert cli("apply", *targets).code == 0
    run = cli("verify", *targets, "--json", "--jobs", "2")
    [copy] = copies(run.json)
    assert copy["fault_sweep"]["raising"] == 0 and copy["status"] == "passed" and run.code == 0, copy


def test_python_2_7_zipped_egg_layout(tmp_path: Path) -> None:
    """The 2016 layout: setuptools 24.0.2 as a zipped egg, pip 8.1.2 as a directory egg."""
    require_python("2.7")  # found by verify itself: the eggs' names say py2.7
    site = tmp_path / "site-packages"
    site.mkdir()
    make_egg(download("setuptools", "24.0.2"), site, zipped=True)
    make_egg(download("pip", "8.1.2"), site, zipped=False)
    before = cli("verify", str(site), "--quick", "--json")
    assert before.code == 1
    found = copies(before.json)
    assert {c["python_version"] for c in found} == {"2.7"}
    assert all("egg-zip" in died(c) for c in found)
    assert cli("apply", str(site)).code == 0
    after = cli("verify", str(site), "--json", "--jobs", "2")
    assert after.code == 0, after.out
    assert [c["status"] for c in copies(after.json)] == ["passed", "passed"]
    assert all(c["fault_sweep"]["total"] > 0 and c["fault_sweep"]["raising"] == 0 for c in copies(after.json))


def test_copy_too_old_for_the_interpreter_runs_on_one_its_release_supported(tmp_path: Path) -> None:
    """pip 8.1.2 dies on 3.10+ (collections.MutableMapping): verified on the 2.7 its classifiers name."""
    require_python("2.7")
    if sys.version_info < (3, 10):
        pytest.skip("pip 8.1.2 still imports on Python < 3.10")
    site = site_of(tmp_path, "pip", "8.1.2")
    assert cli("apply", str(site)).code == 0
    run = cli("verify", str(site), "--quick", "--json")
    [copy] = copies(run.json)
    assert copy["python_version"] == "2.7" and copy["status"] == "passed", copy
    assert "MutableMapping" in copy["notes"][0]
    assert run.code == 0


def test_api_returns_a_typed_report(tmp_path: Path) -> None:
    recent_python()
    site = site_of(tmp_path, "setuptools", "81.0.0")
    assert "verify" in patcher.__all__
    report = patcher.verify([str(site)], quick=True)
    assert isinstance(report, VerifyReport)
    [result] = report.results
    assert result.status is VerifyStatus.FAILED
    assert not report.ok()


def test_the_probe_is_shipped_as_package_data() -> None:
    text = (importlib.resources.files("patcher.verification") / "probe_child.py").read_text()
    compile(text, "probe_child.py", "exec")  # and it must still run on Python 2.7:
    assert 'f"' not in text and "f'" not in text, "no f-strings: the probe runs on Python 2.7"


def _verify_without_pyenv(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``verify`` in a process that can find no other Python: PATH empty, pyenv's root an empty directory."""
    empty = tmp_path / "no-pyenv"
    empty.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYENV", "PYTHON"))}
    env.update(PATH="", PYENV_ROOT=str(empty))
    argv = [sys.executable, "-m", "patcher", "verify", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=300)


def test_an_egg_no_interpreter_can_run_is_not_verifiable(tmp_path: Path) -> None:
    """A py2.7 egg of pip 8.1.2 with no Python 2.7 anywhere (nor any Python its classifiers name):
    not verifiable, with the reason; that fails the run only with ``--strict``."""
    if sys.version_info < (3, 10):
        pytest.skip("pip 8.1.2 still imports on Python < 3.10: the running interpreter would verify it")
    site = tmp_path / "site"
    site.mkdir()
    egg = make_egg(download("pip", "8.1.2"), site, pyver="2.7", zipped=True)
    run = _verify_without_pyenv(tmp_path, str(site), "--quick")
    assert run.returncode == 0, run.stderr
    reason = f"cannot run on Python {sys.version_info[0]}.{sys.version_info[1]} ({sys.executable}) even unpatched"
    assert f"not verifiable: {reason}" in run.stdout and "MutableMapping" in run.stdout, run.stdout
    why = "no Python 2.7 (its path names it) on PATH or in pyenv; no Python 3.5, 3.4, 3.3, 2.6 (its release's classifiers) on PATH or in pyenv"
    assert why in run.stdout, run.stdout
    assert f"pkgres-patcher: {egg}!pip/_vendor/pkg_resources/__init__.py: not verifiable: {reason}" in run.stderr
    assert run.stdout.rstrip().endswith("1 copy of pkg_resources verified: 1 not-verifiable")

    strict = _verify_without_pyenv(tmp_path, str(site), "--quick", "--strict", "--json")
    assert strict.returncode == 1, strict.stderr
    document = json_output(strict.stdout)
    [copy] = document["copies"]
    assert copy["status"] == "not-verifiable" and copy["reason"].startswith(reason) and why in copy["reason"], copy
    assert copy["python"] is None and copy["race_replay"] == [] and copy["fault_sweep"] is None
    assert document["ok"] is False and document["strict"] is True
    assert document["counts"] == {"passed": 0, "failed": 0, "not-verifiable": 1}


def test_wheels_are_verified_as_apply_patches_them(tmp_path: Path, venv_factory: VenvFactory) -> None:
    """An interpreter's ensurepip wheels are artefacts: left alone (and said so) unless
    ``--wheels`` is given or the wheel is named, as ``apply`` does."""
    venv = venv_factory(sys.executable)
    found = cli("locate", "--python", venv.python, "--json").json["copies"]
    bundled = [c for c in found if c["bundled_by"]]
    if not bundled:
        pytest.skip(f"{sys.executable} bundles no wheel with pkg_resources for ensurepip (a distribution removed them)")
    assert len(found) == len(bundled), "the venv (without pip) holds no other copy"

    alone = cli("verify", "--python", venv.python, "--quick", "--json")
    assert alone.code == 0, alone.err
    assert alone.json["copies"] == []
    assert alone.json["left_alone"] == [{k: c[k] for k in alone.json["left_alone"][0]} for c in bundled]
    table = cli("verify", "--python", venv.python, "--quick")
    many = "the wheel to verify it" if len(bundled) == 1 else "the wheels to verify them"
    wheels = f"{len(bundled)} wheel{'s' if len(bundled) > 1 else ''}"
    assert table.out == f"no copy of pkg_resources verified, {wheels} left alone (pass --wheels or name {many})\n"

    first, *others = (c["file"] for c in bundled)  # one wheel verified each way is enough
    leave_out = [arg for other in others for arg in ("--exclude", os.path.basename(other))]
    asked = cli("verify", "--python", venv.python, "--quick", "--wheels", "--json", *leave_out)
    assert [(c["file"], c["status"]) for c in asked.json["copies"]] == [(first, "failed")]
    assert asked.json["left_alone"] == [] and asked.code == 1

    named = cli("verify", others[0] if others else first, "--quick", "--json")
    assert [c["file"] for c in named.json["copies"]] == [others[0] if others else first]
    assert named.json["left_alone"] == []


def debundled_site(tmp_path: Path) -> Path:
    """setuptools 81 as a distribution packages it without its vendored copies (Debian's
    python3-pkg-resources): no RECORD, an ``.egg-info``, and ``packaging``, ``jaraco``,
    ``platformdirs`` ... as top-level packages of the same directory, imported from there."""
    site = tmp_path / "dist-packages"
    with zipfile.ZipFile(download("setuptools", "81.0.0")) as zf:
        zf.extractall(site)
    vendor = site / "setuptools" / "_vendor"
    for package in vendor.iterdir():
        if not package.name.endswith(".dist-info"):
            package.rename(site / package.name)
    shutil.rmtree(vendor)
    info = next(site.glob("setuptools-*.dist-info"))
    egg_info = site / "setuptools-81.0.0.egg-info"
    egg_info.mkdir()
    (egg_info / "PKG-INFO").write_bytes((info / "METADATA").read_bytes())
    shutil.rmtree(info)
    return site


def test_a_copy_without_record_imports_its_dependencies_from_where_it_lies(tmp_path: Path) -> None:
    """No RECORD says which files are the copy's: its package is laid out in scratch, and what it
    imports from elsewhere (a distribution's debundled ``packaging``) comes from its own directory,
    only read."""
    recent_python()
    site = debundled_site(tmp_path)
    before = snapshot(tmp_path)
    run = cli("verify", str(site), "--quick", "--json")
    [copy] = copies(run.json)
    assert copy["owner"] is None and copy["status"] == "failed", copy
    assert died(copy) == ["egg-zip"]
    assert f"imports its dependencies from {site} (no RECORD lists them)" in copy["notes"]
    assert snapshot(tmp_path) == before
    assert not list(tmp_path.rglob("__pycache__"))


DEBIAN = Path("/usr/lib/python3/dist-packages/pkg_resources/__init__.py")


def test_debians_own_copy_is_verified() -> None:
    """The real python3-pkg-resources: dpkg's files, no RECORD, run where it lies."""
    if not DEBIAN.is_file():
        pytest.skip(f"Debian's python3-pkg-resources is not installed (no {DEBIAN})")
    run = cli("verify", str(DEBIAN), "--quick", "--json")
    [copy] = copies(run.json)
    assert copy["status"] != "not-verifiable", copy["reason"]
    assert copy["manager"] is None or copy["manager"]["kind"] == "dpkg", copy["manager"]
    [found] = cli("locate", str(DEBIAN), "--json").json["copies"]
    if found["state"] == "unpatched":
        assert copy["status"] == "failed" and "egg-zip" in died(copy), copy
    elif found["state"] == "patched":
        assert copy["status"] == "passed", copy


def column(table: str, name: str) -> list[str]:
    """The cells of column ``name`` of a table (``locate``'s, ``verify``'s): each column is padded
    to its widest cell, so a cell starts where its header does and ends where the next one starts."""
    header, *rows = table.split("\n\n")[0].splitlines()
    start = header.index(name)
    following = re.search(r"  (?=\S)", header[start:])
    end = start + following.end() if following else None
    return [row[start:end].strip() for row in rows if not row.startswith(" ")]


def test_owner_is_the_same_as_locates(tmp_path: Path) -> None:
    """A pip without its ``.dist-info`` (copied by hand, a distribution's debundled tree): no
    owner, though its ``_vendor/vendor.txt`` names the setuptools release it vendors
    (``UPSTREAM``). ``verify`` says of the owner what ``locate`` says, in the table and the JSON."""
    site = site_of(tmp_path, "pip", "20.3.4")
    shutil.rmtree(next(site.glob("pip-*.dist-info")))
    found = cli("locate", str(site))
    verified = cli("verify", str(site), "--quick")
    assert column(found.out, "OWNER") == ["-"] and column(found.out, "UPSTREAM") == ["setuptools 44.0.0"], found.out
    assert column(verified.out, "OWNER") == column(found.out, "OWNER"), verified.out
    [located] = cli("locate", str(site), "--json").json["copies"]
    [copy] = copies(cli("verify", str(site), "--quick", "--json").json)
    assert (
        (copy["owner"], copy["upstream"])
        == (located["owner"], located["upstream"])
        == (
            None,
            {"name": "setuptools", "version": "44.0.0"},
        )
    )


def test_run_with_picks_the_interpreter_and_python_stays_a_target(tmp_path: Path) -> None:
    """``--run-with EXE`` runs the copies and adds no target; ``--python EXE`` is a target, as
    in every other command, and picks no interpreter for the other copies."""
    recent_python()
    venv = Venv(tmp_path / "venv", require_python("3.10"))
    with zipfile.ZipFile(download("pip", "26.3")) as zf:
        zf.extractall(venv.site)
    site = site_of(tmp_path, "setuptools", "81.0.0")
    ours = f"{site}/pkg_resources/__init__.py"
    theirs = f"{venv.site}/pip/_vendor/pkg_resources/__init__.py"

    run = cli("verify", "--run-with", venv.python, str(site), "--quick", "--json")
    [copy] = copies(run.json)
    assert (copy["file"], copy["python"], copy["python_version"]) == (ours, venv.python, "3.10"), copy

    run = cli("verify", "--python", venv.python, str(site), "--exclude", "*.whl", "--quick", "--json")
    ran = {c["file"]: c["python"] for c in copies(run.json)}
    # the venv's copy on the venv's interpreter (its prefix's own); the PATH's on the running one
    assert ran == {theirs: venv.python, ours: sys.executable}, ran

    both = cli(
        "verify", "--python", venv.python, "--run-with", sys.executable, "--exclude", "*.whl", "--quick", "--json"
    )
    assert [(c["file"], c["python"]) for c in copies(both.json)] == [(theirs, sys.executable)]

    usage = subprocess.run([sys.executable, "-m", "patcher", "verify", "--help"], capture_output=True, text=True)
    assert "--run-with EXE" in usage.stdout and "--python EXE" in usage.stdout, usage.stdout


# --- copies other tools keep (#22): verified in the import context their project gives them ---

PEX_PIP = "pex/vendor/_vendored/pip/pip/_vendor/pkg_resources/__init__.py"
PEX_SETUPTOOLS = "pex/vendor/_vendored/setuptools/pkg_resources/__init__.py"
BUILDOUT = "zc/buildout/_vendor/pkg_resources/__init__.py"


def by_file(document: dict[str, Any], site: Path) -> dict[str, dict[str, Any]]:
    return {os.path.relpath(c["file"], site): c for c in copies(document)}


def test_vendored_copies_run_as_their_project_imports_them(tmp_path: Path) -> None:
    """pex puts ``pex/vendor/_vendored/<project>`` on ``sys.path`` (its ``RECORD`` there lists
    the copy): its pip's copy runs as ``pip._vendor.pkg_resources``, its setuptools fork as
    ``pkg_resources`` with pex importable; zc.buildout's copy runs as
    ``zc.buildout._vendor.pkg_resources`` beside its ``jaraco_text``, zc.buildout's own
    ``__init__`` (which imports setuptools and pip) laid out empty, ``packaging`` and
    ``platformdirs`` (its requirements) from the site. Each unpatched fails as every
    pkg_resources does; each patched passes."""
    recent_python()  # zc.buildout 6 needs Python >= 3.10
    venv = Venv(tmp_path / "venv")
    venv.install(
        download("pex", "2.105.2"),
        download("zc.buildout", "6.0.1"),
        download("packaging", "26.4"),
        download("platformdirs", "4.14.9"),
    )
    before = by_file(cli("verify", str(venv.site), "--quick", "--json").json, venv.site)
    assert sorted(before) == sorted([PEX_PIP, PEX_SETUPTOOLS, BUILDOUT])
    for name, copy in before.items():
        assert (copy["status"], died(copy)) == ("failed", ["egg-zip"]), (name, copy["reason"], copy["notes"])
    assert f"imports its dependencies from {venv.site}" in before[PEX_SETUPTOOLS]["notes"]
    [note] = before[BUILDOUT]["notes"]
    assert note.startswith("imported with zc/buildout/__init__.py laid out empty") and "'setuptools'" in note, note

    assert cli("apply", str(venv.site)).code == 0
    after = by_file(cli("verify", str(venv.site), "--quick", "--json").json, venv.site)
    assert {name: copy["status"] for name, copy in after.items()} == dict.fromkeys(before, "passed")


def test_a_vendored_copy_in_a_wheel_runs_as_its_project_imports_it(tmp_path: Path) -> None:
    """pex's wheel: both copies run from the wheel laid out in scratch, pex importable."""
    recent_python()
    run = cli("verify", str(download("pex", "2.105.2")), "--quick", "--json")
    found = {c["member"]: c for c in copies(run.json)}
    assert sorted(found) == sorted([PEX_PIP, PEX_SETUPTOOLS])
    for member, copy in found.items():
        assert (copy["status"], died(copy)) == ("failed", ["egg-zip"]), (member, copy["reason"])


def test_not_verifiable_only_when_its_requirements_are_missing(tmp_path: Path) -> None:
    """zc.buildout installed without its requirements: its copy cannot import ``packaging`` in
    any interpreter, and the reason says so."""
    recent_python()
    venv = Venv(tmp_path / "venv")
    venv.install(download("zc.buildout", "6.0.1"))
    [copy] = copies(cli("verify", str(venv.site / BUILDOUT), "--quick", "--json").json)
    assert copy["status"] == "not-verifiable"
    assert "No module named 'packaging'" in copy["reason"], copy["reason"]
