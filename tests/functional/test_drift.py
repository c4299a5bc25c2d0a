"""``drift``: real releases through pip (cached), an offline find-links directory, made-up releases."""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from patcher.cli import main

from ..conftest import DRIFT_PATCHES, RELEASES, cli, download, make_patchset, pkg_resources_of, remake_wheel

SPREAD = (
    "setuptools==44.0.0",
    "setuptools==60.0.0",
    "setuptools==61.0.0",
    "setuptools==82.0.0",
    "pip==10.0.0",
    "pip==10.0.1",
    "pip==22.0",
)

#: ``drift`` printing its JSON report, without the progress line
DRIFT_JSON = ("drift", "--format", "json", "--quiet")


@pytest.fixture
def patches(tmp_path: Path) -> Path:
    return make_patchset(tmp_path / "patches")


def statuses(data: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(r["project"], r["version"]): r["status"] for r in data["results"]}


def row(data: dict[str, Any], project: str, version: str) -> dict[str, Any]:
    return next(r for r in data["results"] if (r["project"], r["version"]) == (project, version))


def test_spread_of_real_releases_through_pip(patches: Path) -> None:
    run = cli(*DRIFT_JSON, *SPREAD, "--patches", str(patches), "--cache-dir", str(RELEASES))
    code, data, err = run.code, run.json, run.err
    assert err == ""
    assert statuses(data) == {
        ("setuptools", "44.0.0"): "clean",
        ("setuptools", "60.0.0"): "clean",
        ("setuptools", "61.0.0"): "offset",
        ("setuptools", "82.0.0"): "absent",
        ("pip", "10.0.0"): "offset",
        ("pip", "10.0.1"): "offset",
        ("pip", "22.0"): "clean",  # vendors setuptools 44.0.0's pkg_resources
    }
    assert code == 0
    clean = row(data, "setuptools", "60.0.0")
    assert clean == {
        "project": "setuptools",
        "version": "60.0.0",
        "copy": "pkg_resources/__init__.py",
        "status": "clean",
        "variant": {"zip-manifest-load": "zip-manifest-load/modern", "find-eggs-in-zip": "find-eggs-in-zip/modern"},
        "offsets": {"zip-manifest-load": [0], "find-eggs-in-zip": [0]},
        "detail": None,
        "sha256": clean["sha256"],
        "identities": [{"name": "setuptools", "version": "60.0.0"}],
        "patches": clean["patches"],
    }
    assert row(data, "setuptools", "61.0.0")["offsets"] == {"zip-manifest-load": [6], "find-eggs-in-zip": [6]}
    pip22 = row(data, "pip", "22.0")
    assert pip22["copy"] == "pip/_vendor/pkg_resources/__init__.py"
    assert pip22["identities"] == [{"name": "setuptools", "version": "44.0.0"}, {"name": "pip", "version": "22.0"}]
    assert row(data, "setuptools", "82.0.0")["detail"] == "setuptools 82.0.0 has no pkg_resources"
    summary = data["summary"]
    assert summary["drift"] is False
    assert summary["first_drift"] == {}
    assert summary["variants"][0] == {
        "variant": "zip-manifest-load/modern",
        "declared": ["setuptools>=44", "pip>=10"],
        "fits": {
            "pip": {"first": "10.0.0", "last": "22.0", "releases": 3, "suggested": "pip>=10.0.0"},
            "setuptools": {
                "first": "44.0.0",
                "last": "61.0.0",
                "releases": 3,
                "suggested": "setuptools>=44.0.0,<82.0.0",
            },
        },
    }


def test_crlf_pip_10_copies_fit_and_the_json_names_their_offsets(patches: Path) -> None:
    run = cli(*DRIFT_JSON, "pip>=10,<10.1", "--patches", str(patches), "--cache-dir", str(RELEASES))
    code, data = run.code, run.json
    assert code == 0
    assert [(r["version"], r["status"]) for r in data["results"]] == [("10.0.0", "offset"), ("10.0.1", "offset")]
    for r in data["results"]:
        assert all(o != 0 for offsets in r["offsets"].values() for o in offsets)
        assert r["identities"] == [{"name": "pip", "version": r["version"]}]  # pip 10 has no vendor.txt


