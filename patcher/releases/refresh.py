"""Refresh: write a new variant of a patch for an upstream release that no variant fits any more.

Like ``quilt refresh``: the nearest variant (the first in series order that fits with the least
fuzz) is applied to the release's ``pkg_resources``, and the diff is generated afresh against
that release (3 lines of context, ``a/__init__.py`` / ``b/__init__.py``). The new variant gets
the nearest variant's DEP-3 header with today's ``Last-Update`` and a range naming the release,
and goes into ``series`` just before the variant it was derived from, so that it is picked first.
"""

from __future__ import annotations

import datetime
import difflib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from patcher.disk.atomic import write_text
from patcher.engine.hunks import Placement, apply_hunks, place_hunks
from patcher.engine.patchset import RANGES_FIELD, Patch, PatchSet, Variant, load_patchset
from patcher.errors import FetchError, RefreshError, UsageError, reason
from patcher.locations import cache_place, checkout_patches_dir, default_patches_dir
from patcher.model import Status
from patcher.releases.drift import MAX_FUZZ, PatchResult, Result, check_text, judge, known_project
from patcher.releases.index import Index, Release, Source, fetch, list_versions, read_sources

__all__ = ["Refreshed", "refresh"]

CONTEXT = 3


@dataclass(frozen=True)
class Refreshed:
    """The variant written, what it was derived from (and with how much fuzz), and its drift result."""

    path: str
    variant: str
    derived_from: str
    fuzz: int
    result: Result


def _requirement(text: str) -> Requirement:
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise UsageError("--for", f"not a requirement: {text!r} ({str(exc).splitlines()[0]})") from None
    known_project(req)
    return req


def _writable_patches(patches_dir: str | None) -> str | None:
    """The patch set to write to: ``patches_dir``, else the default one only when it is a
    checkout's. The one installed inside the package lies in site-packages, outside the
    package's RECORD: a variant written there is lost on reinstall."""
    if patches_dir is not None or checkout_patches_dir() is not None:
        return patches_dir
    raise UsageError(
        "--patches",
        f"refresh writes a new variant into the patch set; the one shipped in {default_patches_dir()} is part of "
        "the installed package (outside its RECORD, lost on reinstall): pass --patches DIR with a checkout's "
        "patch set",
    )


def _patch(patchset: PatchSet, name: str) -> Patch:
    for patch in patchset.patches:
        if patch.name == name:
            return patch
    known = ", ".join(p.name for p in patchset.patches)
    raise RefreshError(f"{patchset.root}/series", f"no patch named {name!r} (patches: {known})")


def _newest(req: Requirement, index: Index) -> tuple[Release, bool]:
    """The newest release matching ``req``, and whether it is the newest release of all."""
    project = canonicalize_name(req.name)
    versions = list_versions(project, index)
    matching = [v for v in versions if req.specifier.contains(v, prereleases=bool(req.specifier.prereleases))]
    if not matching:
        raise FetchError(str(req), "no release found through pip")
    stable = [v for v in versions if not v.is_prerelease] or versions
    return Release(project, matching[-1]), matching[-1] >= stable[-1]


def _source(release: Release, sources: Sequence[Source]) -> Source:
    """pip's vendored copy for pip, the top-level one otherwise."""
    vendored = release.project == "pip"
    for source in sources:
        if ("/_vendor/" in source.copy) == vendored:
            return source
    raise RefreshError(release.label, "has no pkg_resources to refresh a patch for")


def _nearest(text: bytes, patch: Patch) -> tuple[Variant, list[Placement], int]:
    """The variant that fits with the least fuzz (first in series order), up to ignoring all context.

    Beyond what ``drift`` accepts as fuzz: the result is a new diff a person reviews, and is
    checked against the release at once.
    """
    deepest = max((len(h.lines) for v in patch.variants for h in v.hunks()), default=0)
    for fuzz in (*range(MAX_FUZZ + 2), deepest):
        for variant in patch.variants:
            if variant.spot_absent:
                continue
            hunks = variant.hunks()
            placed = place_hunks(text, hunks, fuzz) if hunks else None
            if isinstance(placed, list):
                return variant, placed, fuzz
    raise RefreshError(patch.name, "no variant can be placed even ignoring its context; write the variant by hand")


def _lf_lines(text: bytes) -> list[str]:
    return [line.rstrip("\r\n") + "\n" for line in text.decode("utf-8", "surrogateescape").splitlines(keepends=True)]


