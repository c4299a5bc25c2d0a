"""The command line for scripts and CI (issue #9): check modes, JSON with a schema, quiet and
verbose output, a summary line, diffs that ``patch -p1`` and ``git apply`` take.

Real copies throughout: real pip installs real wheels into a plain site directory, and the
diffs are applied by real GNU ``patch`` and real ``git apply``.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from patcher.model import Action, Container, Manager, Outcome, State, Status

from ..conftest import (
    DRIFT_PATCHES,
    SCHEMA_FILES,
    byte_code_egg,
    cli,
    download,
    load_schema,
    make_egg,
    make_patchset,
    pip_install,
    remake_wheel,
    snapshot,
)
from ..lib.runs import offline

ROOT = Path(__file__).resolve().parents[2]
SETUPTOOLS, PIP = "81.0.0", "26.3"
PKG = "pkg_resources/__init__.py"
VENDORED = "pip/_vendor/pkg_resources/__init__.py"
#: a copy that does not fit any more: the line every zip-manifest-load variant changes, edited
LOCAL_EDIT = (b"mtime = os.stat(path).st_mtime", b"mtime = os.stat(path).st_mtime  # local edit")


def install(site: Path, *wheels: Path) -> Path:
    """Real pip installs real wheels into a plain directory (``--target``), as a build stages them."""
    pip_install("install", "--target", str(site), *map(str, wheels))
    return site


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return install(tmp_path / "site", download("setuptools", SETUPTOOLS), download("pip", PIP))


def line(word: str, location: object) -> str:
    """One line of ``apply``/``revert``: the outcome in a column of 18, then the copy."""
    return f"{word:<18} {location}\n"


def edit_locally(file: Path) -> None:
    text = file.read_bytes()
    assert text.count(LOCAL_EDIT[0]) == 1
    file.write_bytes(text.replace(*LOCAL_EDIT))


# --- check modes ---------------------------------------------------------------------------------


def test_locate_check_exits_1_until_every_copy_is_patched(site: Path) -> None:
    run = cli("locate", "--check", str(site))
    assert run.code == 1
    assert run.err == f"pkgres-patcher: {site / VENDORED}: unpatched\npkgres-patcher: {site / PKG}: unpatched\n"
    assert cli("apply", str(site)).code == 0
    run = cli("locate", "--check", str(site))
    assert (run.code, run.err) == (0, "")


def test_locate_check_fails_on_drifted_and_unpatchable_copies(site: Path) -> None:
    edit_locally(site / VENDORED)
    assert cli("apply", str(site)).code == 1  # the edited copy does not fit; the other is patched
    egg = byte_code_egg(site)
    run = cli("locate", "--check", str(site))
    assert run.code == 1
    assert sorted(run.err.splitlines()) == sorted(
        [
            f"pkgres-patcher: {egg}!pkg_resources/__init__.pyc: unpatchable",
            f"pkgres-patcher: {site / VENDORED}: drifted",
        ]
    )


def test_locate_check_judges_wheels_lying_in_a_tree_only_with_wheels(site: Path, tmp_path: Path) -> None:
    wheel = tmp_path / download("pip", PIP).name
    shutil.copy(download("pip", PIP), wheel)
    assert cli("apply", str(tmp_path)).code == 0  # wheels lying in a tree are left alone
    run = cli("locate", "--check", str(tmp_path))
    assert (run.code, run.err) == (0, "")
    unpatched = f"pkgres-patcher: {wheel}!{VENDORED}: unpatched\n"
    run = cli("locate", "--check", "--wheels", str(tmp_path))
    assert (run.code, run.err) == (1, unpatched)
    run = cli("locate", "--check", str(wheel))  # a wheel named is judged
    assert (run.code, run.err) == (1, unpatched)


def test_locate_check_says_in_its_summary_which_copies_it_did_not_judge(site: Path, tmp_path: Path) -> None:
    wheel = site / download("pip", PIP).name
    shutil.copy(download("pip", PIP), wheel)
    assert cli("apply", str(site)).code == 0
    counts = "3 copies of pkg_resources: 1 unpatched, 2 patched"
    note = "; not judged by --check: 1 in a wheel (pass --wheels or name the wheel to judge it)"
    for quiet in ([], ["--quiet"]):
        run = cli("locate", "--check", *quiet, str(site))
        assert (run.code, run.err, run.out.splitlines()[-1]) == (0, "", counts + note)
        run = cli("locate", "--check", "--wheels", *quiet, str(site))  # every copy judged: nothing to say
        assert (run.code, run.out.splitlines()[-1]) == (1, counts)
        run = cli("locate", *quiet, str(site))  # nothing judged without --check
        assert (run.code, run.out.splitlines()[-1]) == (0, counts)
    run = cli("locate", "--check", str(site), str(wheel))  # the wheel named is judged
    assert (run.code, run.out.splitlines()[-1]) == (1, counts)


def test_locate_check_of_an_interpreter_says_its_ensurepip_wheels_were_not_judged(tmp_path: Path) -> None:
    """``--check --python EXE`` exits 0 on an interpreter whose only copies are in its ensurepip
    wheels: its summary says they were not judged, instead of only "2 unpatched"."""
    from ..conftest import Venv

    venv = Venv(tmp_path / "venv")  # without pip: its copies are the bundled wheels'
    stdlib = subprocess.run(
        [venv.python, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    per_wheel = []
    for wheel in sorted((Path(stdlib) / "ensurepip" / "_bundled").glob("*.whl")):
        with zipfile.ZipFile(wheel) as zf:
            per_wheel.append(len({PKG, VENDORED} & set(zf.namelist())))
    copies = sum(per_wheel)
    if len([n for n in per_wheel if n]) < 2:
        pytest.skip(f"{venv.python} bundles fewer than two wheels with a copy in {stdlib}/ensurepip/_bundled")
    cache = ["--cache-dir", str(tmp_path / "cache")]
    run = cli("locate", "--check", "--quiet", "--python", venv.python, *cache)
    expected = (
        f"{copies} copies of pkg_resources: {copies} unpatched; not judged by --check: {copies} in wheels "
        "(pass --wheels or name the wheels to judge them)\n"
    )
    assert (run.code, run.err, run.out) == (0, "", expected)
    run = cli("locate", "--check", "--quiet", "--wheels", "--python", venv.python, *cache)
    assert (run.code, run.out) == (1, f"{copies} copies of pkg_resources: {copies} unpatched\n")


def test_apply_and_revert_check_are_dry_runs_that_fail_when_anything_would_change(site: Path) -> None:
    before = snapshot(site)
    run = cli("apply", "--check", str(site))
    assert run == (
        1,
        line("would patch", site / VENDORED) + line("would patch", site / PKG) + "2 would be patched\n",
        "",
    )
    assert snapshot(site) == before
    assert cli("apply", str(site)).code == 0
    run = cli("apply", "--check", str(site))
    expected = line("already-patched", site / VENDORED) + line("already-patched", site / PKG) + "2 already patched\n"
    assert run == (0, expected, "")

    patched = snapshot(site)
    run = cli("revert", "--check", str(site))
    expected = line("would revert", site / VENDORED) + line("would revert", site / PKG) + "2 would be reverted\n"
    assert run == (1, expected, "")
    assert snapshot(site) == patched
    assert cli("revert", str(site)).code == 0
    run = cli("revert", "--check", str(site))
    expected = (
        line("already-unpatched", site / VENDORED) + line("already-unpatched", site / PKG) + "2 already unpatched\n"
    )
    assert run == (0, expected, "")


def test_apply_check_fails_on_a_copy_that_does_not_fit(site: Path) -> None:
    edit_locally(site / VENDORED)
    run = cli("apply", "--check", "--json", str(site))
    assert run.code == 1
    assert run.err.startswith(f"pkgres-patcher: {site / VENDORED}: does not fit: zip-manifest-load: ")
    data = run.json
    assert data["dry_run"] is True
    assert [(c["outcome"], c["dry_run"]) for c in data["copies"]] == [("failed", True), ("patched", True)]
    assert data["counts"] == {
        "patched": 1,
        "already-patched": 0,
        "reverted": 0,
        "already-unpatched": 0,
        "vanished": 0,
        "failed": 1,
        "unpatchable": 0,
    }
    # all patches or none per copy: the copy that does not fit has no diff, not even of the patches that fit
    run = cli("apply", "--check", "--diff", str(site))
    assert run.code == 1
    assert re.findall(r"^--- .*", run.out, re.M) == [f"--- a/{PKG}"]
    assert [c["diff"] is None for c in cli("apply", "--check", "--diff", "--json", str(site)).json["copies"]] == [
        True,
        False,
    ]


# --- one line per copy, a summary, --quiet and -v ------------------------------------------------


def test_quiet_prints_only_problems_and_the_summary(site: Path) -> None:
    edit_locally(site / VENDORED)
    run = cli("apply", "--quiet", str(site))
    assert run.code == 1
    assert run.out == line("failed", site / VENDORED) + "1 patched, 1 failed\n"
    assert run.err.startswith(f"pkgres-patcher: {site / VENDORED}: does not fit: ")
    assert cli("apply", "-q", str(site)).out == line("failed", site / VENDORED) + "1 already patched, 1 failed\n"
    run = cli("locate", "--quiet", str(site))
    assert run == (0, "2 copies of pkg_resources: 1 patched, 1 drifted\n", "")


def test_locate_table_ends_with_the_counts(site: Path) -> None:
    run = cli("locate", str(site))
    assert run.code == 0
    assert run.out.splitlines()[-2:] == ["", "2 copies of pkg_resources: 2 unpatched"]
    empty = site.parent / "empty"
    empty.mkdir()
    assert cli("locate", "-q", str(empty)).out == "no copy of pkg_resources found\n"


def test_summary_counts_the_wheels_left_alone(site: Path, tmp_path: Path) -> None:
    for project, version in (("pip", PIP), ("setuptools", SETUPTOOLS)):
        shutil.copy(download(project, version), tmp_path)
    run = cli("apply", str(tmp_path))
    assert run == (
        0,
        line("patched", site / VENDORED)
        + line("patched", site / PKG)
        + "2 patched, 2 wheels left alone (pass --wheels or name the wheels to patch them)\n",
        "",
    )
    run = cli("revert", "--quiet", str(tmp_path))
    assert run == (0, "2 reverted, 2 wheels left alone (pass --wheels or name the wheels to revert them)\n", "")
    shutil.rmtree(site)
    (tmp_path / download("setuptools", SETUPTOOLS).name).unlink()
    run = cli("apply", str(tmp_path))
    assert run == (0, "1 wheel left alone (pass --wheels or name the wheel to patch it)\n", "")


def test_variants_and_offsets_only_with_verbose_and_only_for_hunks_applied(tmp_path: Path) -> None:
    """The test patch set is made against setuptools 60.0.0: in 61.0.0 both spots lie 6 lines lower."""
    patches = make_patchset(tmp_path / "patches")
    site = install(tmp_path / "site", download("setuptools", "61.0.0"))
    copy = site / PKG
    pristine = copy.read_bytes()
    opts = ("--patches", str(patches), str(site))

    assert cli("apply", "--dry-run", *opts).out == line("would patch", copy) + "1 would be patched\n"
    both = "  [zip-manifest-load/modern (offset +6), find-eggs-in-zip/modern (offset +6)]"
    assert cli("apply", "-v", *opts).out == line("patched", copy)[:-1] + both + "\n1 patched\n"
    # applied already: nothing is placed anywhere, so no offset
    done = "  [zip-manifest-load/modern, find-eggs-in-zip/modern]"
    assert cli("apply", "--verbose", *opts).out == line("already-patched", copy)[:-1] + done + "\n1 already patched\n"
    assert [p["offsets"] for p in cli("locate", "--json", *opts).json["copies"][0]["patches"]] == [[], []]

    # one patch in, the other not: only the hunk applied has an offset (moved by the lines the first one added)
    _, _, old, new = DRIFT_PATCHES[0]
    copy.write_bytes(pristine.replace(old, new))
    added = new.count(b"\n") - old.count(b"\n")
    mixed = f"  [zip-manifest-load/modern (already), find-eggs-in-zip/modern (offset +{6 + added})]"
    assert cli("apply", "-v", *opts).out == line("patched", copy)[:-1] + mixed + "\n1 patched\n"


# --- --diff: headers relative to the copy's root, status lines on stderr ----------------------------


def test_diff_applies_with_patch_p1_and_git_apply_from_the_site_dir(site: Path, tmp_path: Path) -> None:
    for tool in ("patch", "git"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    pristine = tmp_path / "pristine"
    shutil.copytree(site, pristine, symlinks=True)
    reference = tmp_path / "reference"
    shutil.copytree(site, reference, symlinks=True)
    assert cli("apply", str(reference)).code == 0
    diff, status = tmp_path / "x.patch", tmp_path / "status"
    tool = f"{sys.executable} -m patcher"

    proc = subprocess.run(
        f"{tool} apply --dry-run --diff {site} > {diff} 2> {status} && patch -p1 -d {site} < {diff}",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert status.read_text() == (
        line("would patch", site / VENDORED) + line("would patch", site / PKG) + "2 would be patched\n"
    )
    text = diff.read_text()
    assert re.findall(r"^(?:---|\+\+\+) .*", text, re.M) == [
        f"--- a/{VENDORED}",
        f"+++ b/{VENDORED}",
        f"--- a/{PKG}",
        f"+++ b/{PKG}",
    ]
    assert proc.stdout == f"patching file {VENDORED}\npatching file {PKG}\n"
    for member in (VENDORED, PKG):
        assert (site / member).read_bytes() == (reference / member).read_bytes(), member

    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(tmp_path)}  # not inside any repository
    git = subprocess.run(
        ["git", "apply", "--verbose", str(diff)], cwd=pristine, capture_output=True, text=True, env=env, check=False
    )
    assert git.returncode == 0, git.stderr
    for member in (VENDORED, PKG):
        assert (pristine / member).read_bytes() == (reference / member).read_bytes(), member


def test_diff_of_an_egg_is_named_as_inside_the_egg(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    zipped = make_egg(download("setuptools", "44.1.1"), site, zipped=True)
    unpacked = make_egg(download("pip", "20.3.4"), site, zipped=False)
    run = cli("apply", "--dry-run", "--diff", str(site))
    assert run.code == 0
    assert re.findall(r"^--- .*", run.out, re.M) == [f"--- a/{VENDORED}", f"--- a/{PKG}"]
    assert run.err == (
        line("would patch", unpacked / VENDORED) + line("would patch", f"{zipped}!{PKG}") + "2 would be patched\n"
    )


# --- JSON: a schema version, the errors, every word documented ---------------------------------------


def test_locate_json_names_its_schema_and_carries_counts_and_errors(site: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    run = cli("locate", "--json", str(site), str(missing))
    assert run.code == 1
    data = run.json
    assert list(data) == ["schema", "copies", "counts", "errors"]
    assert data["schema"] == "pkgres-patcher/locate/1"
    assert data["counts"] == {"unpatched": 2, "patched": 0, "drifted": 0, "unpatchable": 0}
    assert data["errors"] == [{"subject": str(missing), "reason": "No such file or directory"}]
    assert run.err == f"pkgres-patcher: {missing}: No such file or directory\n"


def test_apply_json_lists_the_wheels_left_alone(site: Path, tmp_path: Path) -> None:
    wheel = tmp_path / download("pip", PIP).name
    shutil.copy(download("pip", PIP), wheel)
    with zipfile.ZipFile(wheel) as zf:
        member_sha = hashlib.sha256(zf.read(VENDORED)).hexdigest()
    run = cli("apply", "--json", str(tmp_path))
    assert run.code == 0
    data = run.json
    assert list(data) == ["schema", "dry_run", "copies", "counts", "left_alone", "errors"]
    assert (data["schema"], data["dry_run"], data["errors"]) == ("pkgres-patcher/apply/1", False, [])
    assert [c["outcome"] for c in data["copies"]] == ["patched", "patched"]
    assert data["counts"]["patched"] == 2 and sum(data["counts"].values()) == 2
    assert data["left_alone"] == [
        {
            "file": str(wheel),
            "member": VENDORED,
            "container": "wheel",
            "vendored_by": "pip",
            "owner": {"name": "pip", "version": PIP},
            "upstream": {"name": "setuptools", "version": "70.3.0"},
            "sha256": member_sha,
            "conflicts": [],
            "bundled_by": None,
            "via": None,
            "manager": None,
        }
    ]
    run = cli("revert", "--json", "--dry-run", "--diff", str(site))
    data = run.json
    assert (data["schema"], data["dry_run"]) == ("pkgres-patcher/revert/1", True)
    assert [c["diff"].splitlines()[:2] for c in data["copies"]] == [
        [f"--- a/{VENDORED}", f"+++ b/{VENDORED}"],
        [f"--- a/{PKG}", f"+++ b/{PKG}"],
    ]


@pytest.mark.parametrize("command", ["locate", "apply"])
def test_a_run_that_stops_still_prints_its_json(site: Path, tmp_path: Path, command: str) -> None:
    missing = tmp_path / "no-patch-set"
    run = cli(command, "--json", "--patches", str(missing), str(site))
    assert run.code == 1
    assert run.err == f"pkgres-patcher: {missing}/series: No such file or directory\n"
    data = run.json
    assert (data["copies"], data["errors"]) == (
        [],
        [{"subject": f"{missing}/series", "reason": "No such file or directory"}],
    )
    assert set(data["counts"].values()) == {0}


def _consts(schema: dict[str, Any], name: str) -> list[str]:
    return [word["const"] for word in schema["$defs"][name]["oneOf"]]


def test_the_schemas_are_valid_and_speak_the_models_words() -> None:
    schemas = {name: load_schema(name) for name in SCHEMA_FILES}
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    locate, apply, drift, refresh = (schemas[n] for n in ("locate", "apply", "drift", "refresh"))
    # every word of the model, in the model's order, and no other (locate never says absent or unknown)
    assert _consts(apply, "state") == [s.value for s in State]
    assert _consts(locate, "state") == [s.value for s in State if s not in (State.ABSENT, State.UNKNOWN)]
    assert _consts(apply, "outcome") == [o.value for o in Outcome]
    for schema in (locate, apply):
        assert _consts(schema, "container") == [c.value for c in Container]
        assert _consts(schema, "action") == [a.value for a in Action if a is not Action.PARTIAL]  # drift's only
        assert _consts(schema, "manager") == [m.value for m in Manager]
    for schema in (drift, refresh):
        assert _consts(schema, "status") == [s.value for s in Status]
    # the counts have a key per word
    assert locate["$defs"]["state_counts"]["required"] == _consts(locate, "state")
    assert apply["$defs"]["outcome_counts"]["required"] == [o.value for o in Outcome]
    assert drift["$defs"]["status_counts"]["required"] == [s.value for s in Status]
    # what two schemas share is the same
    for name in ("fit", "dist", "error", "container", "action", "manager", "package"):
        assert locate["$defs"][name] == apply["$defs"][name], name
    for name in ("result", "patch_result", "dist", "error", "status"):
        assert refresh["$defs"][name] == drift["$defs"][name], name
    assert locate["$defs"]["error"] == drift["$defs"]["error"]


def test_the_docs_document_every_word() -> None:
    json_format = (ROOT / "docs" / "reference" / "json.rst").read_text()
    words = [*State, *Outcome, *Container, *(a for a in Action if a is not Action.PARTIAL)]
    assert [w.value for w in words if f"``{w.value}``" not in json_format] == []
    for name in SCHEMA_FILES:
        assert f"patcher/schemas/{name}.schema.json" in json_format
    drift_section = (ROOT / "docs" / "reference" / "commands" / "drift.rst").read_text()
    assert [s.value for s in Status if f"``{s.value}``" not in drift_section] == []


def test_the_wheel_ships_the_schemas(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".venv"),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--disable-pip-version-check",
            "--quiet",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        check=True,
    )
    [wheel] = (tmp_path / "dist").glob("pkgres_patcher-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        shipped = {n: zf.read(n) for n in zf.namelist() if n.startswith("patcher/schemas/")}
    assert sorted(shipped) == [f"patcher/schemas/{name}.schema.json" for name in sorted(SCHEMA_FILES)]
    for name, data in shipped.items():
        assert data == (importlib.resources.files("patcher") / "schemas" / Path(name).name).read_bytes()


# --- drift --json and refresh --json -----------------------------------------------------------------


def test_drift_json_is_format_json_with_a_schema_and_its_errors(tmp_path: Path) -> None:
    patches = make_patchset(tmp_path / "patches")
    links = tmp_path / "links"
    links.mkdir()
    shutil.copy(download("setuptools", "60.0.0"), links)
    opts = offline(links, tmp_path / "c", patches)
    run = cli("drift", "setuptools==60.0.0", "--json", *opts)
    assert run.code == 0
    assert run.out == cli("drift", "setuptools==60.0.0", "--format", "json", *opts).out
    data = run.json
    assert list(data) == ["schema", "results", "summary", "errors"]
    assert (data["schema"], data["errors"]) == ("pkgres-patcher/drift/1", [])

    run = cli("drift", "setuptools==1234.0", "--json", *opts)
    assert run.code == 3
    data = run.json
    assert data["errors"] == [{"subject": "setuptools==1234.0", "reason": "no release found through pip"}]
    assert (data["results"], data["summary"]["releases"]) == ([], 0)

    run = cli("drift", "--json", "--format", "html", *opts)
    assert (run.code, run.out) == (2, "")
    assert run.err.splitlines()[-1] == "pkgres-patcher drift: argument --format: not allowed with argument --json"

    run = cli("drift", "--json", *offline(links, tmp_path / "c", tmp_path / "no-patch-set"))
    assert run.code == 1
    assert run.json == {
        "schema": "pkgres-patcher/drift/1",
        "results": [],
        "summary": None,
        "errors": [{"subject": f"{tmp_path}/no-patch-set/series", "reason": "No such file or directory"}],
    }


def test_drift_quiet_lists_only_what_drifts(tmp_path: Path) -> None:
    patches = make_patchset(tmp_path / "patches")
    links = tmp_path / "links"
    links.mkdir()
    shutil.copy(download("setuptools", "60.0.0"), links)
    shutil.copy(download("pkg-resources-backport", "1.0.1"), links)
    argv = ("drift", "setuptools==60.0.0", "pkg-resources-backport==1.0.1", *offline(links, tmp_path / "c", patches))
    full = cli(*argv)
    quiet = cli(*argv, "--quiet")
    assert (full.code, quiet.code) == (1, 1)
    table = full.out.split("\n\n")[0].splitlines()
    assert [row.split()[:3] for row in table] == [
        ["PROJECT", "VERSION", "STATUS"],
        ["pkg-resources-backport", "1.0.1", "fails"],
        ["setuptools", "60.0.0", "clean"],
    ]
    # the rows that are fine are left out; the summary stays
    assert quiet.out == "\n".join(table[:2]) + "\n\n" + full.out.split("\n\n", 1)[1]


@pytest.fixture
def future(tmp_path: Path) -> Path:
    """setuptools 99.0.0, made up: 40 lines more at the top and the line before the patched one rewritten."""
    links = tmp_path / "links"
    links.mkdir()
    old, new = b"        path = os.path.normpath(path)\n", b"        path = os.path.normpath(os.fspath(path))\n"
    remake_wheel(download("setuptools", "61.0.0"), links, "99.0.0", lambda t: b"# moved\n" * 40 + t.replace(old, new))
    return links


def test_refresh_json(future: Path, tmp_path: Path) -> None:
    patches = make_patchset(tmp_path / "patches")
    opts = offline(future, tmp_path / "c", patches)
    run = cli("refresh", "zip-manifest-load", "--for", "setuptools==99.0.0", "--json", *opts)
    assert (run.code, run.err) == (0, "")
    data = run.json
    assert list(data) == ["schema", "refreshed", "errors"]
    assert (data["schema"], data["errors"]) == ("pkgres-patcher/refresh/1", [])
    refreshed = data["refreshed"]
    assert {k: v for k, v in refreshed.items() if k != "result"} == {
        "path": str(patches / "zip-manifest-load" / "setuptools-99.0.0.patch"),
        "variant": "zip-manifest-load/setuptools-99.0.0",
        "derived_from": "zip-manifest-load/modern",
        "fuzz": 3,
    }
    assert (refreshed["result"]["version"], refreshed["result"]["status"]) == ("99.0.0", "offset")

    run = cli("refresh", "zip-manifest-load", "--for", "setuptools==98.0.0", "--json", *opts)
    assert run.code == 3
    assert run.json == {
        "schema": "pkgres-patcher/refresh/1",
        "refreshed": None,
        "errors": [{"subject": "setuptools==98.0.0", "reason": "no release found through pip"}],
    }
    run = cli("refresh", "nope", "--for", "setuptools==99.0.0", "--json", *opts)
    assert run.code == 1
    assert run.json["errors"] == [
        {
            "subject": f"{patches}/series",
            "reason": "no patch named 'nope' (patches: zip-manifest-load, find-eggs-in-zip)",
        }
    ]


# --- the reader going away ----------------------------------------------------------------------------


def test_a_reader_that_went_away_is_no_traceback(site: Path) -> None:
    """``pkgres-patcher locate | head -1``: the pipe closes before everything is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # closed before the first write: every write fails with EPIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "patcher", "locate", str(site)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (1, b"")