def test_a_real_release_that_does_not_fit_fails_with_patch_hunk_and_line(patches: Path) -> None:
    # pkg-resources-backport writes "PKG-INFO" with double quotes: find-eggs-in-zip no longer fits
    run = cli(*DRIFT_JSON, "pkg-resources-backport==1.0.1", "--patches", str(patches), "--cache-dir", str(RELEASES))
    code, data = run.code, run.json
    assert code == 1
    (result,) = data["results"]
    assert result["status"] == "fails"
    assert result["variant"] == {"zip-manifest-load": "zip-manifest-load/modern", "find-eggs-in-zip": None}
    failing = result["patches"][1]
    assert failing["status"] == "fails"
    assert failing["detail"].startswith("find-eggs-in-zip: find-eggs-in-zip/modern: hunk #1: line ")
    assert failing["detail"].endswith(
        "expected \"    if metadata.has_metadata('PKG-INFO'):\", found '    if metadata.has_metadata(\"PKG-INFO\"):'"
    )
    assert data["summary"]["first_drift"]["pkg-resources-backport"]["version"] == "1.0.1"


@pytest.fixture
def find_links(tmp_path: Path) -> Path:
    """A find-links directory built from real wheels fetched through pip."""
    links = tmp_path / "links"
    links.mkdir()
    for requirement in ("setuptools==60.0.0", "setuptools==61.0.0", "setuptools==82.0.0", "pip==22.0"):
        name, version = requirement.split("==")
        shutil.copy(download(name, version), links)
    return links


