"""Rendering what ``locate``, ``apply`` and ``revert`` found: a table or lines for people, JSON
for programs. The output edge: results become dicts and strings only here. Nothing here prints.

Every JSON document names its ``schema`` (``pkgres-patcher/<kind>/<version>``, described by
``patcher/schemas/<kind>.schema.json``; ``apply``'s describes ``revert`` too) and carries the
``errors`` of the run. The version changes when a field goes or changes meaning, or a word
(state, outcome, ...) is added; a new field does not change it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from patcher.errors import PatcherError, display
from patcher.model import Action, Copy, CopyResult, Dist, Outcome, Package, PatchFit, Report, State
from patcher.scan.rules import SEEDING_TOOLS, DirIsPackage, import_root

__all__ = [
    "CHANGES",
    "LOCATE_STATES",
    "change_json",
    "change_summary",
    "copy_json",
    "diff_name",
    "display",
    "error_json",
    "found_json",
    "locate_json",
    "locate_summary",
    "locate_table",
    "outcome_line",
    "owner_cell",
    "schema_name",
    "unified_diff",
]

#: bumped when a JSON output changes incompatibly (see the module docstring)
SCHEMA_VERSION = 1
#: the states ``locate`` can report (absent and unknown happen only while changing a copy)
LOCATE_STATES = tuple(s for s in State if s not in (State.ABSENT, State.UNKNOWN))


def schema_name(kind: str) -> str:
    """The ``schema`` of a JSON output: ``pkgres-patcher/locate/1``."""
    return f"pkgres-patcher/{kind}/{SCHEMA_VERSION}"


def error_json(error: PatcherError) -> dict[str, str]:
    """An error as JSON: what it is about, and why (``subject: reason`` is its line on stderr)."""
    return {"subject": display(error.subject), "reason": display(error.reason)}


def _dist(dist: Dist | None) -> dict[str, str] | None:
    return None if dist is None else {"name": dist.name, "version": dist.version}


def _package(package: Package | None) -> dict[str, str] | None:
    if package is None:
        return None
    return {"kind": package.manager.value, "name": package.name, "version": package.version}


def _where(copy: Copy) -> str:
    """The copy's location, and the link it was reached through."""
    shown = display(copy.location)
    return shown if copy.via is None else f"{shown} (via {display(copy.via)})"


def _fit_json(fit: PatchFit) -> dict[str, Any]:
    """One patch's fit; offsets only for hunks (to be) applied: a patch already in place moves nothing."""
    return {
        "patch": fit.patch,
        "variant": fit.variant,
        "action": fit.action.value,
        "offsets": list(fit.offsets) if fit.action is Action.CHANGE else [],
        "fuzz": fit.fuzz,
        "detail": fit.detail,
    }


def found_json(copy: Copy) -> dict[str, Any]:
    """What is known of a copy without reading it: where it lies and whose it is."""
    return {
        "file": display(copy.file),
        "member": copy.member,
        "container": copy.container.value,
        "vendored_by": copy.vendored_by,
        "owner": _dist(copy.owner),
        "upstream": _dist(copy.upstream),
        "sha256": copy.sha256,
        "conflicts": [_dist(d) for d in copy.conflicts],
        "bundled_by": None if copy.bundled_by is None else display(copy.bundled_by),
        "via": None if copy.via is None else display(copy.via),
        "manager": _package(copy.package),
    }


def copy_json(result: CopyResult, dry_run: bool | None = None, diff: bool = False) -> dict[str, Any]:
    """The JSON object of one copy (docs: reference/json); ``dry_run`` for apply/revert,
    ``diff`` to add the change as a unified diff."""
    found = found_json(result.copy)
    obj = {k: v for k, v in found.items() if k != "conflicts"}
    obj["state"] = result.state.value
    obj["conflicts"] = found["conflicts"]
    if result.outcome is not None:
        obj["outcome"] = result.outcome.value
        obj["dry_run"] = bool(dry_run)
        obj["message"] = None if result.message is None else display(result.message)
        obj["unwritable"] = None if result.unwritable is None else error_json(result.unwritable)
        obj["warnings"] = [display(w) for w in result.warnings]
    obj["patches"] = [_fit_json(fit) for fit in result.fits]
    if diff:
        obj["diff"] = unified_diff(result) or None
    return obj


