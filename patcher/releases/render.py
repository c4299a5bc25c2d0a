"""Renderers for drift results: text, JSON, Markdown, JUnit XML and a self-contained HTML heatmap.

The output edge of ``drift``: results become JSON, XML and HTML only here. Nothing here
prints; each renderer returns a string (:func:`patcher.disk.atomic.write_text` saves one).
"""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from patcher.errors import PatcherError
from patcher.model import Status
from patcher.releases.drift import DriftReport, FitRange, PatchResult, Result, Summary
from patcher.render import display, error_json, schema_name

if TYPE_CHECKING:
    from patcher.releases.refresh import Refreshed

__all__ = [
    "FORMATS",
    "failure_json",
    "refresh_json",
    "render",
    "render_html",
    "render_json",
    "render_junit",
    "render_markdown",
    "render_text",
    "result_json",
    "summary_json",
]

#: output formats of ``drift``
FORMATS = ("text", "json", "markdown", "junit", "html")


#: heatmap colours, one per status (also used by the legend)
COLOURS = {
    "clean": "#2e9e4f",
    "offset": "#8cc96b",
    "applied": "#3d7bd9",
    "not-needed": "#dcdcdc",
    "partly-upstream": "#9b6fd1",
    "absent": "#b8b8b8",
    "fuzz": "#f0b429",
    "out-of-range": "#e8743b",
    "fails": "#d2262e",
}


def _sorted(results: Sequence[Result]) -> list[Result]:
    return sorted(results, key=lambda r: (r.project, Version(r.version), r.copy))


def _offsets(result: Result) -> str:
    # a patch not needed in this era moves nothing: where its anchor lies is no offset
    offsets = [f"{o:+d}" for p in result.patches if p.status is not Status.NOT_NEEDED for o in p.offsets if o]
    return " ".join(offsets) or "-"


def _patch_json(result: PatchResult) -> dict[str, Any]:
    return {
        "patch": result.patch,
        "status": result.status.value,
        "variant": result.variant,
        "offsets": list(result.offsets),
        "fuzz": result.fuzz,
        "detail": result.detail,
    }


def result_json(result: Result) -> dict[str, Any]:
    """The JSON row of one (release, copy) (docs: reference/commands/drift)."""
    return {
        "project": result.project,
        "version": result.version,
        "copy": result.copy,
        "status": result.status.value,
        "variant": {p.patch: p.variant for p in result.patches},
        "offsets": {p.patch: list(p.offsets) for p in result.patches},
        "detail": result.detail,
        "sha256": result.sha256,
        "identities": [{"name": n, "version": v} for n, v in result.identities],
        "patches": [_patch_json(p) for p in result.patches],
    }


def summary_json(summary: Summary) -> dict[str, Any]:
    """The summary as ``drift --format json`` writes it."""
    return {
        "releases": summary.releases,
        "counts": {status.value: count for status, count in summary.counts.items()},
        "distinct_sources": summary.distinct_sources,
        "drift": summary.drift,
        "first_drift": {
            project: {"version": r.version, "copy": r.copy, "status": r.status.value, "detail": r.detail}
            for project, r in summary.first_drift.items()
        },
        "variants": [
            {"variant": v.variant, "declared": list(v.declared), "fits": {p: f._asdict() for p, f in v.fits.items()}}
            for v in summary.variants
        ],
    }


def _counts(summary: Summary) -> str:
    return ", ".join(f"{n} {s}" for s, n in summary.counts.items() if n)


def render_text(report: DriftReport, quiet: bool = False, verbose: bool = False) -> str:
    """A table for the terminal, then the summary; with ``quiet`` only the rows that drift."""
    rows = [("PROJECT", "VERSION", "STATUS", "OFFSETS", "COPY", "DETAIL")]
    for r in _sorted(report.results):
        if r.drift or not quiet:
            rows.append((r.project, r.version, r.status, _offsets(r), r.copy, r.detail or ""))
    if len(rows) == 1 and quiet:
        return _summary_text(report, quiet, verbose).lstrip("\n")
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths)) + ("  " + row[5] if row[5] else "") for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n" + _summary_text(report, quiet, verbose)


def _suggested(fit: FitRange) -> str | None:
    """The range to declare, when the releases checked can tell one: not from a single release."""
    return fit.suggested if fit.releases > 1 else None


