"""The patch set: series order, DEP-3 headers, ranges, malformed input (exact messages)."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from patcher.engine.patchset import DEP3_FIELDS, load_patchset
from patcher.errors import PatchSetError

HEADER = """\
Description: Demo change
 A longer explanation.
Author: tests
Origin: vendor
Bug: https://github.com/sagemath/sage/issues/21435
Forwarded: no
Applied-Upstream: no
Last-Update: 2026-11-23
Upstream-Releases:
 setuptools>=60,<82
 pip>=23
---
"""

DIFF = """\
--- a/__init__.py
+++ b/__init__.py
@@ -1,3 +1,3 @@
 a
-b
+B
 c
"""


def write_set(root: Path, series: str, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "series").write_text(series)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_shipped_patch_set_loads_with_full_headers() -> None:
    patchset = load_patchset()
    assert patchset.patches, "the shipped series lists no patch"
    for variant in patchset.variants:
        for field in DEP3_FIELDS:
            assert variant.header[field], f"{variant.id} lacks {field}"
        assert "21435" in variant.header["Bug"]
        assert variant.ranges
        assert all(fp.path == "__init__.py" for fp in variant.files)


def test_series_order_not_glob_order(tmp_path: Path) -> None:
    root = write_set(
        tmp_path / "p",
        "zz-last/new.patch\nzz-last/old.patch\naa-first/only.patch\n",
        {"zz-last/new.patch": HEADER + DIFF, "zz-last/old.patch": HEADER + DIFF, "aa-first/only.patch": HEADER + DIFF},
    )
    patchset = load_patchset(str(root))
    assert [p.name for p in patchset.patches] == ["zz-last", "aa-first"]
    assert [v.name for v in patchset.patches[0].variants] == ["new", "old"]


def test_ranges_are_pep440(tmp_path: Path) -> None:
    root = write_set(tmp_path / "p", "x/v.patch\n", {"x/v.patch": HEADER + DIFF})
    variant = load_patchset(str(root)).variants[0]
    assert variant.in_range([("setuptools", "70.3.0")]) is True
    assert variant.in_range([("setuptools", "82.0.0")]) is False
    assert variant.in_range([("setuptools", "44.0.0"), ("pip", "23.1")]) is True
    assert variant.in_range([("something-else", "1.0")]) is None
    assert Version("81.0.0") in variant.ranges[0].specifier


@pytest.mark.parametrize(
    ("series", "files", "message"),
    [
        ("x/v.patch\n", {}, "x/v.patch: No such file or directory"),
        ("v.patch\n", {}, "series: line 1: expected '<patch>/<variant>.patch', got 'v.patch'"),
        ("x/v.patch\nx/v.patch\n", {"x/v.patch": HEADER + DIFF}, "series: line 2: x/v.patch is listed twice"),
        ("# nothing\n", {}, "series: lists no patch"),
        (
            "x/v.patch\n",
            {"x/v.patch": HEADER.replace("Forwarded: no\n", "") + DIFF},
            "x/v.patch: DEP-3 header lacks Forwarded",
        ),
        (
            "x/v.patch\n",
            {"x/v.patch": HEADER.replace(" setuptools>=60,<82\n", " setuptools>>60\n") + DIFF},
            "x/v.patch: Upstream-Releases: 'setuptools>>60' is not a requirement",
        ),
        ("x/v.patch\n", {"x/v.patch": HEADER}, "x/v.patch: no diff found after the header"),
        (
            "x/v.patch\n",
            {"x/v.patch": HEADER + "--- a/__init__.py\n+++ b/__init__.py\n@@ -1,3 +1,3 @@\n a\n"},
            "x/v.patch: malformed diff",
        ),
        (
            "x/v.patch\n",
            {"x/v.patch": HEADER + "--- a/logo.png\n+++ b/logo.png\nBinary files a/logo.png and b/logo.png differ\n"},
            "x/v.patch: binary diff for logo.png is not supported",
        ),
    ],
)
def test_malformed_patch_sets_are_named(tmp_path: Path, series: str, files: dict[str, str], message: str) -> None:
    root = write_set(tmp_path / "p", series, files)
    with pytest.raises(PatchSetError) as info:
        load_patchset(str(root))
    assert str(info.value).startswith(str(root) + "/")
    assert message in str(info.value)
    assert "\n" not in str(info.value)  # one line, whatever the parser said


def test_missing_series(tmp_path: Path) -> None:
    with pytest.raises(PatchSetError) as info:
        load_patchset(str(tmp_path))
    assert str(info.value) == f"{tmp_path}/series: No such file or directory"


ANCHOR = """\
--- a/__init__.py
+++ b/__init__.py
@@ -1,2 +1,2 @@
 a
 b
"""


@pytest.mark.parametrize(
    ("header", "diff", "message"),
    [
        (
            HEADER.replace("Upstream-Releases:", "Spot: absent\nUpstream-Releases:"),
            DIFF,
            "x/v.patch: 'Spot: absent' declares nothing to change, but the diff changes lines",
        ),
        (
            HEADER,
            ANCHOR,
            "x/v.patch: the diff changes nothing (a variant for an era without the spot says 'Spot: absent')",
        ),
        (
            HEADER.replace("Upstream-Releases:", "Spot: gone\nUpstream-Releases:"),
            ANCHOR,
            "x/v.patch: Spot: 'gone' is not understood (the one value is 'absent')",
        ),
    ],
)
def test_a_variant_changes_its_spot_or_declares_it_absent(tmp_path: Path, header: str, diff: str, message: str) -> None:
    root = write_set(tmp_path / "p", "x/v.patch\n", {"x/v.patch": header + diff})
    with pytest.raises(PatchSetError) as info:
        load_patchset(str(root))
    assert str(info.value) == f"{root}/{message}"


def test_shipped_spot_absent_variants_only_name_context() -> None:
    absent = [v for v in load_patchset().variants if v.spot_absent]
    assert [v.id for v in absent] == ["zip-manifest-load/setuptools-0.7"]
    for variant in absent:
        assert {line.kind for hunk in variant.hunks() for line in hunk.lines} == {" "}
        assert variant.header["Forwarded"] == "not-needed"


def test_a_spot_absent_variant_goes_after_those_that_change_the_spot(tmp_path: Path) -> None:
    absent = HEADER.replace("Upstream-Releases:", "Spot: absent\nUpstream-Releases:") + ANCHOR
    files = {"x/old.patch": absent, "x/new.patch": HEADER + DIFF}
    assert [
        v.id for v in load_patchset(str(write_set(tmp_path / "ok", "x/new.patch\nx/old.patch\n", files))).variants
    ] == [
        "x/new",
        "x/old",
    ]
    root = write_set(tmp_path / "p", "x/old.patch\nx/new.patch\n", files)
    with pytest.raises(PatchSetError) as info:
        load_patchset(str(root))
    assert str(info.value) == f"{root}/series: x/old declares the spot absent, so it goes after x/new, which changes it"
