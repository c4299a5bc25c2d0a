"""Rendering what ``export`` wrote: lines for people, JSON (``pkgres-patcher/export/1``) for programs."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from patcher.errors import PatcherError
from patcher.handoff.export import ExportReport, Handed, Layout
from patcher.render import display, error_json, schema_name

__all__ = ["export_json", "export_text"]


def _exported(report: ExportReport) -> dict[str, Any]:
    return {
        "project": report.project,
        "version": report.version,
        "layout": report.layout.value,
        "output": display(report.output),
        "archive": display(report.archive),
        "path": report.path,
        "replaced": report.replaced,
        "files": list(report.files),
        "changed": list(report.changed),
        "patches": [
            {
                "patch": p.patch,
                "variant": p.variant,
                "status": p.status.value,
                "offsets": list(p.offsets),
                "file": p.file,
                "sha256": p.sha256,
                "when": p.when,
            }
            for p in report.patches
        ],
        "warnings": [display(w) for w in report.warnings],
    }


def export_json(report: ExportReport | None, errors: Sequence[PatcherError] = ()) -> str:
    """``{"schema", "export", "errors"}``; ``export`` is null when nothing was written."""
    data = {
        "schema": schema_name("export"),
        "export": None if report is None else _exported(report),
        "errors": [error_json(e) for e in errors],
    }
    return json.dumps(data, indent=2) + "\n"


def export_text(report: ExportReport) -> str:
    """One line per patch, then where the files went."""
    lines = []
    for p in report.patches:
        if p.status is Handed.APPLIED:
            lines.append(f"{p.patch}: already in {report.project} {report.version} ({p.variant}): no file")
        elif p.status is Handed.NOT_NEEDED:
            lines.append(f"{p.patch}: no such spot in {report.project} {report.version} ({p.variant}): no file")
        else:
            when = f" when={p.when}" if p.when else ""
            lines.append(f"{p.file}: {p.variant}{when}")
    written = sum(1 for p in report.patches if p.status is Handed.WRITTEN)
    if report.layout is Layout.DEBIAN:
        done = f"{len(report.changed)} file(s) changed" if report.changed else "nothing changed"
        lines.append(
            f"{written} patch(es) for {report.project} {report.version} in {display(report.output)}/debian/patches "
            f"({report.path}): {done}"
        )
        return "\n".join(lines) + "\n"
    lines.append(
        f"{written} patch file(s) for {report.project} {report.version} ({report.layout} layout, "
        f"{report.path}) in {display(os.path.relpath(report.output) if not report.output.startswith('/') else report.output)}"
    )
    return "\n".join(lines) + "\n"