def _summary_text(report: DriftReport, quiet: bool = False, verbose: bool = False) -> str:
    """What a maintainer acts on: the counts, each variant's fit (a range suggested only from
    two releases or more), the first drift per project. The variants picked for no release
    checked (most of them, when a few releases are checked) are one line counting them; named
    one per line with ``verbose``, left out with ``quiet``."""
    summary = report.summary
    lines = [f"\n{summary.releases} releases checked: {_counts(summary) or 'nothing'}"]
    unused = []
    for variant in summary.variants:
        for project, fit in variant.fits.items():
            plural = "s" if fit.releases != 1 else ""
            span = fit.first if fit.first == fit.last else f"{fit.first} .. {fit.last}"
            suggested = _suggested(fit)
            lines.append(
                f"{variant.variant}: fits {project} {span} ({fit.releases} release{plural})"
                + (f"; suggested {suggested}" if suggested else "")
            )
        if not variant.fits:
            unused.append(variant.variant)
    if unused and verbose:
        lines += [f"{name}: picked for no release checked" for name in unused]
    elif unused and not quiet:
        they = "variant" if len(unused) == 1 else "variants"
        lines.append(f"{len(unused)} {they} picked for no release checked (--verbose names them)")
    for project, first in summary.first_drift.items():
        lines.append(f"first drift in {project}: {first.version} ({first.status})")
    return "\n".join(lines) + "\n"


def render_json(report: DriftReport) -> str:
    """``{"schema", "results", "summary", "errors"}`` (docs: reference/commands/drift)."""
    data = {
        "schema": schema_name("drift"),
        "results": [result_json(r) for r in _sorted(report.results)],
        "summary": summary_json(report.summary),
        "errors": [error_json(e) for e in report.errors],
    }
    return json.dumps(data, indent=2) + "\n"


def failure_json(error: PatcherError) -> str:
    """``drift --format json`` of a run that ``error`` stopped: nothing checked, no summary."""
    data = {"schema": schema_name("drift"), "results": [], "summary": None, "errors": [error_json(error)]}
    return json.dumps(data, indent=2) + "\n"


def refresh_json(done: Refreshed | None, errors: Sequence[PatcherError] = ()) -> str:
    """``refresh --json``: the variant written (None when nothing was) and the errors."""
    refreshed = None
    if done is not None:
        refreshed = {
            "path": display(done.path),
            "variant": done.variant,
            "derived_from": done.derived_from,
            "fuzz": done.fuzz,
            "result": result_json(done.result),
        }
    data = {"schema": schema_name("refresh"), "refreshed": refreshed, "errors": [error_json(e) for e in errors]}
    return json.dumps(data, indent=2) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: DriftReport) -> str:
    """A PR comment: a verdict line, the drifting releases, the counts and the suggested ranges."""
    summary = report.summary
    drifting = [r for r in _sorted(report.results) if r.drift]
    verdict = f"**{len(drifting)} of {len(report.results)} release copies drift**" if drifting else "**No drift**"
    out = ["### pkg_resources patch drift", "", f"{verdict} ({summary.releases} releases checked)", ""]
    out += ["| status | count |", "|---|---:|"]
    out += [f"| {s} | {n} |" for s, n in summary.counts.items() if n]
    if drifting:
        out += ["", "| project | version | copy | status | detail |", "|---|---|---|---|---|"]
        out += [
            f"| {r.project} | {r.version} | `{r.copy}` | **{r.status}** | {_md(r.detail or '')} |" for r in drifting
        ]
    out += ["", "| variant | project | first | last | suggested |", "|---|---|---|---|---|"]
    for variant in summary.variants:
        for project, fit in variant.fits.items():
            suggested = _suggested(fit)
            shown = f"`{suggested}`" if suggested else "-"
            out.append(f"| `{variant.variant}` | {project} | {fit.first} | {fit.last} | {shown} |")
    if report.errors:
        out += ["", "Could not fetch:", ""] + [f"- {_md(str(e))}" for e in report.errors]
    return "\n".join(out) + "\n"


