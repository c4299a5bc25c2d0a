"""Rendering what ``verify`` found: a table for people, JSON for programs (the output edge, as
:mod:`patcher.render` is for ``locate``). Nothing here prints."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from patcher.render import display, error_json, found_json, owner_cell, schema_name
from patcher.verification.results import CopyVerification, Escape, VerifyReport, VerifyStatus

__all__ = ["verify_json", "verify_summary", "verify_table"]


def _escape_json(escape: Escape) -> dict[str, str]:
    return {"phase": escape.phase, "type": escape.type, "message": display(escape.message), "where": escape.where}


def _result_json(result: CopyVerification) -> dict[str, Any]:
    return {
        **found_json(result.copy),
        "status": result.status.value,
        "reason": None if result.reason is None else display(result.reason),
        "python": None if result.python is None else display(result.python),
        "python_version": result.version,
        "notes": [display(n) for n in result.notes],
        "race_replay": [
            {
                "victim": race.victim,
                "kind": race.kind,
                "reached": race.reached,
                "escapes": [_escape_json(e) for e in race.escapes],
            }
            for race in result.races
        ],
        "fault_sweep": None
        if result.faults is None
        else {
            "total": len(result.faults),
            "raising": result.faults_raising,
            "points": [
                {
                    "number": f.number,
                    "call": f.call,
                    "path": display(f.path),
                    "escapes": [_escape_json(e) for e in f.escapes],
                }
                for f in result.faults
            ],
        },
        "same_listing": result.same_listing,
        "listing_differences": [display(d) for d in result.listing_differences],
    }


def verify_json(report: VerifyReport, *, quick: bool, strict: bool) -> str:
    """``verify --json``: ``{"schema", "quick", "strict", "ok", "copies", "counts", "left_alone", "errors"}``."""
    document = {
        "schema": schema_name("verify"),
        "quick": quick,
        "strict": strict,
        "ok": report.ok(strict),
        "copies": [_result_json(r) for r in report.results],
        "counts": {s.value: sum(1 for r in report.results if r.status is s) for s in VerifyStatus},
        "left_alone": [found_json(c) for c in report.left_alone],
        "errors": [error_json(e) for e in report.errors],
    }
    return json.dumps(document, indent=2) + "\n"


def _races(result: CopyVerification) -> str:
    if not result.races:
        return "-"
    failed = [race.kind for race in result.races if race.escapes]
    text = f"{result.races_survived}/{len(result.races)} survived"
    return text + (f" (died: {', '.join(failed)})" if failed else "")


def _faults(result: CopyVerification) -> str:
    if result.faults is None:
        return "-"
    return f"{result.faults_raising}/{len(result.faults)} raising"


def _same(result: CopyVerification) -> str:
    return {None: "-", True: "yes", False: "no"}[result.same_listing]


def _details(result: CopyVerification) -> list[str]:
    """What failed, grouped: one line per distinct escape (with how many fault points raised it)."""
    lines: list[str] = []
    if result.status is VerifyStatus.NOT_VERIFIABLE:
        return [f"    not verifiable: {display(result.reason or '')}"]
    for note in result.notes:
        lines.append(f"    note: {display(note)}")
    for race in result.races:
        for e in race.escapes:
            lines.append(f"    race {race.kind}: {e.type} in {e.phase} at {e.where}: {display(e.message)}")
    grouped = Counter((e.type, e.phase, e.where) for f in result.faults or () for e in f.escapes)
    for (kind, phase, where), count in sorted(grouped.items(), key=lambda item: (-item[1], item[0])):
        lines.append(f"    fault sweep: {kind} in {phase} at {where} ({count} fault points)")
    lines += [f"    listing: {display(d)}" for d in result.listing_differences]
    return lines


def verify_summary(report: VerifyReport) -> str:
    """The last line: copies per status, and the wheels left alone."""
    wheels = len({c.file for c in report.left_alone})
    alone = ""
    if wheels:
        them = "the wheel to verify it" if wheels == 1 else "the wheels to verify them"
        alone = f"{wheels} {'wheel' if wheels == 1 else 'wheels'} left alone (pass --wheels or name {them})"
    if not report.results:
        return f"no copy of pkg_resources verified, {alone}\n" if alone else "no copy of pkg_resources found\n"
    counts = ", ".join(f"{n} {s.value}" for s in VerifyStatus if (n := sum(1 for r in report.results if r.status is s)))
    many = "copy" if len(report.results) == 1 else "copies"
    return f"{len(report.results)} {many} of pkg_resources verified: {counts}" + (f"; {alone}" if alone else "") + "\n"


def verify_table(report: VerifyReport, quiet: bool = False) -> str:
    """One line per copy (the location last), the failures below it, then the summary."""
    if quiet or not report.results:
        return verify_summary(report)
    header = ("STATUS", "OWNER", "PYTHON", "RACE REPLAY", "FAULT POINTS", "SAME LISTING", "COPY")
    rows = [header]
    for r in report.results:
        rows.append(
            (
                r.status.value,
                owner_cell(r.copy),
                r.version or "-",
                _races(r),
                _faults(r),
                _same(r),
                display(r.copy.location),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(rows[0][:-1], widths)) + "  " + rows[0][-1]]
    for row, result in zip(rows[1:], report.results):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths)) + "  " + row[-1])
        lines += _details(result)
    return "\n".join(lines) + "\n\n" + verify_summary(report)
