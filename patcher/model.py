"""The vocabulary every command speaks: what a copy is, and what can be said of it.

Statuses are string-valued enums: the library compares members, and JSON (written only at the
output edge, :mod:`patcher.render` and :mod:`patcher.releases.render`) shows their values, so
the output reads as it always did. Records are NamedTuples, not dataclasses: ``locate`` is
timed against ``find``, and :mod:`dataclasses` pulls in :mod:`inspect` at import.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from patcher.errors import PatcherError

__all__ = [
    "Action",
    "Container",
    "Copy",
    "CopyResult",
    "Dist",
    "LockDecision",
    "LockMode",
    "Manager",
    "Outcome",
    "Package",
    "PatchFit",
    "Report",
    "State",
    "Status",
    "Word",
]


class Word(str, enum.Enum):
    """A status as a word: ``str()`` and f-strings give its value on every Python."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class Container(Word):
    """What a copy lies in."""

    DIRECTORY = "directory"
    EGG_DIR = "egg-dir"
    EGG_ZIP = "egg-zip"
    WHEEL = "wheel"


class State(Word):
    """What a copy is, as ``locate`` (and ``apply``/``revert`` afterwards) report it."""

    UNPATCHED = "unpatched"  #: every patch fits and none is applied (or some are)
    PATCHED = "patched"  #: every patch is applied
    DRIFTED = "drifted"  #: no variant of some patch fits
    UNPATCHABLE = "unpatchable"  #: only byte-code: no source to patch
    ABSENT = "absent"  #: uninstalled between being found and being patched
    UNKNOWN = "unknown"  #: could not be read or locked (the message says why)


class Action(Word):
    """What one patch does to one text."""

    CHANGE = "change"  #: a variant fits and is (to be) applied, or removed when reverting
    DONE = "done"  #: already in the wanted state
    PARTIAL = "partial"  #: some hunks of a variant are already there, the others fit (drift only)
    FAIL = "fail"  #: no variant fits
    #: the text is of an era without the patch's spot (a ``Spot: absent`` variant's anchor fits):
    #: nothing to do, patching or reverting
    NOT_NEEDED = "not-needed"

    @property
    def settled(self) -> bool:
        """Whether the patch leaves nothing to do in the wanted direction."""
        return self in (Action.DONE, Action.NOT_NEEDED)


class Outcome(Word):
    """What ``apply``/``revert`` did (or, with ``--dry-run``, would do) to one copy."""

    PATCHED = "patched"
    ALREADY_PATCHED = "already-patched"
    REVERTED = "reverted"
    ALREADY_UNPATCHED = "already-unpatched"
    VANISHED = "vanished"  #: uninstalled since it was found: absent, not a failure
    FAILED = "failed"
    UNPATCHABLE = "unpatchable"

    @property
    def ok(self) -> bool:
        return self not in (Outcome.FAILED, Outcome.UNPATCHABLE)


class Status(Word):
    """How the patch set fits one upstream release's copy (``drift``); worst first."""

    FAILS = "fails"
    OUT_OF_RANGE = "out-of-range"
    FUZZ = "fuzz"
    PARTLY_UPSTREAM = "partly-upstream"
    ABSENT = "absent"
    OFFSET = "offset"
    CLEAN = "clean"
    APPLIED = "applied"
    #: a patch whose spot the release's code does not have (a ``Spot: absent`` variant declares it)
    NOT_NEEDED = "not-needed"

    @property
    def drift(self) -> bool:
        """Whether this status makes ``drift`` exit 1."""
        return self in (Status.FAILS, Status.FUZZ, Status.OUT_OF_RANGE)


class Manager(Word):
    """A package manager other than a Python installer that may own a copy's file."""

    CONDA = "conda"
    DPKG = "dpkg"
    RPM = "rpm"

    @property
    def upgrades_overwrite(self) -> bool:
        """Whether the next upgrade of the package overwrites a patched file without a word
        (dpkg, rpm); conda's record is kept true instead."""
        return self is not Manager.CONDA


class Package(NamedTuple):
    """The package another package manager installed a copy's file with.

    For conda, ``record`` is the ``conda-meta/*.json`` that lists the file and ``entry`` the
    path as written there (``paths_data.paths[]._path``), so that a rewrite keeps it true.
    """

    manager: Manager
    name: str
    version: str
    record: str | None = None
    entry: str | None = None