def render_junit(report: DriftReport) -> str:
    """JUnit XML: one test suite per project, one test case per (release, copy)."""
    root = ET.Element("testsuites", name="pkgres-patcher drift")
    for project in sorted({r.project for r in report.results}):
        mine = [r for r in _sorted(report.results) if r.project == project]
        suite = ET.SubElement(
            root,
            "testsuite",
            name=project,
            tests=str(len(mine)),
            failures=str(sum(r.drift for r in mine)),
            errors="0",
            skipped="0",
        )
        for r in mine:
            case = ET.SubElement(suite, "testcase", classname=f"drift.{project}", name=f"{r.version} {r.copy}")
            if r.drift:
                failure = ET.SubElement(case, "failure", type=r.status, message=f"{r.status}: {r.detail or ''}")
                failure.text = json.dumps(result_json(r), indent=2)
            else:
                ET.SubElement(case, "system-out").text = f"{r.status}" + (f": {r.detail}" if r.detail else "")
    if report.errors:
        suite = ET.SubElement(
            root,
            "testsuite",
            name="fetch",
            tests=str(len(report.errors)),
            failures="0",
            errors=str(len(report.errors)),
            skipped="0",
        )
        for error in report.errors:
            case = ET.SubElement(suite, "testcase", classname="drift.fetch", name=error.subject)
            ET.SubElement(case, "error", type="fetch", message=str(error))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --- HTML heatmap ----------------------------------------------------------------------------

_CSS = """
body { font: 13px/1.4 system-ui, sans-serif; margin: 16px; color: #222; background: #fff; }
h1 { font-size: 18px; } h2 { font-size: 15px; margin: 18px 0 6px; }
.legend span { display: inline-block; margin-right: 12px; }
.legend i, td.cell { width: 12px; height: 14px; }
.legend i { display: inline-block; vertical-align: middle; margin-right: 4px; }
.map { overflow-x: auto; padding-bottom: 120px; margin-bottom: -110px; }
table.heatmap { border-collapse: collapse; }
table.heatmap th { font-weight: normal; white-space: nowrap; font-size: 11px; }
th.patch { text-align: right; padding-right: 6px; position: sticky; left: 0; background: #fff; z-index: 1; }
th.major { text-align: left; padding-left: 2px; color: #555; }
td.cell { padding: 0; border: 1px solid #fff; position: relative; }
.g0 { border-left: 3px solid #fff; }
td.cell:hover { outline: 2px solid #000; z-index: 2; }
td.cell:hover::after { content: attr(data-tip); position: absolute; left: 14px; top: 14px; z-index: 3;
  background: #222; color: #fff; padding: 4px 6px; border-radius: 3px; white-space: pre; font-size: 12px; }
table.summary { border-collapse: collapse; } table.summary td, table.summary th { border: 1px solid #ccc; padding: 2px 6px; }
"""

# counts the rendered cells per computed colour: the page reports what the browser drew
_JS = """
document.addEventListener('DOMContentLoaded', function () {
  var seen = {};
  document.querySelectorAll('td.cell').forEach(function (td) {
    var s = td.dataset.status;
    seen[s] = seen[s] || {cells: 0, colour: getComputedStyle(td).backgroundColor};
    seen[s].cells += 1;
  });
  var out = document.getElementById('rendered');
  out.dataset.cells = document.querySelectorAll('td.cell').length;
  out.textContent = JSON.stringify(seen);
});
"""


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _heatmaps(results: Sequence[Result]) -> dict[str, list[Result]]:
    """Results per heatmap: one per project, and one per vendoring package's copy (pip's)."""
    maps: dict[str, list[Result]] = {}
    for r in _sorted(results):
        vendored = "" if r.copy.startswith("pkg_resources") else f" ({r.copy.split('/')[0]}/_vendor)"
        maps.setdefault(f"{r.project}{vendored}", []).append(r)
    return maps


def _tip(result: Result, patch: str | None) -> tuple[str, str]:
    """The status and the hover text of one cell (``patch`` None: the whole copy)."""
    found = next((p for p in result.patches if p.patch == patch), None)
    if found is None:
        status, detail, variant = result.status, result.detail, None
    else:
        status, detail, variant = found.status, found.detail, found.variant
    lines = [f"{result.project} {result.version}", result.copy, f"{patch or 'all patches'}: {status}"]
    if variant:
        lines.append(f"variant {variant}")
    if found is not None and any(found.offsets):
        lines.append("offsets " + " ".join(f"{o:+d}" for o in found.offsets))
    if detail:
        lines.append(detail)
    return status, "\n".join(lines)


