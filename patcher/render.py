"""Rendering what ``locate``, ``apply`` and ``revert`` found: a table or lines for people, JSON
for programs. The output edge: results become dicts and strings only here. Nothing here prints."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from patcher.model import Copy, CopyResult, Dist, Outcome, Package
from patcher.statecache import encode

__all__ = ["copies_json", "copy_json", "display", "locate_table", "outcome_line", "unified_diff"]


def display(path: str) -> str:
    """A path as it can be shown: undecodable bytes of a file name become ``\\xNN``."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


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


def copy_json(result: CopyResult, dry_run: bool | None = None) -> dict[str, Any]:
    """The JSON object of one copy (see README, "JSON format"); ``dry_run`` for apply/revert."""
    copy = result.copy
    obj: dict[str, Any] = {
        "file": display(copy.file),
        "member": copy.member,
        "container": copy.container.value,
        "vendored_by": copy.vendored_by,
        "owner": _dist(copy.owner),
        "upstream": _dist(copy.upstream),
        "sha256": copy.sha256,
        "state": result.state.value,
        "conflicts": [_dist(d) for d in copy.conflicts],
        "via": None if copy.via is None else display(copy.via),
        "manager": _package(copy.package),
    }
    if result.outcome is not None:
        obj["outcome"] = result.outcome.value
        obj["dry_run"] = bool(dry_run)
        obj["message"] = result.message
        obj["warnings"] = list(result.warnings)
    obj["patches"] = encode((result.state, result.fits))["patches"]
    return obj


def copies_json(results: Sequence[CopyResult], dry_run: bool | None = None) -> str:
    """``{"copies": [...]}``."""
    return json.dumps({"copies": [copy_json(r, dry_run) for r in results]}, indent=2) + "\n"


def _short(dist: Dist | None) -> str:
    return "-" if dist is None else f"{dist.name} {dist.version}"


def locate_table(results: Sequence[CopyResult]) -> str:
    """A table for people: one line per copy, the location last so that long paths don't break it."""
    if not results:
        return "no copy of pkg_resources found\n"
    header = ("STATE", "CONTAINER", "OWNER", "UPSTREAM", "LOCATION")
    table = [header]
    for result in results:
        copy = result.copy
        owner = _short(copy.owner)
        if copy.conflicts:
            owner += " (also: " + ", ".join(_short(d) for d in copy.conflicts) + ")"
        if copy.package is not None:
            owner += f" [{copy.package.manager}: {copy.package.name} {copy.package.version}]"
        table.append((result.state.value, copy.container.value, owner, _short(copy.upstream), _where(copy)))
    widths = [max(len(r[i]) for r in table) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths)) + "  " + r[-1] for r in table]
    noun = "copy" if len(results) == 1 else "copies"
    return "\n".join(lines) + f"\n\n{len(results)} {noun} of pkg_resources\n"


_DRY = {Outcome.PATCHED: "would patch", Outcome.REVERTED: "would revert"}


def outcome_line(result: CopyResult, dry_run: bool = False) -> str:
    """One line per copy for people: what happened and which variants."""
    outcome = result.outcome
    assert outcome is not None
    word = _DRY.get(outcome, outcome.value) if dry_run else outcome.value
    variants = ""
    if result.fits and outcome is not Outcome.FAILED:
        parts = []
        for fit in result.fits:
            if fit.variant is None:
                continue
            moved = [o for o in fit.offsets if o]
            parts.append(fit.variant + (f" (offset {', '.join(map(str, moved))})" if moved else ""))
        variants = "  [" + ", ".join(parts) + "]" if parts else ""
    return f"{word:<18} {_where(result.copy)}{variants}\n"


def unified_diff(result: CopyResult) -> str:
    """The change (to be) written to one copy, as a unified diff."""
    if result.change is None:
        return ""
    import difflib

    old, new = (text.decode("utf-8", "surrogateescape").splitlines(keepends=True) for text in result.change)
    name = result.copy.location
    lines = difflib.unified_diff(old, new, f"a/{name}", f"b/{name}")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
