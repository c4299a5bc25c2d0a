"""Drift: how well the patch set fits each upstream release, so that a new release is seen early.

Per (release, copy) a status -- ``clean``, ``offset``, ``fuzz``, ``applied``, ``not-needed``,
``partly-upstream``, ``fails``, ``absent``, ``out-of-range`` -- and, per patch, the variant
series order picks. Checking a text is pure and depends only on its bytes, so identical
sources (same sha256) are checked once, in a process pool when there are many; only the range
check depends on the release.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from patcher.engine.hunks import Mismatch, place_hunks
from patcher.engine.patchset import MEMBER, PatchSet, Variant
from patcher.engine.planning import PatchPlan, plan_copy
from patcher.errors import FetchError, UsageError
from patcher.model import Action, PatchFit, Status
from patcher.releases import workers
from patcher.releases.index import Index, Memo, Release, Source, fetch_all, list_versions, read_sources

__all__ = [
    "DriftReport",
    "FitRange",
    "PatchResult",
    "Result",
    "Summary",
    "VariantSummary",
    "check_releases",
    "check_requirements",
    "check_text",
    "judge",
    "known_project",
    "resolve",
    "run_drift",
    "summarize",
]

#: the most outer context lines a hunk may lose to count as ``fuzz`` (GNU patch's default);
#: a variant that needs more counts as ``fails`` (``refresh`` may still derive a new one from it)
MAX_FUZZ = 2
#: the copies expected in each project's releases (reported as ``absent`` when missing)
EXPECTED_COPY = {
    "setuptools": "pkg_resources/__init__.py",
    "pip": "pip/_vendor/pkg_resources/__init__.py",
    "pkg-resources-backport": "pkg_resources/__init__.py",
}
#: projects looked at when no requirement is given, and pip's fallback range
DEFAULT_PROJECTS = ("setuptools", "pip", "pkg-resources-backport")
PIP_FALLBACK = ">=8.0"
#: below this many distinct sources, a process pool costs more than it saves
POOL_THRESHOLD = 24


# --- checking one text (pure, range-independent) ---------------------------------------------


def _present(text: bytes, variant: Variant) -> list[int] | None:
    """1-based numbers of the hunks already present, when every other hunk still fits; else None."""
    present = []
    for number, hunk in enumerate(variant.hunks(), 1):
        if not isinstance(place_hunks(text, (hunk,)), Mismatch):
            continue
        if isinstance(place_hunks(text, (hunk.reversed(),)), Mismatch):
            return None
        present.append(number)
    return present or None


def _partial(text: bytes, variants: Sequence[Variant]) -> PatchFit | None:
    for variant in variants:
        if variant.spot_absent:
            continue
        present = _present(text, variant)
        if present is not None and len(present) < len(variant.hunks()):
            hunks = ", ".join(f"#{n}" for n in present)
            detail = f"{variant.id}: hunk {hunks} already present upstream"
            return PatchFit(variant.patch, Action.PARTIAL, variant.id, detail=detail)
    return None


def check_text(text: bytes, patchset: PatchSet) -> tuple[PatchFit, ...]:
    """Each patch's fit on one text, planned as ``apply`` plans it (series order, no fuzz); a
    patch that does not fit is tried with fuzz (a change with ``fuzz`` > 0), then for hunks
    already present (partial)."""
    plan = plan_copy(text, patchset, MEMBER)
    fuzzy = plan_copy(text, patchset, MEMBER, fuzz=MAX_FUZZ) if plan.failed else None
    fits = []
    for number, (patch, step) in enumerate(zip(patchset.patches, plan.steps)):
        if step.action is Action.FAIL:
            fits.append(_failed(text, patch.variants, step.failure, fuzzy.steps[number] if fuzzy else None))
        else:
            fits.append(step.fit)
    return tuple(fits)


def _failed(text: bytes, variants: Sequence[Variant], failure: str | None, fuzzy: PatchPlan | None) -> PatchFit:
    patch = variants[0].patch
    if fuzzy is not None and fuzzy.action is Action.CHANGE and fuzzy.variant is not None:
        detail = f"{fuzzy.variant.id}: fits only with fuzz {fuzzy.fuzz}"
        return PatchFit(patch, Action.CHANGE, fuzzy.variant.id, fuzzy.offsets, fuzzy.fuzz, detail)
    partial = _partial(text, variants)
    if partial is not None:
        return partial
    return PatchFit(patch, Action.FAIL, detail=f"{patch}: {failure}")


# --- judging a release (ranges) --------------------------------------------------------------


class PatchResult(NamedTuple):
    """One patch on one (release, copy): its fit judged against the declared ranges."""

    patch: str
    status: Status
    variant: str | None
    offsets: tuple[int, ...] = ()
    fuzz: int = 0
    detail: str | None = None


class Result(NamedTuple):
    """One (release, copy): its status (the worst of its patches') and each patch's result."""

    project: str
    version: str
    copy: str
    status: Status
    patches: tuple[PatchResult, ...] = ()
    sha256: str | None = None
    identities: tuple[tuple[str, str], ...] = ()
    detail: str | None = None

    @property
    def drift(self) -> bool:
        return self.status.drift


def _by_id(patchset: PatchSet) -> dict[str, Variant]:
    return {v.id: v for v in patchset.variants}


def _in_no_range(variants: Iterable[Variant], identities: Sequence[tuple[str, str]]) -> bool:
    answers = [v.in_range(identities) for v in variants]
    return bool(answers) and all(a is False for a in answers)


def _judge_one(fit: PatchFit, patchset: PatchSet, identities: Sequence[tuple[str, str]]) -> PatchResult:
    known = ", ".join(f"{n} {v}" for n, v in identities)
    if fit.action is Action.CHANGE and fit.fuzz:
        return PatchResult(fit.patch, Status.FUZZ, fit.variant, fit.offsets, fit.fuzz, fit.detail)
    variant = _by_id(patchset).get(fit.variant or "")
    in_place = fit.action in (Action.CHANGE, Action.DONE, Action.NOT_NEEDED)
    if in_place and variant is not None and variant.in_range(identities) is False:
        detail = f"{variant.id} fits, but {known} is outside its declared range"
        return PatchResult(fit.patch, Status.OUT_OF_RANGE, variant.id, fit.offsets, 0, detail)
    if fit.action is Action.CHANGE:
        status = Status.OFFSET if any(fit.offsets) else Status.CLEAN
        return PatchResult(fit.patch, status, fit.variant, fit.offsets)
    if fit.action is Action.DONE:
        return PatchResult(fit.patch, Status.APPLIED, fit.variant, fit.offsets, 0, fit.detail)
    if fit.action is Action.NOT_NEEDED:
        detail = f"{fit.variant}: the release's code has no such spot"
        return PatchResult(fit.patch, Status.NOT_NEEDED, fit.variant, fit.offsets, 0, detail)
    if fit.action is Action.PARTIAL:
        return PatchResult(fit.patch, Status.PARTLY_UPSTREAM, fit.variant, (), 0, fit.detail)
    variants = next((p.variants for p in patchset.patches if p.name == fit.patch), ())
    if _in_no_range(variants, identities):
        detail = f"{fit.detail} ({known} is outside every variant's declared range)"
        return PatchResult(fit.patch, Status.OUT_OF_RANGE, None, (), 0, detail)
    return PatchResult(fit.patch, Status.FAILS, None, (), 0, fit.detail)


def _worst(results: Sequence[PatchResult]) -> Status:
    """The copy's status: its worst patch's; a patch not needed in this era changes nothing."""
    statuses = {r.status for r in results} - {Status.NOT_NEEDED}
    if not statuses and results:
        return Status.NOT_NEEDED
    if statuses == {Status.APPLIED}:
        return Status.APPLIED
    if Status.APPLIED in statuses and statuses <= {Status.APPLIED, Status.CLEAN, Status.OFFSET}:
        return Status.PARTLY_UPSTREAM
    return next((s for s in Status if s in statuses), Status.CLEAN)


def _copy_detail(status: Status, results: Sequence[PatchResult]) -> str | None:
    if status is Status.PARTLY_UPSTREAM:
        upstream = [r for r in results if r.status in (Status.APPLIED, Status.PARTLY_UPSTREAM)]
        return "; ".join(r.detail or f"{r.patch}: already present upstream" for r in upstream)
    if status is Status.OFFSET:
        moved = [r for r in results if r.status is Status.OFFSET]
        return "; ".join(f"{r.patch}: offset {', '.join(f'{o:+d}' for o in r.offsets)}" for r in moved)
    return "; ".join(r.detail for r in results if r.status is status and r.detail) or None


def judge(
    release: Release, source: Source, fits: Sequence[PatchFit], patchset: PatchSet, vendored: str | None
) -> Result:
    """The result of one (release, copy): the text's fits put against the declared ranges."""
    identities = _identities(release, source, vendored)
    results = tuple(_judge_one(fit, patchset, identities) for fit in fits)
    status = _worst(results)
    return Result(
        release.project,
        str(release.version),
        source.copy,
        status,
        results,
        source.sha256,
        identities,
        _copy_detail(status, results),
    )


def _identities(release: Release, source: Source, vendored: str | None) -> tuple[tuple[str, str], ...]:
    """What a copy's ranges are matched by: for a vendored copy, the vendored setuptools first."""
    own = (release.project, str(release.version))
    if "/_vendor/" in source.copy and vendored:
        return (("setuptools", vendored), own)
    return (own,)


# --- which releases ------------------------------------------------------------------------


def _parse_requirement(text: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise UsageError("not a requirement", f"{text!r} ({str(exc).splitlines()[0]})") from None


def known_project(req: Requirement) -> str:
    """The canonical name of ``req``'s project, when it is one whose copies are known; a
    :class:`UsageError` otherwise -- before any pip process is started, which for another project
    would fetch (and, for an sdist, build) releases that hold no copy to check."""
    project = canonicalize_name(req.name)
    if project not in EXPECTED_COPY:
        known = ", ".join(DEFAULT_PROJECTS[:-1]) + f" and {DEFAULT_PROJECTS[-1]}"
        raise UsageError(req.name, f"no known copy of pkg_resources in it (only {known} are checked)")
    return project


def check_requirements(requirements: Sequence[str]) -> list[Requirement]:
    """Each requirement parsed, its project one whose copies are known (else :class:`UsageError`)."""
    parsed = [_parse_requirement(r) for r in requirements]
    for req in parsed:
        known_project(req)
    return parsed


def default_requirements(patchset: PatchSet) -> list[Requirement]:
    """The union of the patch set's declared ranges per project (pip: its own lines, else >= 8.0)."""
    by_project: dict[str, list[SpecifierSet]] = {}
    for variant in patchset.variants:
        for req in variant.ranges:
            by_project.setdefault(canonicalize_name(req.name), []).append(req.specifier)
    wanted = []
    for project in DEFAULT_PROJECTS:
        specs = by_project.get(project)
        if specs is None:
            wanted.append(Requirement(f"{project}{PIP_FALLBACK}" if project == "pip" else project))
        else:
            wanted.extend(Requirement(f"{project}{spec}") for spec in specs)
    return wanted


def _matches(req: Requirement, version: Version) -> bool:
    return req.specifier.contains(version, prereleases=bool(req.specifier.prereleases))


def _list_or_error(project: str, index: Index) -> list[Version] | FetchError:
    try:
        return list_versions(project, index)
    except FetchError as exc:
        return exc


def resolve(requirements: Sequence[str], patchset: PatchSet, index: Index) -> tuple[list[Release], list[FetchError]]:
    """The releases to check, oldest first per project; with no requirement: the covered ones + newest."""
    explicit = check_requirements(requirements)
    reqs = explicit or default_requirements(patchset)
    projects = list(dict.fromkeys(canonicalize_name(r.name) for r in reqs))
    releases: list[Release] = []
    errors: list[FetchError] = []
    # one pip process per project, at once
    listings = workers.parallel_map(lambda p: _list_or_error(p, index), projects, len(projects))
    for project, versions in zip(projects, listings):
        if isinstance(versions, FetchError):
            errors.append(versions)
            continue
        mine = [r for r in reqs if canonicalize_name(r.name) == project]
        chosen = {v for v in versions for r in mine if _matches(r, v)}
        if not explicit:
            stable = [v for v in versions if not v.is_prerelease]
            chosen.update(stable[-1:])
        for r in mine:
            if not any(_matches(r, v) for v in versions):
                errors.append(FetchError(str(r), "no release found through pip"))
        releases.extend(Release(project, v) for v in sorted(chosen))
    return releases, errors


# --- the whole run -------------------------------------------------------------------------


class FitRange(NamedTuple):
    """The releases of one project a variant is picked for (in range or not)."""

    first: str
    last: str
    releases: int
    #: a specifier for ``Upstream-Releases``: ``project>=first``, ``<`` the next release that does not take it
    suggested: str


class VariantSummary(NamedTuple):
    variant: str
    declared: tuple[str, ...]
    fits: dict[str, FitRange]


class Summary(NamedTuple):
    """What a drift run adds up to."""

    releases: int
    counts: dict[Status, int]
    distinct_sources: int
    drift: bool
    #: per project, the oldest release that drifts
    first_drift: dict[str, Result]
    variants: tuple[VariantSummary, ...]


class DriftReport(NamedTuple):
    results: list[Result]
    errors: list[FetchError]
    summary: Summary
    #: the patch set's patches, in series order
    patches: tuple[str, ...] = ()
    #: what the run could not do as usual and did otherwise (e.g. where it kept the releases)
    notes: tuple[str, ...] = ()

    @property
    def drift(self) -> bool:
        return any(r.drift for r in self.results)


_WORKER_PATCHSET: PatchSet | None = None


def _init_worker(patchset: PatchSet) -> None:
    global _WORKER_PATCHSET
    _WORKER_PATCHSET = patchset
    # a Ctrl-C at the terminal reaches the whole process group: the parent stops the pool,
    # and the workers say nothing (no traceback of theirs)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _check_in_worker(text: bytes) -> tuple[PatchFit, ...]:
    assert _WORKER_PATCHSET is not None
    return check_text(text, _WORKER_PATCHSET)


def _check_unique(texts: Mapping[str, bytes], patchset: PatchSet, jobs: int) -> dict[str, tuple[PatchFit, ...]]:
    """Check each distinct text once (by sha256); a process pool when there are enough of them."""
    keys = sorted(texts)
    processes = min(jobs, os.cpu_count() or 1)
    if len(keys) < POOL_THRESHOLD or processes < 2:
        return {k: check_text(texts[k], patchset) for k in keys}
    # leaving the block terminates the workers: an interrupted run does not wait for them
    with multiprocessing.Pool(processes, initializer=_init_worker, initargs=(patchset,)) as pool:
        chunk = max(1, len(keys) // (processes * 4))
        return dict(zip(keys, pool.map(_check_in_worker, [texts[k] for k in keys], chunksize=chunk)))


def _read_or_error(archive: str, memo: Memo) -> tuple[list[Source], str | None] | FetchError:
    try:
        return read_sources(archive, memo)
    except FetchError as exc:
        return exc


def check_releases(
    archives: Mapping[Release, str], patchset: PatchSet, jobs: int = 1
) -> tuple[list[Result], list[FetchError]]:
    """Read every release's copies, check each distinct source once, judge each (release, copy)."""
    read: dict[Release, tuple[list[Source], str | None]] = {}
    errors: list[FetchError] = []
    ordered = sorted(archives)
    memo: Memo = {}
    # threads: inflating releases the GIL, so reading overlaps on several cores
    for release, got in zip(ordered, workers.parallel_map(lambda r: _read_or_error(archives[r], memo), ordered, jobs)):
        if isinstance(got, FetchError):
            errors.append(FetchError(release.label, got.reason))
        else:
            read[release] = got
    texts = {s.sha256: s.data for sources, _ in read.values() for s in sources}
    fits = _check_unique(texts, patchset, jobs)
    results = []
    for release, (sources, vendored) in read.items():
        if not sources:
            copy = EXPECTED_COPY.get(release.project, "pkg_resources/__init__.py")
            results.append(
                Result(
                    release.project,
                    str(release.version),
                    copy,
                    Status.ABSENT,
                    detail=f"{release.label} has no pkg_resources",
                )
            )
        for source in sources:
            results.append(judge(release, source, fits[source.sha256], patchset, vendored))
    return results, errors


def run_drift(
    requirements: Sequence[str],
    patchset: PatchSet,
    index: Index,
    cache_dir: str,
    jobs: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> DriftReport:
    """Resolve, fetch (in parallel, cached), check and summarize; fetch problems are collected."""
    releases, errors = resolve(requirements, patchset, index)
    archives, fetch_errors = fetch_all(releases, cache_dir, index, jobs, progress)
    results, read_errors = check_releases(archives, patchset, jobs)
    patches = tuple(p.name for p in patchset.patches)
    return DriftReport(results, errors + fetch_errors + read_errors, summarize(results, patchset), patches)


# --- summary ---------------------------------------------------------------------------------

_FITS = frozenset({Status.CLEAN, Status.OFFSET, Status.APPLIED, Status.NOT_NEEDED})


def _suggest(fits: Sequence[Version], checked: Sequence[Version]) -> str:
    """``>=first`` and, when a later checked release does not fit, ``<`` that release."""
    first, last = fits[0], fits[-1]
    later = [v for v in checked if v > last]
    return f">={first},<{later[0]}" if later else f">={first}"


def summarize(results: Sequence[Result], patchset: PatchSet) -> Summary:
    """Per variant: first/last release it fits (in range or not) and a suggested specifier; first drift."""
    checked: dict[str, list[Version]] = {}
    fits: dict[tuple[str, str], list[Version]] = {}
    for result in results:
        version = Version(result.version)
        checked.setdefault(result.project, []).append(version)
        for patch in result.patches:
            if patch.variant is not None and (patch.status in _FITS or patch.status is Status.OUT_OF_RANGE):
                fits.setdefault((patch.variant, result.project), []).append(version)
    variants = []
    for variant in patchset.variants:
        per_project = {}
        for project in sorted(checked):
            found = sorted(set(fits.get((variant.id, project), [])))
            if found:
                suggested = f"{project}{_suggest(found, sorted(set(checked[project])))}"
                per_project[project] = FitRange(str(found[0]), str(found[-1]), len(found), suggested)
        variants.append(VariantSummary(variant.id, tuple(str(r) for r in variant.ranges), per_project))
    first_drift: dict[str, Result] = {}
    for result in sorted(results, key=lambda r: (r.project, Version(r.version))):
        if result.drift and result.project not in first_drift:
            first_drift[result.project] = result
    return Summary(
        releases=len({(r.project, r.version) for r in results}),
        counts={s: sum(1 for r in results if r.status is s) for s in Status},
        distinct_sources=len({r.sha256 for r in results if r.sha256}),
        drift=any(r.drift for r in results),
        first_drift=first_drift,
        variants=tuple(variants),
    )