def _counts(words: Iterable[Any], found: Iterable[Any]) -> dict[str, int]:
    found = list(found)
    return {word.value: sum(1 for f in found if f is word) for word in words}


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def locate_json(report: Report) -> str:
    """``locate --json``: ``{"schema", "copies", "counts", "errors"}``."""
    return _dump(
        {
            "schema": schema_name("locate"),
            "copies": [copy_json(r) for r in report.results],
            "counts": _counts(LOCATE_STATES, (r.state for r in report.results)),
            "errors": [error_json(e) for e in report.errors],
        }
    )


def change_json(report: Report, *, revert: bool, dry_run: bool, diff: bool = False) -> str:
    """``apply --json`` / ``revert --json``: ``{"schema", "dry_run", "copies", "counts", "left_alone", "errors"}``."""
    return _dump(
        {
            "schema": schema_name("revert" if revert else "apply"),
            "dry_run": dry_run,
            "copies": [copy_json(r, dry_run, diff) for r in report.results],
            "counts": _counts(Outcome, (r.outcome for r in report.results)),
            "left_alone": [found_json(c) for c in report.left_alone],
            "errors": [error_json(e) for e in report.errors],
        }
    )


def _short(dist: Dist | None) -> str:
    return "-" if dist is None else f"{dist.name} {dist.version}"


def owner_cell(copy: Copy) -> str:
    """The OWNER column of every table (``locate``, ``verify``): the distribution whose record
    lists the copy (``-`` when none does: never the upstream release, which has a column of its
    own), the others that claim it, an interpreter's ensurepip wheel or a tool's (virtualenv's)
    seeding wheel, the system package."""
    owner = _short(copy.owner)
    if copy.conflicts:
        owner += " (also: " + ", ".join(_short(d) for d in copy.conflicts) + ")"
    if copy.bundled_by is not None:  # an interpreter's or a tool's seeding wheel, not an installed copy
        owner += f" ({copy.bundled_by})" if copy.bundled_by in SEEDING_TOOLS else " (ensurepip)"
    if copy.package is not None:
        owner += f" [{copy.package.manager}: {copy.package.name} {copy.package.version}]"
    return owner


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _not_judged(copies: Sequence[Copy]) -> str:
    """``; not judged by --check: 2 in wheels (...)``: the copies in wheels ``--check`` left alone."""
    if not copies:
        return ""
    wheels = len({c.file for c in copies})
    where = "a wheel" if wheels == 1 else "wheels"
    them = "the wheel to judge it" if wheels == 1 else "the wheels to judge them"
    return f"; not judged by --check: {len(copies)} in {where} (pass --wheels or name {them})"


def locate_summary(results: Sequence[CopyResult], not_judged: Sequence[Copy] = ()) -> str:
    """The last line of ``locate``: how many copies, how many in each state; with ``--check``,
    how many of them it did not judge (``not_judged``: copies in wheels it leaves alone)."""
    if not results:
        return "no copy of pkg_resources found\n"
    counts = ", ".join(f"{n} {state}" for state, n in _counts(State, (r.state for r in results)).items() if n)
    return f"{_plural(len(results), 'copy', 'copies')} of pkg_resources: {counts}{_not_judged(not_judged)}\n"


def locate_table(results: Sequence[CopyResult], quiet: bool = False, not_judged: Sequence[Copy] = ()) -> str:
    """A table for people: one line per copy, the location last so that long paths don't break it;
    then the summary (alone with ``quiet``; ``not_judged`` as for :func:`locate_summary`)."""
    if quiet or not results:
        return locate_summary(results, not_judged)
    header = ("STATE", "CONTAINER", "OWNER", "UPSTREAM", "LOCATION")
    table = [header]
    for result in results:
        copy = result.copy
        table.append((result.state.value, copy.container.value, owner_cell(copy), _short(copy.upstream), _where(copy)))
    widths = [max(len(r[i]) for r in table) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths)) + "  " + r[-1] for r in table]
    return "\n".join(lines) + "\n\n" + locate_summary(results, not_judged)


