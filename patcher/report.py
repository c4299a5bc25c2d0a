"""Renderers: turn results into text or JSON strings. Nothing here prints."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # imported for types only: ``locate`` runs without the planner when it can
    from patcher.apply import CopyPlan
    from patcher.engine import Outcome
    from patcher.locate import Copy, Dist

#: output formats of ``drift`` (renderers in :mod:`patcher.drift_report`)
DRIFT_FORMATS = ("text", "json", "markdown", "junit", "html")

__all__ = ["DRIFT_FORMATS", "copy_to_json", "display", "locate_json", "locate_table", "outcome_json", "outcome_line", "steps_json"]


def display(path: str) -> str:
    """A path as it can be shown: undecodable bytes of a file name become ``\\xNN``."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _dist(dist: Optional[Dist]) -> Optional[dict[str, str]]:
    return None if dist is None else dist.to_json()


def copy_to_json(copy: Copy, state: str, extra: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """The JSON object of one copy (see README, "JSON format")."""
    obj: dict[str, Any] = {
        "file": display(copy.file),
        "member": copy.member,
        "container": copy.container,
        "vendored_by": copy.vendored_by,
        "owner": _dist(copy.owner),
        "upstream": _dist(copy.upstream),
        "sha256": copy.sha256,
        "state": state,
        "conflicts": [d.to_json() for d in copy.conflicts],
    }
    if extra:
        obj.update(extra)
    return obj


def locate_json(rows: Sequence[dict[str, Any]]) -> str:
    return json.dumps({"copies": list(rows)}, indent=2, sort_keys=False) + "\n"


def _short(dist: Optional[dict[str, str]]) -> str:
    return "-" if not dist else f"{dist['name']} {dist['version']}"


def locate_table(rows: Sequence[dict[str, Any]]) -> str:
    """A table for people: one line per copy, the location last so that long paths don't break it."""
    if not rows:
        return "no copy of pkg_resources found\n"
    header = ("STATE", "CONTAINER", "OWNER", "UPSTREAM", "LOCATION")
    table = [header]
    for row in rows:
        location = row["file"] if row["member"] is None else f"{row['file']}!{row['member']}"
        owner = _short(row["owner"])
        if row["conflicts"]:
            owner += " (also: " + ", ".join(_short(d) for d in row["conflicts"]) + ")"
        table.append((row["state"], row["container"], owner, _short(row["upstream"]), location))
    widths = [max(len(r[i]) for r in table) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths)) + "  " + r[-1] for r in table]
    noun = "copy" if len(rows) == 1 else "copies"
    return "\n".join(lines) + f"\n\n{len(rows)} {noun} of pkg_resources\n"


def steps_json(plan: Optional[CopyPlan]) -> list[dict[str, Any]]:
    """Per patch: the variant that fits (or null), what it would do, and its offsets."""
    if plan is None:
        return []
    return [
        {
            "patch": step.patch,
            "variant": None if step.variant is None else step.variant.id,
            "action": step.action,
            "offsets": list(step.offsets),
            "fuzz": step.fuzz,
            "detail": step.failure,
        }
        for step in plan.steps
    ]


_DRY = {
    "patched": "would patch",
    "reverted": "would revert",
}


def outcome_line(outcome: Outcome, dry_run: bool = False) -> str:
    """One line per copy for people: what happened and which variants."""
    word = _DRY.get(outcome.outcome, outcome.outcome) if dry_run else outcome.outcome
    variants = ""
    if outcome.plan is not None and not outcome.plan.failed:
        parts = []
        for step in outcome.plan.steps:
            if step.variant is None:
                continue
            moved = [o for o in step.offsets if o]
            parts.append(step.variant.id + (f" (offset {', '.join(map(str, moved))})" if moved else ""))
        variants = "  [" + ", ".join(parts) + "]" if parts else ""
    return f"{word:<18} {display(outcome.copy.location)}{variants}\n"


def outcome_json(outcomes: Sequence[Outcome], dry_run: bool = False) -> str:
    rows = []
    for outcome in outcomes:
        rows.append(
            copy_to_json(
                outcome.copy,
                outcome.state,
                {
                    "outcome": outcome.outcome,
                    "dry_run": dry_run,
                    "message": outcome.message,
                    "warnings": list(outcome.warnings),
                    "patches": steps_json(outcome.plan),
                },
            )
        )
    return json.dumps({"copies": rows}, indent=2) + "\n"
