"""Planning a copy: which variant of each patch fits its text, and the text that results.

Pure: a text in, a :class:`CopyPlan` out, nothing read or written. Each variant is written
against the pristine upstream file, and the patches touch separate spots, so every patch is
placed on the text as found (offsets mean what they say) and the changes are made in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from patcher.engine.hunks import Mismatch, Placement, apply_hunks, place_hunks
from patcher.engine.patchset import MEMBER, Hunk, PatchSet, Variant
from patcher.model import Action, PatchFit, State

__all__ = ["CopyPlan", "PatchPlan", "plan_copy"]


@dataclass(frozen=True)
class PatchPlan:
    """What one patch does to a text: the variant chosen, the action, and where its hunks land."""

    patch: str
    action: Action
    variant: Variant | None = None
    placements: tuple[Placement, ...] = ()
    failure: str | None = None

    @property
    def offsets(self) -> tuple[int, ...]:
        return tuple(p.offset for p in self.placements)

    @property
    def fuzz(self) -> int:
        return max((p.fuzz for p in self.placements), default=0)

    @property
    def fit(self) -> PatchFit:
        """The plan as it is reported and remembered (no variant object, no placements)."""
        variant = None if self.variant is None else self.variant.id
        detail = self.failure
        if self.variant is not None and self.variant.python3_form:
            detail = f"{variant}: in its Python-3 form (except OSError), as upstream hands it on"
        return PatchFit(self.patch, self.action, variant, self.offsets, self.fuzz, detail)


@dataclass(frozen=True)
class CopyPlan:
    """Every patch's plan for one text, and the text that results."""

    original: bytes
    result: bytes
    steps: tuple[PatchPlan, ...]

    @property
    def failed(self) -> tuple[PatchPlan, ...]:
        return tuple(s for s in self.steps if s.action is Action.FAIL)

    @property
    def changes(self) -> bool:
        return self.result != self.original

    @property
    def fits(self) -> tuple[PatchFit, ...]:
        return tuple(s.fit for s in self.steps)

    @property
    def state(self) -> State:
        """``patched`` / ``unpatched`` / ``drifted`` as seen in the forward direction."""
        if self.failed:
            return State.DRIFTED
        if all(s.action.settled for s in self.steps):
            return State.PATCHED
        return State.UNPATCHED


def _fits(text: bytes, hunks: Sequence[Hunk], fuzz: int) -> list[Placement] | Mismatch:
    if not hunks:
        return Mismatch(0, 0, "(the variant has no hunk for this file)", None)
    return place_hunks(text, hunks, fuzz)


def _plan_patch(text: bytes, name: str, variants: Sequence[Variant], member: str, revert: bool, fuzz: int) -> PatchPlan:
    """Pick the first variant that fits; a forward failure alone never means "already done"."""
    closest: tuple[float, str] | None = None
    for variant in variants:
        forward_hunks = variant.hunks(member)
        if variant.spot_absent:
            anchor = _fits(text, forward_hunks, 0)
            if isinstance(anchor, list):
                return PatchPlan(name, Action.NOT_NEEDED, variant, tuple(anchor))
            continue
        reverse_hunks = tuple(h.reversed() for h in forward_hunks)
        todo_hunks, done_hunks = (reverse_hunks, forward_hunks) if revert else (forward_hunks, reverse_hunks)
        todo = _fits(text, todo_hunks, 0)
        done = _fits(text, done_hunks, 0)
        if isinstance(todo, list) and not isinstance(done, list):
            return PatchPlan(name, Action.CHANGE, variant, tuple(todo))
        if isinstance(done, list) and not isinstance(todo, list):
            return PatchPlan(name, Action.DONE, variant, tuple(done))
        if not isinstance(todo, list) and not isinstance(done, list):
            handed_on = _python3_form(text, name, variant, member, revert)
            if handed_on is not None:
                return handed_on
        if isinstance(todo, list) and isinstance(done, list):
            candidate = (2.0, f"{variant.id}: both the patch and its reverse fit; refusing to guess")
        else:
            assert isinstance(todo, Mismatch)
            # how far the variant got: hunks before the failing one, plus its matching lines
            progress = (todo.hunk - 1 + (todo.matched / todo.total if todo.total else 0)) / max(len(todo_hunks), 1)
            candidate = (progress, f"{variant.id}: {todo}")
        if closest is None or candidate[0] > closest[0]:
            closest = candidate
    if fuzz:
        for variant in variants:
            if variant.spot_absent:
                continue
            hunks = variant.hunks(member)
            todo_hunks = tuple(h.reversed() for h in hunks) if revert else hunks
            fuzzy = _fits(text, todo_hunks, fuzz)
            if isinstance(fuzzy, list):
                return PatchPlan(name, Action.CHANGE, variant, tuple(fuzzy))
    return PatchPlan(name, Action.FAIL, None, (), closest[1] if closest else f"{name}: no variant")


