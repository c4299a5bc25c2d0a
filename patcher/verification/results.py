"""What ``verify`` found for each copy, typed; JSON is made of it only at the output edge."""

from __future__ import annotations

from typing import NamedTuple

from patcher.errors import PatcherError
from patcher.model import Copy, Word

__all__ = ["CopyVerification", "Escape", "FaultPoint", "Race", "VerifyReport", "VerifyStatus"]


class VerifyStatus(Word):
    """The verdict on one copy."""

    PASSED = "passed"  #: nothing escaped, and it lists what its pristine text lists
    FAILED = "failed"  #: an exception escaped, or it lists something else than its pristine text
    NOT_VERIFIABLE = "not-verifiable"  #: no interpreter could run it, even unpatched (the reason says why)


class Escape(NamedTuple):
    """An exception that escaped the copy: in which step of the workload, what, and where."""

    phase: str
    type: str
    message: str
    where: str


class Race(NamedTuple):
    """One victim deleted at the first call the copy made on its files."""

    victim: str
    kind: str
    #: whether the copy touched the victim at all (a release that never looks inside it: False)
    reached: bool
    escapes: tuple[Escape, ...]


class FaultPoint(NamedTuple):
    """One call the copy makes on another distribution's files, failed with ENOENT."""

    number: int
    call: str
    path: str
    escapes: tuple[Escape, ...]


class CopyVerification(NamedTuple):
    copy: Copy
    status: VerifyStatus
    #: the interpreter it ran on (``X.Y`` and the executable), None when none could
    python: str | None = None
    version: str | None = None
    reason: str | None = None
    races: tuple[Race, ...] = ()
    #: None: not swept (``--quick``, or not verifiable)
    faults: tuple[FaultPoint, ...] | None = None
    #: None: not compared
    same_listing: bool | None = None
    listing_differences: tuple[str, ...] = ()
    #: interpreters tried before ``python`` and why each could not run the copy
    notes: tuple[str, ...] = ()

    @property
    def races_survived(self) -> int:
        return sum(1 for race in self.races if not race.escapes)

    @property
    def faults_raising(self) -> int:
        return sum(1 for fault in self.faults or () if fault.escapes)


class VerifyReport(NamedTuple):
    results: tuple[CopyVerification, ...]
    errors: tuple[PatcherError, ...] = ()
    #: copies in wheels met in a tree or bundled with an interpreter: not verified (as ``apply`` leaves them)
    left_alone: tuple[Copy, ...] = ()

    def ok(self, strict: bool = False) -> bool:
        """Exit status 0: every copy passed (not verifiable ones only fail with ``strict``)."""
        allowed = {VerifyStatus.PASSED} if strict else {VerifyStatus.PASSED, VerifyStatus.NOT_VERIFIABLE}
        return not self.errors and all(r.status in allowed for r in self.results)