def test_offline_find_links_and_a_fresh_cache(patches: Path, find_links: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    argv = (
        "setuptools>=60",
        "pip",
        "--no-index",
        "--find-links",
        str(find_links),
        "--cache-dir",
        str(cache),
        "--patches",
        str(patches),
    )
    run = cli(*DRIFT_JSON, *argv)
    code, data = run.code, run.json
    assert code == 0
    assert statuses(data) == {
        ("setuptools", "60.0.0"): "clean",
        ("setuptools", "61.0.0"): "offset",
        ("setuptools", "82.0.0"): "absent",
        ("pip", "22.0"): "clean",
    }
    assert sorted(p.name for p in (cache / "releases" / "setuptools").iterdir()) == sorted(
        p.name for p in find_links.iterdir() if p.name.startswith("setuptools")
    )
    # a second run reads the cache (the find-links directory may be gone)
    shutil.rmtree(find_links)
    find_links.mkdir()
    run = cli(
        *DRIFT_JSON,
        "setuptools==61.0.0",
        "--no-index",
        "--find-links",
        str(find_links),
        "--cache-dir",
        str(cache),
        "--patches",
        str(patches),
    )
    code, _ = run.code, run.json  # a JSON report still
    # listing goes through pip, which sees no release now: that is a fetch problem
    assert code == 3


def test_no_requirement_checks_the_covered_range_and_the_newest(
    patches: Path, find_links: Path, tmp_path: Path
) -> None:
    shutil.copy(download("setuptools", "44.0.0"), find_links)
    shutil.copy(download("pkg-resources-backport", "1.0.1"), find_links)
    (patches / "zip-manifest-load" / "modern.patch").write_text(
        (patches / "zip-manifest-load" / "modern.patch").read_text().replace("setuptools>=44\n", "setuptools>=60,<61\n")
    )
    run = cli(
        *DRIFT_JSON,
        "--no-index",
        "--find-links",
        str(find_links),
        "--cache-dir",
        str(tmp_path / "c"),
        "--patches",
        str(patches),
    )
    code, data = run.code, run.json
    # setuptools: the union of the ranges (>=44 and >=60,<61) and the newest (82.0.0); pip>=10; the backport: all
    assert sorted(statuses(data)) == [
        ("pip", "22.0"),
        ("pkg-resources-backport", "1.0.1"),
        ("setuptools", "44.0.0"),
        ("setuptools", "60.0.0"),
        ("setuptools", "61.0.0"),
        ("setuptools", "82.0.0"),
    ]
    assert code == 1  # the backport fails
    # zip-manifest-load/modern fits 61.0.0 but now declares >=60,<61
    assert row(data, "setuptools", "61.0.0")["status"] == "out-of-range"
    assert row(data, "setuptools", "61.0.0")["detail"] == (
        "zip-manifest-load/modern fits, but setuptools 61.0.0 is outside its declared range"
    )


def test_identical_sources_are_checked_once(patches: Path) -> None:
    run = cli(*DRIFT_JSON, "setuptools>=60,<60.1", "--patches", str(patches), "--cache-dir", str(RELEASES))
    code, data = run.code, run.json
    assert code == 0
    releases = data["summary"]["releases"]
    assert releases == 6  # 60.0.0 .. 60.0.5
    assert data["summary"]["distinct_sources"] == len({r["sha256"] for r in data["results"]}) < releases


def test_future_release_that_moved_code_fails_and_exits_1(patches: Path, tmp_path: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    real = download("setuptools", "61.0.0")
    moved = remake_wheel(
        real,
        links,
        "99.0.0",
        lambda text: (
            b"# moved\n" * 40
            + text.replace(
                b"        path = os.path.normpath(path)\n", b"        path = os.path.normpath(os.fspath(path))\n"
            )
        ),
    )
    assert moved.name == "setuptools-99.0.0-py3-none-any.whl"
    run = cli(
        *DRIFT_JSON,
        "setuptools==99.0.0",
        "--no-index",
        "--find-links",
        str(links),
        "--cache-dir",
        str(tmp_path / "c"),
        "--patches",
        str(patches),
    )
    code, data, err = run.code, run.json, run.err
    assert (code, err) == (1, "")
    (result,) = data["results"]
    assert result["status"] == "fails"
    assert result["patches"][0]["detail"] == (
        "zip-manifest-load: zip-manifest-load/modern: hunk #1: line 1733: expected '        path = os.path.normpath(path)', "
        "found '        path = os.path.normpath(os.fspath(path))'"
    )
    assert result["patches"][1]["status"] == "offset"


def test_prepatched_copy_is_applied(patches: Path, tmp_path: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    wheel = Path(shutil.copy(download("setuptools", "60.0.0"), links))
    code, _, err = cli("apply", "--wheels", "--patches", str(patches), str(links))
    assert code == 0, err
    assert pkg_resources_of(wheel) != pkg_resources_of(download("setuptools", "60.0.0"))
    run = cli(
        *DRIFT_JSON,
        "setuptools==60.0.0",
        "--no-index",
        "--find-links",
        str(links),
        "--cache-dir",
        str(tmp_path / "c"),
        "--patches",
        str(patches),
    )
    code, data = run.code, run.json
    assert code == 0
    (result,) = data["results"]
    assert result["status"] == "applied"
    assert [p["status"] for p in result["patches"]] == ["applied", "applied"]


def test_partly_upstream_names_the_spot(patches: Path, tmp_path: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    _, _, before, after = DRIFT_PATCHES[1]
    remake_wheel(download("setuptools", "60.0.0"), links, "98.0.0", lambda text: text.replace(before, after))
    run = cli(
        *DRIFT_JSON,
        "setuptools==98.0.0",
        "--no-index",
        "--find-links",
        str(links),
        "--cache-dir",
        str(tmp_path / "c"),
        "--patches",
        str(patches),
    )
    code, data = run.code, run.json
    assert code == 0
    (result,) = data["results"]
    assert result["status"] == "partly-upstream"
    assert result["detail"] == "find-eggs-in-zip: already present upstream"
    assert [p["status"] for p in result["patches"]] == ["clean", "applied"]


# --- exit statuses and formats ---------------------------------------------------------------


def test_exit_3_names_what_could_not_be_fetched(patches: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = cli(
        "drift",
        "setuptools==1234.0",
        "--no-index",
        "--find-links",
        str(empty),
        "--cache-dir",
        str(tmp_path / "c"),
        "--patches",
        str(patches),
    )
    assert code == 3
    assert err == "pkgres-patcher: cannot fetch setuptools==1234.0: no release found through pip\n"
    assert "0 releases checked: nothing" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ("setuptools>>=1",),
            "pkgres-patcher drift: not a requirement: 'setuptools>>=1' "
            "(Expected semicolon (after name with no version specifier) or end)",
        ),
        (("--jobs", "0"), "pkgres-patcher drift: argument --jobs: must be at least 1, got 0"),
        (
            ("--format", "pdf"),
            "pkgres-patcher drift: argument --format: invalid choice: 'pdf' (choose from 'text', 'json', 'markdown', 'junit', 'html')",
        ),
    ],
)
def test_exit_2_on_usage_errors(argv: tuple[str, ...], message: str, patches: Path) -> None:
    code, out, err = cli("drift", *argv, "--patches", str(patches))
    assert code == 2
    assert out == ""
    assert err.splitlines()[-1] == message


def test_text_markdown_junit_and_output_file(patches: Path, tmp_path: Path) -> None:
    argv = (
        "setuptools==60.0.0",
        "setuptools==82.0.0",
        "pkg-resources-backport==1.0.1",
        "--patches",
        str(patches),
        "--cache-dir",
        str(RELEASES),
    )
    code, text, err = cli("drift", *argv)
    assert (code, err) == (1, "")
    lines = text.splitlines()
    assert lines[0].split() == ["PROJECT", "VERSION", "STATUS", "OFFSETS", "COPY", "DETAIL"]
    assert lines[1].split()[:5] == ["pkg-resources-backport", "1.0.1", "fails", "+296", "pkg_resources/__init__.py"]
    assert lines[2].split() == ["setuptools", "60.0.0", "clean", "-", "pkg_resources/__init__.py"]
    assert "3 releases checked: 1 fails, 1 absent, 1 clean" in text
    assert "first drift in pkg-resources-backport: 1.0.1 (fails)" in text

    code, md, _ = cli("drift", *argv, "--format", "markdown")
    assert code == 1
    assert "**1 of 3 release copies drift** (3 releases checked)" in md
    assert "| pkg-resources-backport | 1.0.1 | `pkg_resources/__init__.py` | **fails** |" in md

    out_file = tmp_path / "report" / "junit.xml"
    out_file.parent.mkdir()
    code, stdout, _ = cli("drift", *argv, "--format", "junit", "--output", str(out_file))
    assert (code, stdout) == (1, "")
    assert os.listdir(out_file.parent) == ["junit.xml"]  # no temporary file left
    root = ET.parse(out_file).getroot()
    cases = {c.get("name", ""): c for c in root.iter("testcase")}
    assert sorted(cases) == [
        "1.0.1 pkg_resources/__init__.py",
        "60.0.0 pkg_resources/__init__.py",
        "82.0.0 pkg_resources/__init__.py",
    ]
    failure = cases["1.0.1 pkg_resources/__init__.py"].find("failure")
    assert failure is not None and failure.get("type") == "fails"
    assert cases["60.0.0 pkg_resources/__init__.py"].find("failure") is None
    assert [s.get("failures") for s in root.iter("testsuite")] == ["1", "0"]


def test_an_output_that_cannot_be_written_is_exit_4_not_drift(patches: Path, tmp_path: Path) -> None:
    """Exit 1 says "drift found": a report that could not be written must not say that (issue #20)."""
    argv = ("setuptools==60.0.0", "--patches", str(patches), "--cache-dir", str(RELEASES), "--quiet")
    missing = tmp_path / "no-such-dir" / "report.json"
    for fmt in ("text", "json"):
        run = cli("drift", *argv, "--format", fmt, "--output", str(missing))
        assert run == (4, "", f"pkgres-patcher: {missing}: No such file or directory\n")
    assert not missing.parent.exists()
    # a run that drifts too: the report is lost, which is what its status says
    drifting = cli("drift", "pkg-resources-backport==1.0.1", *argv, "--output", str(missing))
    assert drifting == (4, "", f"pkgres-patcher: {missing}: No such file or directory\n")
    assert cli("drift", "pkg-resources-backport==1.0.1", *argv).code == 1
    statuses = Path(__file__).resolve().parents[2] / "docs" / "reference" / "exit-statuses.txt"
    table = statuses.read_text().split("\n130\n")[0]
    assert "\n4\n    (``drift``) the report could not be written to ``--output FILE``" in table


def test_the_summary_says_what_a_maintainer_acts_on() -> None:
    """One release checked against the shipped patch set (issue #20): most variants are picked for
    no release, which is one line counting them (named with --verbose, none with --quiet), and
    a single release suggests no range."""
    argv = ("drift", "setuptools==60.0.0", "--cache-dir", str(RELEASES))
    series = (Path(__file__).resolve().parents[2] / "patches" / "series").read_text().splitlines()
    variants = [entry.strip()[: -len(".patch")] for entry in series if entry.strip().endswith(".patch")]
    full, quiet, verbose = cli(*argv), cli(*argv, "--quiet"), cli(*argv, "--verbose")
    assert (full.code, quiet.code, verbose.code) == (0, 0, 0)
    summary = full.out.split("\n\n", 1)[1].splitlines()
    fits = [line for line in summary if ": fits setuptools 60.0.0 (1 release)" in line]
    picked = [line.split(":")[0] for line in fits]
    unused = [v for v in variants if v not in picked]
    assert len(fits) == 7 and len(unused) > 1
    assert summary == [
        "1 releases checked: 1 offset",
        *fits,
        f"{len(unused)} variants picked for no release checked (--verbose names them)",
    ]
    assert quiet.out.splitlines() == summary[:-1]  # nothing drifts: no table, and no count of the unused
    assert verbose.out.split("\n\n", 1)[1].splitlines() == [
        *summary[:-1],
        *(f"{v}: picked for no release checked" for v in unused),
    ]
    assert "suggested" not in full.out + cli(*argv, "--format", "markdown").out.split("| suggested |")[1]


def test_progress_line_only_on_a_terminal(patches: Path) -> None:
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out, err = io.StringIO(), Terminal()
    assert main(["drift", "setuptools==60.0.0", "--patches", str(patches), "--cache-dir", str(RELEASES)], out, err) == 0
    assert err.getvalue() == "\rfetching releases: 1/1\r\x1b[K"
    err = Terminal()
    assert (
        main(
            ["drift", "setuptools==60.0.0", "--quiet", "--patches", str(patches), "--cache-dir", str(RELEASES)],
            out,
            err,
        )
        == 0
    )
    assert err.getvalue() == ""


def test_a_spot_the_era_lacks_is_not_needed_and_its_anchor_is_judged(tmp_path: Path) -> None:
    """setuptools 0.9.8 and pip 1.5.6 have no memoized zip manifest: zip-manifest-load's
    ``Spot: absent`` variant says so, within its declared range; without it they fail."""
    from patcher.locations import default_patches_dir

    shipped = tmp_path / "patches"
    shutil.copytree(str(default_patches_dir()), shipped)
    argv = (*DRIFT_JSON, "setuptools==0.9.8", "pip==1.5.6", "--cache-dir", str(RELEASES), "--patches", str(shipped))
    run = cli(*argv)
    assert (run.code, run.err) == (0, "")
    assert statuses(run.json) == {("setuptools", "0.9.8"): "offset", ("pip", "1.5.6"): "offset"}
    for project, version, copy in (
        ("setuptools", "0.9.8", "pkg_resources.py"),
        ("pip", "1.5.6", "pip/_vendor/pkg_resources.py"),
    ):
        result = row(run.json, project, version)
        assert result["copy"] == copy
        (load,) = [p for p in result["patches"] if p["patch"] == "zip-manifest-load"]
        assert load == {
            "patch": "zip-manifest-load",
            "status": "not-needed",
            "variant": "zip-manifest-load/setuptools-0.7",
            "offsets": load["offsets"],
            "fuzz": 0,
            "detail": "zip-manifest-load/setuptools-0.7: the release's code has no such spot",
        }
        assert {p["status"] for p in result["patches"]} <= {"not-needed", "offset", "clean"}
    assert run.json["summary"]["counts"]["not-needed"] == 0  # a status of patches, never of a whole copy

    variant = shipped / "zip-manifest-load" / "setuptools-0.7.patch"
    variant.write_text(variant.read_text().replace(" setuptools>=0.7,<5.4\n", " setuptools>=0.7,<0.9\n"))
    run = cli(*argv)
    assert run.code == 1
    assert row(run.json, "setuptools", "0.9.8")["detail"] == (
        "zip-manifest-load/setuptools-0.7 fits, but setuptools 0.9.8 is outside its declared range"
    )
    assert row(run.json, "pip", "1.5.6")["status"] == "offset"

    series = shipped / "series"
    series.write_text(series.read_text().replace("zip-manifest-load/setuptools-0.7.patch\n", ""))
    run = cli(*argv)
    assert run.code == 1
    assert statuses(run.json) == {("setuptools", "0.9.8"): "out-of-range", ("pip", "1.5.6"): "out-of-range"}
    assert row(run.json, "pip", "1.5.6")["detail"].startswith("zip-manifest-load: zip-manifest-load/")
