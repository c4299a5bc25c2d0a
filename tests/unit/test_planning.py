"""Planning a text: a patch whose spot some eras lack (``Spot: absent``), a patch carried in the
Python-3 form ``upstream`` hands on (issue #22). Pure, no files."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from patcher.engine.hunks import apply_hunks, place_hunks
from patcher.engine.patchset import Patch, PatchSet, parse_variant
from patcher.engine.planning import plan_copy
from patcher.model import Action, State, Status
from patcher.releases.drift import check_text, judge
from patcher.releases.index import Release, Source

from .test_patchset import HEADER

#: the spot of the newer era, and the code that shows a text is of the older era without it
SPOT = b"    mtime = os.stat(path).st_mtime\n"
GUARDED = b"    try:\n        mtime = os.stat(path).st_mtime\n    except OSError:\n        return {}\n"
ANCHOR = b"    zipinfo = build_zipmanifest(archive)\n"

NEWER = """\
--- a/__init__.py
+++ b/__init__.py
@@ -1,3 +1,6 @@
 def load(path):
-    mtime = os.stat(path).st_mtime
+    try:
+        mtime = os.stat(path).st_mtime
+    except OSError:
+        return {}
     return mtime
"""
OLDER = """\
--- a/__init__.py
+++ b/__init__.py
@@ -1,2 +1,2 @@
 def __init__(self, archive):
     zipinfo = build_zipmanifest(archive)
"""

noise = st.lists(st.sampled_from([b"x = 1\n", b"\n", b"# comment\n", b"def f():\n", b"    return x\n"]), max_size=30)


def patch_set(absent_variant: bool = True) -> PatchSet:
    """One patch, parsed as the shipped set is: its variant for the newer era, then (or not) the
    older era's ``Spot: absent`` anchor."""
    newer = parse_variant(HEADER + NEWER, "spot", "newer", "spot/newer.patch")
    absent = HEADER.replace("Upstream-Releases:", "Spot: absent\nUpstream-Releases:")
    older = parse_variant(absent + OLDER, "spot", "older", "spot/older.patch")
    return PatchSet("p", (Patch("spot", (newer, older) if absent_variant else (newer,)),))


PATCHES = patch_set()


@settings(max_examples=60, deadline=None)
@given(before=noise, after=noise)
def test_an_older_era_text_is_not_needed_both_ways_and_never_changed(before: list[bytes], after: list[bytes]) -> None:
    patchset = PATCHES
    text = b"".join(before) + b"def __init__(self, archive):\n" + ANCHOR + b"".join(after)
    for revert in (False, True):
        plan = plan_copy(text, patchset, revert=revert)
        (step,) = plan.steps
        assert (step.action, step.fit.variant) == (Action.NOT_NEEDED, "spot/older")
        assert plan.result == text
        assert plan.state is State.PATCHED


@settings(max_examples=60, deadline=None)
@given(before=noise, after=noise)
def test_a_newer_era_text_takes_the_change_even_beside_the_anchor(before: list[bytes], after: list[bytes]) -> None:
    patchset = PATCHES
    # the anchor also present: the real variant comes first in series order and wins
    older = b"def __init__(self, archive):\n" + ANCHOR
    text = b"".join(before) + b"def load(path):\n" + SPOT + b"    return mtime\n" + older + b"".join(after)
    plan = plan_copy(text, patchset)
    assert [s.action for s in plan.steps] == [Action.CHANGE]
    assert plan.state is State.UNPATCHED
    assert GUARDED in plan.result
    again = plan_copy(plan.result, patchset)
    assert ([s.action for s in again.steps], again.state) == ([Action.DONE], State.PATCHED)
    assert plan_copy(plan.result, patchset, revert=True).result == text


def test_without_the_absent_variant_an_older_text_is_drifted() -> None:
    text = b"def __init__(self, archive):\n" + ANCHOR
    plan = plan_copy(text, patch_set(absent_variant=False))
    assert plan.state is State.DRIFTED
    assert [s.action for s in plan.steps] == [Action.FAIL]


#: a spot written for code that may still run on Python 2, as the older eras' variants are
PY2 = """\
--- a/__init__.py
+++ b/__init__.py
@@ -1,3 +1,6 @@
 def requires(dist, req):
-    new = dist.requires(req.extras)
+    try:
+        new = dist.requires(req.extras)
+    except (IOError, OSError):
+        raise DistributionNotFound(req)
     return new
"""
PRISTINE = b"def requires(dist, req):\n    new = dist.requires(req.extras)\n    return new\n"


def test_a_patch_carried_as_upstream_hands_it_to_a_python3_tree_is_patched_applied_and_revertible() -> None:
    """Issue #22: ``upstream`` hands a Python-3-only tree ``except OSError`` where the variant
    says ``except (IOError, OSError)``; the tree that merged it must read as patched (``apply``:
    nothing to do, ``drift``: applied), not drifted."""
    variant = parse_variant(HEADER + PY2, "resolve", "py2", "resolve/py2.patch")
    patchset = PatchSet("p", (Patch("resolve", (variant,)),))
    as_written = plan_copy(PRISTINE, patchset).result
    handed_on = as_written.replace(b"except (IOError, OSError):", b"except OSError:")

    plan = plan_copy(handed_on, patchset)
    (step,) = plan.fits
    assert (plan.state, step.action, step.variant) == (State.PATCHED, Action.DONE, "resolve/py2")
    assert step.detail == "resolve/py2: in its Python-3 form (except OSError), as upstream hands it on"
    assert plan.result == handed_on
    # drift's terms: applied upstream
    fits = check_text(handed_on, patchset)
    source = Source("pkg_resources/__init__.py", handed_on, "0" * 64)
    result = judge(Release("setuptools", Version("81.0.0")), source, fits, patchset, None)
    assert [r.status for r in result.patches] == [Status.APPLIED] and result.status is Status.APPLIED
    # reverting undoes it like the variant's own result
    assert plan_copy(handed_on, patchset, revert=True).result == PRISTINE
    # the variant as written is planned as before (no detail)
    again = plan_copy(as_written, patchset)
    assert (again.state, again.fits[0].detail) == (State.PATCHED, None)
    # the form recognised is the one upstream makes: one rewrite for both
    from patcher.engine.patchset import python3_only

    assert python3_only(as_written) == handed_on
    python3 = variant.python3().hunks()
    found = place_hunks(PRISTINE, python3)
    assert isinstance(found, list) and apply_hunks(PRISTINE, python3, found) == handed_on
