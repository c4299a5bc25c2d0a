"""Apply or revert the patch set on located copies: lock, re-check, write, keep RECORD true.

Per copy it is all or nothing: every patch of the set is planned on the text first (pure, in
:mod:`patcher.apply`), and the copy is written once, atomically, only when every patch either
fits or is already in the wanted state. The decision is taken under an inter-process lock on
the copy, so any number of concurrent runs end as one run would.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional

from patcher.apply import CHANGE, CopyPlan, plan_copy
from patcher.errors import PatcherError, ScanError
from patcher.locate import DIRECTORY, EGG_DIR, WHEEL, Copy, read_source
from patcher.patchset import MEMBER, PatchSet

__all__ = ["Outcome", "inspect", "process", "unified_diff"]


# outcomes
PATCHED = "patched"  # changed now
ALREADY = "already-patched"
REVERTED = "reverted"
ALREADY_UNPATCHED = "already-unpatched"
FAILED = "failed"
UNPATCHABLE = "unpatchable"
VANISHED = "vanished"  # gone between being found and being patched


@dataclass(frozen=True)
class Outcome:
    """What happened (or, with dry-run, would happen) to one copy."""

    copy: Copy
    outcome: str
    state: str
    plan: Optional[CopyPlan] = None
    message: Optional[str] = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.outcome not in (FAILED, UNPATCHABLE)


def _is_source(copy: Copy) -> bool:
    name = copy.member if copy.member is not None else copy.file
    return name.endswith(".py")


def inspect(copy: Copy, patchset: PatchSet, text: Optional[bytes] = None) -> tuple[str, Optional[CopyPlan]]:
    """The state of a copy (``unpatched``/``patched``/``drifted``/``unpatchable``) and its plan.

    ``text`` is the copy's bytes when the caller has them already (read during the scan).
    """
    if not _is_source(copy):
        return UNPATCHABLE, None
    plan = plan_copy(read_source(copy) if text is None else text, patchset, MEMBER)
    return plan.state, plan


def _range_warnings(copy: Copy, plan: CopyPlan) -> tuple[str, ...]:
    identities = [(d.name, d.version) for d in copy.identities()]
    warnings = []
    for step in plan.steps:
        if step.variant is None:
            continue
        if step.variant.in_range(identities) is False:
            known = ", ".join(f"{n} {v}" for n, v in identities)
            warnings.append(f"{copy.location}: {step.variant.id} fits, but {known} is outside its declared range")
        if step.fuzz:
            warnings.append(f"{copy.location}: {step.variant.id} applied with fuzz {step.fuzz}")
    return tuple(warnings)


def _failure(copy: Copy, plan: CopyPlan) -> str:
    reasons = "; ".join(f"{s.patch}: {s.failure}" for s in plan.failed)
    return f"{copy.location}: does not fit: {reasons}"


# patcher._fs (the writers, and their imports) is imported where a copy is written or locked:
# ``locate`` only inspects


def _write(copy: Copy, data: bytes) -> None:
    from patcher import _fs

    if copy.member is None:
        _fs.atomic_write(copy.file, lambda f: f.write(data))
        _fs.remove_stale_pyc(copy.file)
    else:
        record = copy.record if copy.container == WHEEL else None
        _fs.rewrite_archive(copy.file, copy.member, data, record)


def _sync_record(copy: Copy, data: bytes) -> None:
    """Make the owner's RECORD describe ``data`` (also finishes the work of a killed run)."""
    from patcher import _fs

    if copy.member is None and copy.record and copy.record_entry and copy.container in (DIRECTORY, EGG_DIR):
        with _fs.copy_lock(copy.record):
            _fs.update_record(copy.record, copy.record_entry, data)


def process(copy: Copy, patchset: PatchSet, *, revert: bool = False, dry_run: bool = False, fuzz: int = 0) -> Outcome:
    """Apply (or revert) the whole patch set on one copy, under its lock."""
    from patcher import _fs

    if not _is_source(copy):
        return Outcome(copy, UNPATCHABLE, UNPATCHABLE, message=f"{copy.location}: holds only byte-code, no source to patch")
    try:
        with _fs.copy_lock(copy.file):
            if not os.path.exists(copy.file):
                # uninstalled since it was found (a parallel build): nothing left to patch
                return Outcome(copy, VANISHED, "absent")
            return _process_locked(copy, patchset, revert, dry_run, fuzz)
    except PatcherError as exc:
        return Outcome(copy, FAILED, "unknown", message=str(exc))


def _process_locked(copy: Copy, patchset: PatchSet, revert: bool, dry_run: bool, fuzz: int) -> Outcome:
    text = read_source(copy)  # re-read under the lock: another run may have finished already
    plan = plan_copy(text, patchset, MEMBER, revert=revert, fuzz=fuzz)
    if plan.failed:
        return Outcome(copy, FAILED, plan_copy(text, patchset, MEMBER).state, plan, _failure(copy, plan))
    warnings = _range_warnings(copy, plan)
    changes = any(s.action == CHANGE for s in plan.steps)
    if revert:
        outcome, state = (REVERTED if changes else ALREADY_UNPATCHED), "unpatched"
    else:
        outcome, state = (PATCHED if changes else ALREADY), "patched"
    if not dry_run:
        if changes:
            _write(copy, plan.result)
            if read_source(copy) != plan.result:
                raise ScanError(copy.location, "changed by someone else while being written")
        _sync_record(copy, plan.result)
    return Outcome(copy, outcome, state, plan, warnings=warnings)


def unified_diff(outcome: Outcome) -> str:
    """The change (to be) written to one copy, as a unified diff."""
    plan = outcome.plan
    if plan is None or not plan.changes:
        return ""
    import difflib

    name = outcome.copy.location
    old = plan.original.decode("utf-8", "surrogateescape").splitlines(keepends=True)
    new = plan.result.decode("utf-8", "surrogateescape").splitlines(keepends=True)
    lines = difflib.unified_diff(old, new, f"a/{name}", f"b/{name}")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)