_DRY = {Outcome.PATCHED: "would patch", Outcome.REVERTED: "would revert"}
#: outcomes that change a copy
CHANGES = (Outcome.PATCHED, Outcome.REVERTED)


def _variants(result: CopyResult) -> str:
    """``  [variant (offset +6), ...]``: the variant of each patch, and where it was placed when it
    was (or is to be) placed; ``(already)`` for a patch already in the wanted state beside others."""
    parts = []
    for fit in result.fits:
        if fit.variant is None:
            continue
        if fit.action is Action.CHANGE and any(fit.offsets):
            parts.append(f"{fit.variant} (offset {', '.join(f'{o:+d}' for o in fit.offsets)})")
        elif fit.action is Action.DONE and result.outcome in CHANGES:
            parts.append(f"{fit.variant} (already)")
        elif fit.action is Action.NOT_NEEDED:
            parts.append(f"{fit.variant} (not needed)")
        else:
            parts.append(fit.variant)
    return "  [" + ", ".join(parts) + "]" if parts else ""


def outcome_line(result: CopyResult, dry_run: bool = False, verbose: bool = False) -> str:
    """One line per copy for people: what happened to which copy; with ``verbose`` the variants."""
    outcome = result.outcome
    assert outcome is not None
    word = _DRY.get(outcome, outcome.value) if dry_run else outcome.value
    detail = _variants(result) if verbose and outcome is not Outcome.FAILED else ""
    return f"{word:<18} {_where(result.copy)}{detail}\n"


_SUMMARY = {
    Outcome.PATCHED: ("patched", "would be patched"),
    Outcome.ALREADY_PATCHED: ("already patched", "already patched"),
    Outcome.REVERTED: ("reverted", "would be reverted"),
    Outcome.ALREADY_UNPATCHED: ("already unpatched", "already unpatched"),
    Outcome.VANISHED: ("vanished", "vanished"),
    Outcome.FAILED: ("failed", "failed"),
    Outcome.UNPATCHABLE: ("unpatchable", "unpatchable"),
}


def change_summary(report: Report, *, revert: bool, dry_run: bool) -> str:
    """The last line of ``apply``/``revert``: copies per outcome, the wheels left alone, the errors."""
    counts = _counts(Outcome, (r.outcome for r in report.results))
    parts = [f"{n} {_SUMMARY[Outcome(word)][dry_run]}" for word, n in counts.items() if n]
    wheels = len({c.file for c in report.left_alone})
    if wheels:
        verb = "revert" if revert else "patch"
        them = "the wheel to {} it" if wheels == 1 else "the wheels to {} them"
        parts.append(f"{_plural(wheels, 'wheel', 'wheels')} left alone (pass --wheels or name {them.format(verb)})")
    if report.errors:
        parts.append(_plural(len(report.errors), "error", "errors"))
    return (", ".join(parts) or "no copy of pkg_resources found") + "\n"


def diff_name(copy: Copy) -> str:
    """The copy's path below the directory its top-level package lies in (the ``sys.path``
    entry): ``pip/_vendor/pkg_resources/__init__.py``, so that ``patch -p1`` applies the diff from
    there; inside an archive, the member's name."""
    if copy.member is not None:
        return copy.member
    parts = copy.file.split("/")[1:]
    found = import_root(parts, DirIsPackage("/"))
    if found is not None:
        return "/".join(parts[found[0] :])
    # gone since (a parallel uninstall): the copy's own part of the path, as the path rules say
    depth = 2 if copy.file.endswith("/__init__.py") else 1
    tops = [i for i, part in enumerate(parts[:-depth]) if part == copy.vendored_by]
    return "/".join(parts[tops[-1] if tops else -depth :])


def unified_diff(result: CopyResult) -> str:
    """The change (to be) written to one copy, as a unified diff relative to its import root;
    none for a copy that failed (all patches or none: not even those that fit are written)."""
    if result.change is None or not result.ok:
        return ""
    import difflib

    old, new = (text.decode("utf-8", "surrogateescape").splitlines(keepends=True) for text in result.change)
    name = display(diff_name(result.copy))
    lines = difflib.unified_diff(old, new, f"a/{name}", f"b/{name}")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
