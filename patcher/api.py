"""The library: what each command does, as functions that return results and raise
:class:`~patcher.errors.PatcherError`. The command line is a thin layer over these.

Only what finding copies needs is imported here. The planner (the patch set's parser and its
dependencies) is imported when a copy has to be planned: ``inspect`` answered from the state
cache does without it, and that is most of ``locate``'s speed (see benchmarks/bench_locate.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from patcher.errors import PatcherError, UsageError
from patcher.model import Container, Copy, CopyResult, Report
from patcher.scan.rules import DIGEST_CHECKING_SEEDERS
from patcher.scan.syspath import TIMEOUT
from patcher.scan.walk import ScanResult, scan
from patcher.statecache import open_cache, state_key

if TYPE_CHECKING:
    from patcher.engine.patchset import PatchSet
    from patcher.handoff.export import ExportReport, Layout
    from patcher.handoff.upstream import Target, Upstreamed
    from patcher.releases.drift import DriftReport
    from patcher.releases.refresh import Refreshed
    from patcher.scan.syspath import Interpreter
    from patcher.verification.results import VerifyReport

__all__ = [
    "Progress",
    "VerifyProgress",
    "apply",
    "drift",
    "export",
    "upstream",
    "inspect",
    "locate",
    "refresh",
    "revert",
    "select",
    "verify",
]

#: ``verify``'s progress: called with a short line saying what runs now
VerifyProgress = Callable[[str], None]
#: ``inspect``'s, ``apply``'s and ``revert``'s progress: called with the copies done and their
#: number, first with none done (once the copies are found), then after each copy
Progress = Callable[[int, int], None]


def locate(
    paths: Iterable[str] = (),
    *,
    pythons: Iterable[str] = (),
    python_timeout: float = TIMEOUT,
    jobs: int = 1,
    exclude: Iterable[str] = (),
    one_file_system: bool = False,
) -> ScanResult:
    """Find every copy below ``paths`` and on the ``sys.path`` of each interpreter in
    ``pythons`` (and in the wheels its ``ensurepip`` bundles); with neither, the running
    interpreter's. Each of ``pythons`` has ``python_timeout`` seconds to answer (else it is
    ended, with every process it started: :class:`~patcher.errors.InterpreterError`, as when it is
    not a Python interpreter or fails).

    With ``jobs`` > 1, a large tree is walked by that many processes (the result is the same).
    ``exclude`` globs leave paths out; ``one_file_system`` keeps each walk on its PATH's device.
    """
    paths = list(paths)
    interpreters = _interpreters(paths, list(pythons), python_timeout)
    return scan(paths, interpreters, jobs=jobs, exclude=exclude, one_file_system=one_file_system)


def _interpreters(paths: Sequence[str], pythons: Sequence[str], python_timeout: float) -> list[Interpreter]:
    """The interpreters whose ``sys.path`` is a target: ``pythons``, else (no ``paths``) the running one."""
    if "" in paths:  # an unset variable: "the current directory" would be a surprise
        raise UsageError("PATH", "empty argument '' (an unset variable?)")
    if not pythons and paths:
        return []
    from patcher.scan.syspath import current_interpreter, probe

    return [probe(python, python_timeout) for python in pythons] if pythons else [current_interpreter()]


def _load_patchset(patches: str | None) -> PatchSet:
    from patcher.engine.patchset import load_patchset

    return load_patchset(patches)


def inspect(
    paths: Iterable[str] = (),
    *,
    pythons: Iterable[str] = (),
    python_timeout: float = TIMEOUT,
    jobs: int = 1,
    patches: str | None = None,
    cache: bool = True,
    exclude: Iterable[str] = (),
    one_file_system: bool = False,
    cache_dir: str | None = None,
    progress: Progress | None = None,
) -> Report:
    """Every copy with its state and each patch's fit (what ``locate`` prints); ``progress`` is
    told of each copy judged.

    A state depends on the copy's bytes alone: copies with the same bytes (every venv's pip of
    one release) are planned once, and, with ``cache``, once only across runs (in ``states`` of
    ``cache_dir``, default :func:`patcher.locations.user_cache_dir`).
    """
    states = open_cache(patches, enabled=cache, cache_dir=cache_dir)
    # a patch set the cache knows was parsed without error before; any other is parsed (and
    # so checked) even when no copy is found
    patchset = None if states.known else _load_patchset(patches)
    found = locate(
        paths,
        pythons=pythons,
        python_timeout=python_timeout,
        jobs=jobs,
        exclude=exclude,
        one_file_system=one_file_system,
    )
    results: list[CopyResult] = []
    errors: list[PatcherError] = []
    for done, copy in enumerate(found.copies):
        if progress is not None:
            progress(done, len(found.copies))
        key = state_key(copy)
        planned = states.get(key)
        if planned is None:
            from patcher.disk.patching import plan

            patchset = patchset or _load_patchset(patches)
            try:
                result = plan(copy, patchset, found.texts.get(copy.sha256))
            except PatcherError as exc:
                errors.append(exc)
                continue
            planned = (result.state, result.fits)
            states.put(key, planned)
        results.append(CopyResult(copy, *planned))
    if progress is not None:
        progress(len(found.copies), len(found.copies))
    states.save()
    return Report(tuple(results), (*errors, *found.errors))


def select(
    copies: Iterable[Copy], paths: Iterable[str], *, wheels: bool
) -> tuple[list[Copy], list[Copy], tuple[str, ...]]:
    """The copies ``apply``/``revert`` change, those they leave alone, and why some were left
    alone all the same.

    Wheels are artefacts: changed when named (a PATH), or with ``wheels``; the others met in a
    tree or bundled with an interpreter are left alone (and said so). The seeding wheels of a
    tool that checks their digests (virtualenv's ``BUNDLE_SHA256``) are changed with that table;
    where it cannot be found (another version of the tool), only when named.
    """
    from patcher.disk.seeding import why_not

    named = {os.path.realpath(path) for path in paths}
    chosen: list[Copy] = []
    left_alone: list[Copy] = []
    reasons: dict[str, None] = {}
    for copy in copies:
        is_named = os.path.realpath(copy.file) in named
        asked = wheels or copy.container is not Container.WHEEL or is_named
        if asked and wheels and not is_named and copy.bundled_by in DIGEST_CHECKING_SEEDERS:
            # a tool that checks its seeding wheels' digests refuses a changed one, and then
            # creates no environment at all: changed only with its table, or when named
            why = why_not(copy)
            if why is not None:
                reasons[
                    f"{copy.file}: left alone: {why}: changed, it would be refused (name it to patch it all the same)"
                ] = None
                asked = False
        (chosen if asked else left_alone).append(copy)
    return chosen, left_alone, tuple(reasons)


def _change(
    paths: Iterable[str],
    pythons: Iterable[str],
    jobs: int,
    patches: str | None,
    *,
    revert: bool,
    dry_run: bool,
    fuzz: int,
    wheels: bool,
    exclude: Iterable[str],
    one_file_system: bool,
    lock_dir: str | None,
    cache_dir: str | None,
    output: str | None = None,
    python_timeout: float = TIMEOUT,
    progress: Progress | None = None,
) -> Report:
    if output is not None and not dry_run:  # each named archive changed in a copy, in output
        from patcher.disk.artefacts import check_named_archives, publish, staged

        paths = list(paths)
        check_named_archives(paths, pythons, output)
        with staged(paths, output) as staging:
            report = _change(
                list(staging.targets),
                (),
                jobs,
                patches,
                revert=revert,
                dry_run=False,
                fuzz=fuzz,
                wheels=wheels,
                exclude=exclude,
                one_file_system=one_file_system,
                lock_dir=lock_dir,
                cache_dir=cache_dir,
                progress=progress,
            )
            return publish(staging, report)
    from patcher.bytecode.compiler import Compiler
    from patcher.disk.patching import change, prepare
    from patcher.locations import lock_place, using

    paths, pythons = list(paths), list(pythons)
    patchset = _load_patchset(patches)
    place = lock_place(lock_dir)  # once, before any copy: a lock directory that cannot be had is one error
    found = locate(
        paths,
        pythons=pythons,
        python_timeout=python_timeout,
        jobs=jobs,
        exclude=exclude,
        one_file_system=one_file_system,
    )
    chosen, left_alone, reasons = select(found.copies, paths, wheels=wheels)
    compiler = Compiler(pythons)
    results: list[CopyResult] = []
    if progress is not None:
        progress(0, len(chosen))
    with using(lock_dir=place.path, cache_dir=cache_dir):
        if not dry_run:
            prepare(chosen, patchset, compiler, revert=revert, fuzz=fuzz)  # byte-code: a child per interpreter
        for copy in chosen:
            results.append(change(copy, patchset, revert=revert, dry_run=dry_run, fuzz=fuzz, compiler=compiler))
            if progress is not None:
                progress(len(results), len(chosen))
    notes = (*((place.note,) if place.note else ()), *reasons)
    return Report(tuple(results), found.errors, tuple(left_alone), notes)


def apply(
    paths: Iterable[str] = (),
    *,
    pythons: Iterable[str] = (),
    python_timeout: float = TIMEOUT,
    jobs: int = 1,
    patches: str | None = None,
    dry_run: bool = False,
    fuzz: int = 0,
    wheels: bool = False,
    exclude: Iterable[str] = (),
    one_file_system: bool = False,
    lock_dir: str | None = None,
    cache_dir: str | None = None,
    output: str | None = None,
    progress: Progress | None = None,
) -> Report:
    """Patch every copy found (as :func:`locate` finds them): all patches or none per copy,
    atomically, under each copy's lock (in ``lock_dir``, default
    :func:`patcher.locations.lock_place`). An archive that cannot be rewritten back byte for byte
    is kept as it was in ``cache_dir``'s ``originals``. Wheels are artefacts: patched when named in ``paths``,
    else only with ``wheels`` (those left alone are listed in ``Report.left_alone``). With ``output``
    (a directory), the wheels and zipped eggs named in ``paths`` are written patched there, under
    the same names, and left untouched themselves. ``progress`` is told of each copy done."""
    return _change(
        paths,
        pythons,
        jobs,
        patches,
        revert=False,
        dry_run=dry_run,
        fuzz=fuzz,
        wheels=wheels,
        exclude=exclude,
        one_file_system=one_file_system,
        lock_dir=lock_dir,
        cache_dir=cache_dir,
        output=output,
        python_timeout=python_timeout,
        progress=progress,
    )


def revert(
    paths: Iterable[str] = (),
    *,
    pythons: Iterable[str] = (),
    python_timeout: float = TIMEOUT,
    jobs: int = 1,
    patches: str | None = None,
    dry_run: bool = False,
    fuzz: int = 0,
    wheels: bool = False,
    exclude: Iterable[str] = (),
    one_file_system: bool = False,
    lock_dir: str | None = None,
    cache_dir: str | None = None,
    output: str | None = None,
    progress: Progress | None = None,
) -> Report:
    """Give every patched copy its original bytes back (and its RECORD its original hash);
    ``output`` as for :func:`apply`."""
    return _change(
        paths,
        pythons,
        jobs,
        patches,
        revert=True,
        dry_run=dry_run,
        fuzz=fuzz,
        wheels=wheels,
        exclude=exclude,
        one_file_system=one_file_system,
        lock_dir=lock_dir,
        cache_dir=cache_dir,
        output=output,
        python_timeout=python_timeout,
        progress=progress,
    )


def drift(
    requirements: Sequence[str] = (),
    *,
    patches: str | None = None,
    find_links: Sequence[str] = (),
    no_index: bool = False,
    cache_dir: str | None = None,
    jobs: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> DriftReport:
    """How the patch set fits upstream releases (PEP 508 ``requirements``; none: every release
    the patch set covers, and the newest), fetched into ``releases`` of ``cache_dir`` (default
    :func:`patcher.locations.user_cache_dir`; a temporary directory of the user's when it cannot be
    written: the report's ``notes`` say so). Only setuptools, pip and pkg-resources-backport are
    checked (others: :class:`~patcher.errors.UsageError`, before anything is fetched)."""
    from patcher.locations import cache_place
    from patcher.releases.drift import check_requirements, run_drift
    from patcher.releases.index import Index

    check_requirements(requirements)
    patchset = _load_patchset(patches)
    place = cache_place("releases", cache_dir)
    report = run_drift(requirements, patchset, Index(tuple(find_links), no_index), place.path, jobs, progress)
    return report._replace(notes=(place.note,) if place.note else ())


def refresh(
    patch: str,
    requirement: str,
    *,
    patches: str | None = None,
    find_links: Sequence[str] = (),
    no_index: bool = False,
    cache_dir: str | None = None,
    note: Callable[[str], None] | None = None,
) -> Refreshed:
    """Write a new variant of ``patch`` for the newest release matching ``requirement`` (from the
    nearest variant, with fresh context), added to the series before that variant: into
    ``patches`` (default: the checkout's ``patches/``; an installed patch set is refused). The
    release is fetched as :func:`drift` fetches it; ``note`` is told where it went when that is not
    the usual place."""
    from patcher.releases.index import Index
    from patcher.releases.refresh import refresh as refresh_variant

    return refresh_variant(patch, requirement, Index(tuple(find_links), no_index), cache_dir, patches, note=note)


def verify(
    paths: Iterable[str] = (),
    *,
    pythons: Iterable[str] = (),
    python_timeout: float = TIMEOUT,
    jobs: int = 1,
    quick: bool = False,
    patches: str | None = None,
    exclude: Iterable[str] = (),
    one_file_system: bool = False,
    wheels: bool = False,
    progress: VerifyProgress | None = None,
    run_with: Iterable[str] = (),
) -> VerifyReport:
    """Run every copy found (as :func:`locate` finds them: ``paths`` and the ``sys.path`` of
    ``pythons``) in a real interpreter against a scratch site whose distributions vanish while
    it scans; nothing of the user's tree is written.

    Each copy runs on the first of ``run_with`` (else the interpreter of ``pythons`` whose
    ``sys.path`` or ensurepip holds it, its prefix's own interpreter, the ``pythonX.Y`` its path
    names, the running one, the Pythons its release supported) on which its pristine text runs;
    ``run_with`` adds no target. ``jobs`` probe processes at once; ``quick`` skips the fault sweep.
    Copies in wheels are verified as :func:`apply` patches them: when named, or with ``wheels``
    (the others are listed in ``VerifyReport.left_alone``).
    """
    from patcher.pythons import holders
    from patcher.verification.results import VerifyReport
    from patcher.verification.run import verify_copy

    paths, run_with = list(paths), list(run_with)
    patchset = _load_patchset(patches)
    interpreters = _interpreters(paths, list(pythons), python_timeout)
    found = scan(paths, interpreters, jobs=jobs, exclude=exclude, one_file_system=one_file_system)
    chosen, left_alone, _reasons = select(found.copies, paths, wheels=wheels)
    results = tuple(
        verify_copy(
            copy,
            patchset,
            run_with,
            holders=holders(copy, interpreters),
            quick=quick,
            jobs=jobs,
            progress=progress,
        )
        for copy in chosen
    )
    return VerifyReport(results, found.errors, tuple(left_alone))


def export(
    requirement: str,
    layout: Layout,
    output: str,
    *,
    patches: str | None = None,
    find_links: Sequence[str] = (),
    no_index: bool = False,
    cache_dir: str | None = None,
) -> ExportReport:
    """Write the variant of each patch that fits the one release ``requirement`` pins
    (``name==version``; else :class:`UsageError`) as ``-p1`` patch files in directory ``output``,
    made whole or not at all (an existing one must be empty or a previous export: else
    :class:`~patcher.errors.ExportError`). The release is fetched as :func:`drift` fetches it
    (``layout`` wheel: a wheel; else the sdist, as a file, never built); a patch that does not
    fit is an :class:`~patcher.errors.ExportError`, and nothing is written."""
    from patcher.handoff.export import export_release, pinned_release
    from patcher.releases.index import Index

    pinned_release(requirement)  # a usage error before the patch set is read or anything fetched
    patchset = _load_patchset(patches)
    return export_release(requirement, layout, output, patchset, Index(tuple(find_links), no_index), cache_dir)


def upstream(
    target: Target, source: str, *, output: str | None = None, commit: bool = False, patches: str | None = None
) -> tuple[Upstreamed, bytes]:
    """The fix for the upstream tree ``source`` as an mbox (and what it holds), checked with
    ``git apply --check``; written to ``output`` when given; with ``commit``, applied by ``git am``
    on a new branch of the checkout. A tree whose copy carries the fix already (as ``upstream``
    or ``export`` hands it on, or as ``apply`` writes it) gets nothing: ``done.made`` is false,
    the mbox empty, nothing written or committed. Errors: :class:`~patcher.errors.ExportError`, :class:`UsageError`."""
    import dataclasses

    from patcher.handoff.upstream import commit_mbox, upstream_patch, write_mbox

    patchset = _load_patchset(patches)
    mbox, done = upstream_patch(target, source, patchset)
    if not done.made:  # the tree carries the fix: nothing to write or commit
        return done, mbox
    if output is not None:
        write_mbox(output, mbox)
    branch = commit_mbox(source, mbox) if commit else None
    return dataclasses.replace(done, output=output or "-", branch=branch), mbox