def _cell(result: Result, patch: str | None, first_of_group: bool) -> str:
    status, tip = _tip(result, patch)
    group = " g0" if first_of_group else ""
    return (
        f'<td class="cell s-{status}{group}" data-status="{status}" data-version="{_esc(result.version)}" '
        f'data-patch="{_esc(patch or "")}" title="{_esc(tip)}" data-tip="{_esc(tip)}"></td>'
    )


def _heatmap(title: str, results: Sequence[Result], patches: Sequence[str]) -> str:
    """Releases along x, grouped by major version (a header cell per group); patches along y."""
    majors: dict[int, int] = {}
    for r in results:
        majors[Version(r.version).major] = majors.get(Version(r.version).major, 0) + 1
    starts = {
        i for i, r in enumerate(results) if i == 0 or Version(results[i - 1].version).major != Version(r.version).major
    }
    head = "".join(f'<th class="major g0" colspan="{n}" data-major="{m}">{m}</th>' for m, n in majors.items())
    rows = [
        f'<h2>{_esc(title)}</h2><div class="map"><table class="heatmap" data-map="{_esc(title)}">',
        f"<tr><th></th>{head}</tr>",
    ]
    for patch in (None, *patches):
        label = "all patches" if patch is None else patch
        cells = "".join(_cell(r, patch, i in starts) for i, r in enumerate(results))
        rows.append(f'<tr><th class="patch">{_esc(label)}</th>{cells}</tr>')
    rows.append("</table></div>")
    return "\n".join(rows)


def render_html(report: DriftReport, patches: Sequence[str]) -> str:
    """A self-contained page: per project, a heatmap of releases (grouped by major) x patches."""
    css = _CSS + "".join(f".s-{s}, .legend .s-{s} {{ background: {c}; }}\n" for s, c in COLOURS.items())
    legend = "".join(f'<span><i class="s-{s}"></i>{s}</span>' for s in Status)
    drifting = sum(1 for r in report.results if r.drift)
    body = [
        "<h1>pkg_resources patch drift</h1>",
        f'<p id="verdict" data-drift="{drifting}">{len(report.results)} release copies checked, {drifting} drift '
        f"({_esc(_counts(report.summary))})</p>",
        f'<p class="legend">{legend}</p>',
    ]
    body += [_heatmap(title, rs, patches) for title, rs in _heatmaps(report.results).items()]
    body.append(_summary_html(report))
    body.append('<pre id="rendered" hidden></pre>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>pkg_resources patch drift</title>'
        f"<style>{css}</style><script>{_JS}</script></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _summary_html(report: DriftReport) -> str:
    rows = [
        "<h2>Variants</h2>",
        '<table class="summary"><tr><th>variant</th><th>declared</th><th>project</th>'
        "<th>first</th><th>last</th><th>suggested</th></tr>",
    ]
    nothing = {"-": ("-", "-", "picked for no release checked")}
    for variant in report.summary.variants:
        fits = {p: (f.first, f.last, f.suggested) for p, f in variant.fits.items()} or nothing
        for project, (first, last, suggested) in fits.items():
            rows.append(
                f"<tr><td>{_esc(variant.variant)}</td><td>{_esc('; '.join(variant.declared))}</td>"
                f"<td>{_esc(project)}</td><td>{_esc(first)}</td><td>{_esc(last)}</td>"
                f"<td>{_esc(suggested)}</td></tr>"
            )
    rows.append("</table>")
    return "\n".join(rows)


def render(
    report: DriftReport, fmt: str, patches: Sequence[str] | None = None, quiet: bool = False, verbose: bool = False
) -> str:
    """The report in one of :data:`FORMATS` (``patches``: the heatmap's rows, default the report's;
    ``quiet``: the text table lists only what drifts; ``verbose``: the text summary names every
    variant picked for no release)."""
    patches = report.patches if patches is None else patches
    if fmt == "json":
        return render_json(report)
    if fmt == "markdown":
        return render_markdown(report)
    if fmt == "junit":
        return render_junit(report)
    if fmt == "html":
        return render_html(report, patches)
    return render_text(report, quiet, verbose)