class Dist(NamedTuple):
    """A distribution name and version, as an installer or a vendor list states them."""

    name: str
    version: str


class Copy(NamedTuple):
    """One copy of pkg_resources' source, wherever it lies.

    ``file`` is the ``.py`` file, or the archive when the copy lies inside one (``member`` is
    then its name inside the archive): its real path, where it is written, so that a symlink to
    it stays a link. ``via`` is the path it was found at when that is another (a symlinked view):
    only when the scan met no path to it without a symlink. ``record`` names the ``RECORD`` (or
    egg-info ``installed-files.txt``) that lists the file, and ``record_entry`` the path as
    written there, so that a rewrite can keep the installer's bookkeeping true; ``view_records``
    are other RECORDs that list it by the path it was found at (a view's own copy of the
    metadata: what is read through the link changes too). ``package`` is the conda, dpkg or rpm
    package that installed the file, if any.
    """

    file: str
    member: str | None
    container: Container
    vendored_by: str | None
    owner: Dist | None
    upstream: Dist | None
    sha256: str
    conflicts: tuple[Dist, ...] = ()
    record: str | None = None
    record_entry: str | None = None
    vendor_pip: Dist | None = None
    #: the interpreter whose ``ensurepip`` ships this wheel (its artefact), or the tool that seeds
    #: the environments it creates from it (``virtualenv``), else None
    bundled_by: str | None = None
    via: str | None = None
    package: Package | None = None
    view_records: tuple[tuple[str, str], ...] = ()

    @property
    def location(self) -> str:
        """A one-string name for messages: ``file`` or ``archive!member``."""
        return self.file if self.member is None else f"{self.file}!{self.member}"

    @property
    def is_source(self) -> bool:
        """Whether the copy is source (``.py``), not byte-code only."""
        return (self.file if self.member is None else self.member).endswith(".py")

    def identities(self) -> tuple[Dist, ...]:
        """Every (project, version) this copy's code can be matched by in a patch's range."""
        found = [d for d in (self.upstream, self.owner, self.vendor_pip) if d is not None]
        return tuple(dict.fromkeys(found))


class PatchFit(NamedTuple):
    """What one patch of the set makes of one text: the variant that fits, and how.

    The one answer of planning: ``locate`` reports it, the state cache keeps it, ``apply``
    acts on it and ``drift`` judges it against the declared ranges.
    """

    patch: str
    action: Action
    variant: str | None = None
    offsets: tuple[int, ...] = ()
    fuzz: int = 0
    detail: str | None = None


class CopyResult(NamedTuple):
    """One copy and what was found or done: its state, each patch's fit, and for
    ``apply``/``revert`` the outcome, a message when it failed, and warnings."""

    copy: Copy
    state: State
    fits: tuple[PatchFit, ...] = ()
    outcome: Outcome | None = None
    message: str | None = None
    warnings: tuple[str, ...] = ()
    #: the bytes before and after, when the copy was (to be) changed: for ``--diff``
    change: tuple[bytes, bytes] | None = None
    #: the file of the copy (source, byte-code, RECORD, conda-meta) that could not be written,
    #: and why: then none of them was changed (``message`` says so, or what could not be put back)
    unwritable: PatcherError | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is None or self.outcome.ok


class Report(NamedTuple):
    """What ``inspect``, ``apply`` or ``revert`` made of every copy found.

    ``errors`` are the problems that belong to no row: paths that could not be read while
    looking for copies, copies that could not be read to be inspected. A copy that could not
    be changed is a row (its outcome ``failed`` and its message say why).
    """

    results: tuple[CopyResult, ...]
    errors: tuple[PatcherError, ...] = ()
    #: copies in wheels met while walking a tree or bundled with an interpreter, left alone by
    #: ``apply``/``revert`` (artefacts: only patched when named, or with ``wheels``)
    left_alone: tuple[Copy, ...] = ()
    #: what the run could not do as usual and did otherwise (e.g. where it put its locks)
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether everything asked for was done (exit status 0)."""
        return not self.errors and all(r.ok for r in self.results)


class LockMode(Word):
    """How a lock file is held (``flock(2)``): many shared holders at once, or one exclusive."""

    SHARED = "shared"
    EXCLUSIVE = "exclusive"


class LockDecision(NamedTuple):
    """The lock a pip command needs in its environment, and why (``pkgres-patcher pip -v``)."""

    mode: LockMode
    reason: str
