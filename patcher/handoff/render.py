"""Rendering what ``export`` wrote and ``upstream`` made: lines for people, JSON
(``pkgres-patcher/export/1``, ``pkgres-patcher/upstream/1``) for programs."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from patcher.errors import PatcherError
from patcher.handoff.export import ExportReport, Handed, Layout
from patcher.handoff.upstream import Upstreamed
from patcher.render import display, error_json, schema_name

__all__ = ["export_json", "export_text", "upstream_json", "upstream_text"]


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


def _upstreamed(done: Upstreamed, mbox: bytes) -> dict[str, Any]:
    written = done.output != "-"
    return {
        "target": done.target.value,
        "source": display(done.source),
        "output": display(done.output) if written else None,
        "branch": done.branch,
        "python2": done.python2,
        "variants": list(done.variants),
        "files": list(done.files),
        "mbox": None if written or not done.made else mbox.decode("utf-8", "surrogateescape"),
    }


def upstream_json(done: Upstreamed | None, mbox: bytes = b"", errors: Sequence[PatcherError] = ()) -> str:
    """``{"schema", "upstream", "errors"}``; ``upstream`` is null when nothing was made."""
    data = {
        "schema": schema_name("upstream"),
        "upstream": None if done is None else _upstreamed(done, mbox),
        "errors": [error_json(e) for e in errors],
    }
    return json.dumps(data, indent=2) + "\n"


def upstream_text(done: Upstreamed, mbox: bytes) -> str:
    """The mbox itself when it went nowhere else, else where it was written; nothing when
    nothing was made (the command says so on stderr)."""
    if not done.made:
        return ""
    if done.output == "-":
        return mbox.decode("utf-8", "surrogateescape")
    return f"wrote {display(done.output)}: {', '.join(done.files)}\n"
