"""Changing copies on disk: apply or revert the patch set on one copy, under its lock.

Per copy it is all or nothing: every patch of the set is planned on the text first (pure, in
:mod:`patcher.engine.planning`), and the copy is written once, atomically, only when every patch
either fits or is already in the wanted state. Its files -- source (or archive), byte-code,
the records that list them -- change together or not at all: each is checked before the first
is written, and those written are put back when a later one fails. The decision is taken
under an inter-process lock on the copy, so any number of concurrent runs end as one run would.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from patcher.disk import copyio
from patcher.disk.atomic import put_back
from patcher.engine.patchset import MEMBER, PatchSet
from patcher.engine.planning import CopyPlan, plan_copy
from patcher.errors import PatcherError, WriteError, reason
from patcher.model import Action, Copy, CopyResult, Outcome, State

if TYPE_CHECKING:
    from patcher.bytecode.compiler import Compiler

__all__ = ["change", "plan", "prepare"]


def plan(copy: Copy, patchset: PatchSet, text: bytes | None = None) -> CopyResult:
    """The state of a copy and each patch's fit, without changing anything.

    ``text`` is the copy's bytes when the caller has them already (read during the scan).
    """
    if not copy.is_source:
        return CopyResult(copy, State.UNPATCHABLE)
    found = plan_copy(copyio.read(copy) if text is None else text, patchset, MEMBER)
    return CopyResult(copy, found.state, found.fits)


def change(
    copy: Copy,
    patchset: PatchSet,
    *,
    revert: bool = False,
    dry_run: bool = False,
    fuzz: int = 0,
    compiler: Compiler | None = None,
) -> CopyResult:
    """Apply (or revert) the whole patch set on one copy: lock, read, plan, write (byte-code
    compiled by ``compiler``, which may have compiled it already: :func:`prepare`)."""
    if not copy.is_source:
        message = f"{copy.location}: holds only byte-code, no source to patch"
        return CopyResult(copy, State.UNPATCHABLE, outcome=Outcome.UNPATCHABLE, message=message)
    try:
        with copyio.locked(copy):
            if not copyio.exists(copy):
                # uninstalled since it was found (a parallel build): nothing left to patch
                return CopyResult(copy, State.ABSENT, outcome=Outcome.VANISHED)
            text = copyio.read(copy)  # under the lock: another run may have finished already
            planned = plan_copy(text, patchset, MEMBER, revert=revert, fuzz=fuzz)
            result = _result(copy, patchset, planned, revert)
            if result.outcome is Outcome.FAILED or dry_run:
                return result
            return _write(patchset, planned, result, compiler, revert)
    except PatcherError as exc:
        return CopyResult(copy, State.UNKNOWN, outcome=Outcome.FAILED, message=str(exc))


def _write(
    patchset: PatchSet, planned: CopyPlan, result: CopyResult, compiler: Compiler | None, revert: bool
) -> CopyResult:
    """Write the copy's files (source, byte-code, records) together or not at all: a user's
    tree must never hold a patched source that its RECORD or conda's record contradicts. Each
    file is checked before the first is written, and all are put back when one fails all the same."""
    copy = result.copy
    try:
        originals = copyio.prepare_write(copy, planned.result, changes=planned.changes)
    except WriteError as exc:
        return _unwritten(result, plan_copy(planned.original, patchset, MEMBER).state, exc)
    try:
        written = _write_files(copy, planned, compiler, revert)
    except BaseException as exc:
        problems = put_back(originals)
        if not isinstance(exc, (PatcherError, OSError)):
            raise
        error = exc if isinstance(exc, PatcherError) else WriteError(copy.file, reason(exc))
        state = State.UNKNOWN if problems else plan_copy(planned.original, patchset, MEMBER).state
        return _unwritten(result, state, error, problems)
    return result._replace(warnings=(*result.warnings, *written))


def _write_files(copy: Copy, planned: CopyPlan, compiler: Compiler | None, revert: bool) -> tuple[str, ...]:
    """The source (or archive) and its byte-code when they change (with a seeding wheel, the
    tool's table of digests), then the records; the warnings."""
    written: tuple[str, ...] = ()
    if planned.changes:
        if compiler is None:
            from patcher.bytecode.compiler import Compiler

            compiler = Compiler()
        written = copyio.write(copy, planned.result, compiler, revert=revert)
        written += copyio.sync_bundle(copy, compiler, revert=revert)  # a seeding tool's digest of the wheel
    copyio.sync_record(copy, planned.result)
    return written


def _unwritten(result: CopyResult, state: State, error: PatcherError, problems: list[str] | None = None) -> CopyResult:
    """A copy one of whose files could not be written: which and why, and that the copy was left
    as it was (or, when putting it back failed too, what could not be put back)."""
    copy = result.copy
    if problems:
        message = f"{error}; {copy.location} is left half-written: could not put back {'; '.join(problems)}"
    elif error.subject in (copy.file, copy.location):
        message = f"{error}: left unchanged"
    else:
        message = f"{error}: {copy.location} left unchanged"
    unwritable = error if isinstance(error, WriteError) else None
    return result._replace(state=state, outcome=Outcome.FAILED, message=message, warnings=(), unwritable=unwritable)


def prepare(copies: Iterable[Copy], patchset: PatchSet, compiler: Compiler, *, revert: bool, fuzz: int) -> None:
    """Compile, in one child per interpreter, the byte-code that changing ``copies`` will write:
    each copy that has byte-code is planned as it is now (:func:`change` plans again under the
    lock, and compiles on its own what changed meanwhile)."""
    from patcher.disk.transaction import found_byte_code, request

    for copy in copies:
        files = found_byte_code(copy) if copy.is_source else []
        if not files:
            continue
        try:
            planned = plan_copy(copyio.read(copy), patchset, MEMBER, revert=revert, fuzz=fuzz)
        except PatcherError:
            continue  # said when the copy is changed
        if planned.changes and not planned.failed:
            request(copy, files, planned.result, compiler, revert=revert)
    compiler.run()


def _result(copy: Copy, patchset: PatchSet, planned: CopyPlan, revert: bool) -> CopyResult:
    before_after = (planned.original, planned.result) if planned.changes else None
    if planned.failed:
        reasons = "; ".join(f"{s.patch}: {s.failure}" for s in planned.failed)
        state = plan_copy(planned.original, patchset, MEMBER).state  # as locate would say
        return CopyResult(
            copy, state, planned.fits, Outcome.FAILED, f"{copy.location}: does not fit: {reasons}", change=before_after
        )
    changes = any(s.action is Action.CHANGE for s in planned.steps)
    if revert:
        outcome, state = (Outcome.REVERTED if changes else Outcome.ALREADY_UNPATCHED), State.UNPATCHED
    else:
        outcome, state = (Outcome.PATCHED if changes else Outcome.ALREADY_PATCHED), State.PATCHED
    warnings = _warnings(copy, planned, revert)
    return CopyResult(copy, state, planned.fits, outcome, warnings=warnings, change=before_after)


def _warnings(copy: Copy, planned: CopyPlan, revert: bool) -> tuple[str, ...]:
    identities = [(d.name, d.version) for d in copy.identities()]
    warnings = []
    package = copy.package
    if package is not None and package.manager.upgrades_overwrite and not revert:
        warnings.append(
            f"{copy.location}: installed by the {package.manager} package {package.name} {package.version}: "
            "its next upgrade will overwrite this change; to keep it, carry the patches in that package's build "
            "(pkgres-patcher export --layout quilt)"
        )
    for step in planned.steps:
        if step.variant is None:
            continue
        if step.variant.in_range(identities) is False:
            known = ", ".join(f"{n} {v}" for n, v in identities)
            warnings.append(f"{copy.location}: {step.variant.id} fits, but {known} is outside its declared range")
        if step.fuzz:
            warnings.append(f"{copy.location}: {step.variant.id} applied with fuzz {step.fuzz}")
    return tuple(warnings)