def _diff(old: bytes, new: bytes) -> str:
    """A unified diff with fresh context, LF line endings (as every variant is written)."""
    old_lines, new_lines = _lf_lines(old), _lf_lines(new)
    for lines, raw in ((old_lines, old), (new_lines, new)):
        if lines and not raw.endswith((b"\n", b"\r")):
            lines[-1] = lines[-1][:-1] + "\n\\ No newline at end of file\n"
    return "".join(difflib.unified_diff(old_lines, new_lines, "a/__init__.py", "b/__init__.py", n=CONTEXT))


def _header(nearest: Variant, ranges: str, today: datetime.date) -> str:
    """The nearest variant's DEP-3 header, with Last-Update today and the new range."""
    fields = dict(nearest.header)
    fields["Last-Update"] = today.isoformat()
    fields[RANGES_FIELD] = ranges
    lines = []
    for key, value in fields.items():
        first, *rest = value.split("\n")
        lines.append(f"{key}: {first}")
        lines.extend(f" {line}" for line in rest)
    return "\n".join(lines) + "\n"


def _insert_series(series: str, entry: str, before: str) -> str:
    lines = series.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.split("#", 1)[0].strip() == before:
            return "".join(lines[:i] + [entry + "\n"] + lines[i:])
    raise RefreshError("series", f"{before} not found")


def _write_variant(patchset: PatchSet, patch: str, name: str, text: str, before: str) -> str:
    """Write the new variant file (never over an existing one), then ``series``; both atomically."""
    entry = f"{patch}/{name}.patch"
    path = os.path.join(patchset.root, patch, f"{name}.patch")
    series_path = os.path.join(patchset.root, "series")
    if os.path.lexists(path) or any(v.id == f"{patch}/{name}" for v in patchset.variants):
        raise RefreshError(path, f"variant {patch}/{name} already exists; not overwriting it")
    try:
        with open(series_path, encoding="utf-8", newline="") as f:
            series = _insert_series(f.read(), entry, before)
    except OSError as exc:
        raise RefreshError(series_path, reason(exc)) from None
    try:
        write_text(path, text, exclusive=True)
    except FileExistsError:
        raise RefreshError(path, f"variant {patch}/{name} already exists; not overwriting it") from None
    except OSError as exc:
        raise RefreshError(path, reason(exc)) from None
    try:
        write_text(series_path, series)
    except BaseException as exc:
        os.unlink(path)
        if isinstance(exc, OSError):
            raise RefreshError(series_path, reason(exc)) from None
        raise
    return path


def refresh(
    patch_name: str,
    requirement: str,
    index: Index,
    cache_dir: str | None = None,
    patches_dir: str | None = None,
    today: datetime.date | None = None,
    note: Callable[[str], None] | None = None,
) -> Refreshed:
    """Write a variant of ``patch_name`` for the newest release matching ``requirement``, fetched
    into ``releases`` of ``cache_dir`` (see :func:`patcher.locations.cache_place`; ``note`` is told
    when that is not the usual place, and where)."""
    req = _requirement(requirement)
    patchset = load_patchset(_writable_patches(patches_dir))
    patch = _patch(patchset, patch_name)
    place = cache_place("releases", cache_dir)
    if place.note and note is not None:
        note(place.note)
    release, newest = _newest(req, index)
    sources, vendored = read_sources(fetch(release, place.path, index))
    source = _source(release, sources)
    current = _result(release, source, patchset, vendored).get(patch.name)
    if current is not None and current.status is Status.CLEAN:
        raise RefreshError(patch.name, f"{current.variant} already fits {release.label} cleanly; nothing to refresh")
    if current is not None and current.status is Status.NOT_NEEDED:
        raise RefreshError(
            patch.name, f"{current.variant} declares the spot absent in {release.label}; nothing to refresh"
        )
    base = source.data  # every variant is a diff against the pristine upstream file
    nearest, placements, fuzz = _nearest(base, patch)
    new = apply_hunks(base, nearest.hunks(), placements)
    ranges = f"{release.project}{'>=' if newest else '=='}{release.version}"
    text = _header(nearest, ranges, today or datetime.date.today()) + "---\n" + _diff(base, new)
    name = f"{release.project}-{release.version}"
    path = _write_variant(patchset, patch.name, name, text, f"{nearest.id}.patch")
    updated = load_patchset(patchset.root)
    result = judge(release, source, check_text(source.data, updated), updated, vendored)
    return Refreshed(path, f"{patch.name}/{name}", nearest.id, fuzz, result)


def _result(release: Release, source: Source, patchset: PatchSet, vendored: str | None) -> Mapping[str, PatchResult]:
    """Each patch's drift result on the release, before refreshing."""
    result = judge(release, source, check_text(source.data, patchset), patchset, vendored)
    return {p.patch: p for p in result.patches}