def _python3_form(text: bytes, name: str, variant: Variant, member: str, revert: bool) -> PatchPlan | None:
    """The patch carried as ``upstream`` hands it to a Python-3-only tree (:meth:`Variant.python3`:
    ``except OSError`` where the variant says ``except (IOError, OSError)``) is the patch done:
    ``done`` forward, undone by its own reverse when reverting. Tried only where neither side of
    the variant as written fits (its pristine side is the same in both forms), so a text that
    one of them fits is planned exactly as before."""
    form = variant.python3()
    if form is variant:
        return None
    found = _fits(text, tuple(h.reversed() for h in form.hunks(member)), 0)
    if not isinstance(found, list):
        return None
    return PatchPlan(name, Action.CHANGE if revert else Action.DONE, form, tuple(found))


def plan_copy(
    text: bytes, patchset: PatchSet, member: str = MEMBER, *, revert: bool = False, fuzz: int = 0
) -> CopyPlan:
    """Plan every patch of the set on one copy's text.

    Each variant is written against the pristine upstream file, and the patches touch separate
    spots, so every patch is placed on the original text (offsets mean what they say) and the
    changes are made in one pass. Should two changes ever overlap, the patches are applied one
    after the other instead (reverse series order when reverting).
    """
    steps = [_plan_patch(text, patch.name, patch.variants, member, revert, fuzz) for patch in patchset.patches]
    hunks: list[Hunk] = []
    placements: list[Placement] = []
    for step in steps:
        if step.action is not Action.CHANGE or step.variant is None:
            continue
        own = _step_hunks(step, member, revert)
        for placement in step.placements:
            hunks.append(own[placement.hunk])
            placements.append(replace(placement, hunk=len(hunks) - 1))
    placements.sort(key=lambda p: p.start)
    spans = [(p.start, p.start + len(hunks[p.hunk].before)) for p in placements]
    if all(end <= start for (_, end), (start, _) in zip(spans, spans[1:])):
        return CopyPlan(text, apply_hunks(text, hunks, placements), tuple(steps))
    return _plan_in_sequence(text, patchset, member, revert, fuzz)


def _step_hunks(step: PatchPlan, member: str, revert: bool) -> tuple[Hunk, ...]:
    assert step.variant is not None
    hunks = step.variant.hunks(member)
    return tuple(h.reversed() for h in hunks) if revert else hunks


def _plan_in_sequence(text: bytes, patchset: PatchSet, member: str, revert: bool, fuzz: int) -> CopyPlan:
    steps: list[PatchPlan] = []
    current = text
    for patch in reversed(patchset.patches) if revert else patchset.patches:
        step = _plan_patch(current, patch.name, patch.variants, member, revert, fuzz)
        if step.action is Action.CHANGE and step.variant is not None:
            current = apply_hunks(current, _step_hunks(step, member, revert), step.placements)
        steps.append(step)
    if revert:
        steps.reverse()
    return CopyPlan(text, current, tuple(steps))