# --- usage errors: the command's usage, and every line says whose (issue #20) --------------------------


def console(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``pkgres-patcher *argv`` run as a process, its output caught as text."""
    return subprocess.run([sys.executable, "-m", "patcher", *argv], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["apply", "--fuzz", "x"], "pkgres-patcher apply: argument --fuzz: not a whole number: 'x'"),
        (["locate", "--bogus"], "pkgres-patcher locate: unrecognized arguments: --bogus"),
        (
            ["revert", "--output", "out"],
            "pkgres-patcher revert: --output: name the wheels or eggs to write patched (PATH ...)",
        ),
        (
            ["drift", "setuptools>>=1"],
            "pkgres-patcher drift: not a requirement: 'setuptools>>=1' "
            "(Expected semicolon (after name with no version specifier) or end)",
        ),
        (["lock", "F", "--", "true"], "pkgres-patcher lock: --shared or --exclusive: one is required"),
        (
            ["lock", "--shared", "F"],
            "pkgres-patcher lock: COMMAND: nothing to run (pkgres-patcher lock --shared LOCKFILE -- COMMAND [ARGS...])",
        ),
        (
            ["lock", "--shared", "F", "--timeout", "-1", "--", "true"],
            "pkgres-patcher lock: argument -w/--timeout: must be a number of seconds, 0 or more, got -1",
        ),
        (
            ["pip", "--", "--python", "x", "list"],
            "pkgres-patcher pip: pip --python: pip would act on another environment: "
            "name it with pkgres-patcher pip --python EXE",
        ),
    ],
)
def test_a_usage_error_shows_the_commands_usage_and_names_the_command(
    argv: list[str], message: str, tmp_path: Path
) -> None:
    proc = console(*argv, cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (2, "")
    lines = proc.stderr.splitlines()
    assert lines[0].startswith(f"usage: pkgres-patcher {argv[0]} "), proc.stderr
    assert lines[-1] == message
    assert all(line.startswith(" ") for line in lines[1:-1]), proc.stderr  # the usage, wrapped, and the line
    assert list(tmp_path.iterdir()) == []


# --- --help says what the docs say (issue #20) ----------------------------------------------------


def help_text(command: str) -> str:
    """``pkgres-patcher COMMAND --help`` as a process, on a line wide enough that nothing wraps."""
    proc = subprocess.run(
        [sys.executable, "-m", "patcher", command, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "400"},
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    return proc.stdout


def option_help(command: str, option: str) -> str:
    """The help of one option, as ``--help`` prints it."""
    found = re.search(rf"^  (?:-\w, )?{option}(?: [A-Z]+)?  +(.*)$", help_text(command), re.M)
    assert found is not None, (command, option)
    return found.group(1)


def test_help_of_verify_jobs_and_quick_says_what_they_do() -> None:
    assert option_help("verify", "--jobs") == (
        "processes of the fault sweep run at once, each forked from a server in the copy's interpreter "
        "(default: the CPUs usable)"
    )
    assert option_help("verify", "--quick") == "race replay and same listing only (no fault sweep)"
    page = " ".join((ROOT / "docs" / "reference" / "commands" / "verify.rst").read_text().split())  # as one line
    assert "*fault sweep* (not with ``--quick``)" in page and "*same listing*" in page
    assert "(``--jobs`` processes at once, each forked from a server in the target interpreter" in page
    assert option_help("locate", "--jobs").startswith("processes sharing the walk of a large tree")


def test_help_of_revert_says_revert() -> None:
    assert option_help("revert", "--wheels") == (
        "also revert wheels lying in the scanned trees or bundled with an interpreter "
        "(artefacts, left alone unless named as a PATH)"
    )
    assert option_help("revert", "--fuzz") == (
        "let the reversed hunks fit by ignoring up to N outer context lines (reported as fuzz; default 0: exact "
        "or offset only)"
    )
    assert option_help("revert", "--output").startswith("write the wheels and zipped eggs named as PATH reverted")
    assert "patch" not in option_help("revert", "--wheels") + option_help("revert", "--output")
    assert option_help("apply", "--wheels").startswith("also patch wheels")


def test_lock_usage_shows_a_mode_is_required() -> None:
    usage = "usage: pkgres-patcher lock [-h] (-s | -x) [-w S] LOCKFILE -- COMMAND [ARGS...]"
    assert help_text("lock").splitlines()[0] == usage  # the docs' usage is made from the same parser


@pytest.mark.parametrize("command", ["apply", "revert"])
def test_dry_run_and_check_are_exclusive(command: str, site: Path) -> None:
    assert "[--dry-run | --check]" in help_text(command).splitlines()[0]
    before = snapshot(site)
    proc = console(command, "--dry-run", "--check", str(site))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert (
        proc.stderr.splitlines()[-1]
        == f"pkgres-patcher {command}: argument --check: not allowed with argument --dry-run"
    )
    assert snapshot(site) == before


# --- a progress line on a terminal, and how far Ctrl-C let a run get (issue #20) ----------------------


def many_copies(root: Path, count: int) -> Path:
    """``count`` copies of setuptools 81.0.0's ``pkg_resources``, each in a directory of its own."""
    with zipfile.ZipFile(download("setuptools", SETUPTOOLS)) as zf:
        text = zf.read(PKG)
    for number in range(count):
        package = root / f"s{number:03d}" / "pkg_resources"
        package.mkdir(parents=True)
        (package / "__init__.py").write_bytes(text)
    return root


def on_a_terminal(
    argv: list[str], interrupt_after: bytes | None = None, timeout: float = 120
) -> tuple[int, str, bytes]:
    """``pkgres-patcher *argv`` as a process whose stderr is a real terminal (a pty), its stdout a
    pipe: its status, its stdout, and what the terminal got. With ``interrupt_after``, SIGINT is
    sent to it once the terminal has shown that."""
    import pty
    import select
    import signal
    import time

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "patcher", *argv], stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the process is gone, and with it the terminal's last writer
                    break
                if not chunk:
                    break
                seen += chunk
                if interrupt_after is not None and interrupt_after in seen:
                    proc.send_signal(signal.SIGINT)
                    interrupt_after = None
            elif proc.poll() is not None:
                break
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
        return proc.wait(timeout=60), out, seen
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_apply_revert_and_locate_show_progress_on_a_terminal_only(tmp_path: Path) -> None:
    tree = many_copies(tmp_path / "tree", 3)
    copies = [tree / f"s{n:03d}" / PKG for n in range(3)]
    progress = "".join(f"\rLABEL copies: {n}/3" for n in range(4)) + "\r\x1b[K"
    for argv, label, lines in (
        (["apply"], "patching", "".join(line("patched", c) for c in copies) + "3 patched\n"),
        (["locate", "-q"], "judging", "3 copies of pkg_resources: 3 patched\n"),
        (
            ["revert", "--dry-run"],
            "checking",
            "".join(line("would revert", c) for c in copies) + "3 would be reverted\n",
        ),
        (["revert"], "reverting", "".join(line("reverted", c) for c in copies) + "3 reverted\n"),
    ):
        expected_terminal = "" if "-q" in argv else progress.replace("LABEL", label)
        assert on_a_terminal([*argv, str(tree)]) == (0, lines, expected_terminal.encode()), argv
    # not a terminal: not a byte of it
    piped = console("apply", str(tree))
    assert (piped.returncode, piped.stderr) == (0, "")


def test_ctrl_c_says_how_many_copies_were_done(tmp_path: Path) -> None:
    """A real SIGINT to a real run of 200 copies: exit 130, and the line says how far it got;
    the copies done are patched, the one in hand when it came either way, the others untouched."""
    tree = many_copies(tmp_path / "tree", 200)
    code, out, terminal = on_a_terminal(["apply", str(tree)], interrupt_after=b"patching copies: 5/200")
    assert (code, out) == (130, "")
    said = terminal.decode().rsplit("\r\x1b[K", 1)[1]
    found = re.fullmatch(r"pkgres-patcher: interrupted: (\d+) of 200 copies done\r\n", said)
    assert found is not None, terminal[-300:]
    done = int(found.group(1))
    assert 5 <= done < 200
    counts = cli("locate", "--json", "--no-cache", str(tree)).json["counts"]
    assert counts["patched"] in (done, done + 1)
    assert counts["patched"] + counts["unpatched"] == 200
