"""The patch set: a quilt ``series``, DEP-3 headers, and unified diffs parsed with unidiff.

Layout of ``patches/``::

    series                          # order: one "<patch>/<variant>.patch" per line
    <patch>/<variant>.patch         # DEP-3 header, "---", unified diff

A *patch* is one spot in pkg_resources; its *variants* are the same change written for
different upstream eras. The engine picks, per copy, the first variant in series order whose
hunks all fit; ``Upstream-Releases`` says which releases a variant is meant for, so that a fit
outside the range can be reported.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet as UnifiedDiff

from patcher.engine.headers import read_headers
from patcher.errors import PatchSetError, reason
from patcher.locations import default_patches_dir, patches_root

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

__all__ = [
    "DEP3_FIELDS",
    "MEMBER",
    "SPOT_ABSENT",
    "SPOT_FIELD",
    "FilePatch",
    "Hunk",
    "Line",
    "Patch",
    "PatchSet",
    "Variant",
    "default_patches_dir",
    "load_patchset",
    "parse_diff",
    "parse_variant",
    "python3_only",
]

#: DEP-3 fields every variant must carry
DEP3_FIELDS = ("Description", "Author", "Origin", "Bug", "Forwarded", "Applied-Upstream", "Last-Update")
RANGES_FIELD = "Upstream-Releases"
#: ``Spot: absent`` marks a variant for releases whose code has no such spot: its diff changes
#: nothing and is an anchor, context that shows the text is of that era
SPOT_FIELD = "Spot"
SPOT_ABSENT = "absent"
#: the file every patch is written against: paths are relative to the pkg_resources package,
#: whose ``__init__.py`` each copy is (a single-module ``pkg_resources.py`` included)
MEMBER = "__init__.py"
#: what a variant writes for code that may still run on Python 2 (where ``IOError`` is not an
#: ``OSError``), and what a Python-3-only tree writes instead (``IOError`` is an alias there)
PYTHON3_REWRITES = ((b"except (IOError, OSError)", b"except OSError"), (b", IOError, OSError)", b", OSError)"))


def python3_only(text: bytes) -> bytes:
    """``text`` with ``IOError`` dropped from its ``except (IOError, OSError)`` clauses, as a
    Python-3-only tree's linters (pyupgrade) want them.

    The one rewrite between a variant and what ``upstream`` hands a Python-3-only tree; the
    planner takes a copy that carries the result so (:meth:`Variant.python3`) for patched, so
    that the round trip through upstream reads as the fix. No pattern spans a line: rewriting a
    whole text and rewriting each of its lines are the same.
    """
    for before, after in PYTHON3_REWRITES:
        text = text.replace(before, after)
    return text


@dataclass(frozen=True)
class Line:
    """One line of a hunk: ``kind`` is ``" "``, ``"-"`` or ``"+"``; ``text`` has no line ending."""

    kind: str
    text: bytes
    eol: bool = True


@dataclass(frozen=True)
class Hunk:
    """A hunk; ``source_start`` and ``target_start`` are 1-based as in ``@@ -s,l +t,l @@``."""

    source_start: int
    lines: tuple[Line, ...]
    section: str = ""
    target_start: int = 0

    @property
    def before(self) -> tuple[Line, ...]:
        return tuple(line for line in self.lines if line.kind != "+")

    def reversed(self) -> Hunk:
        """The hunk that undoes this one: it is expected where this one's result lies."""
        swap = {"+": "-", "-": "+", " ": " "}
        lines = tuple(Line(swap[ln.kind], ln.text, ln.eol) for ln in self.lines)
        return Hunk(self.target_start, lines, self.section, self.source_start)


@dataclass(frozen=True)
class FilePatch:
    """The hunks for one file; ``path`` is relative to the pkg_resources package."""

    path: str
    hunks: tuple[Hunk, ...]

    def reversed(self) -> FilePatch:
        return FilePatch(self.path, tuple(h.reversed() for h in self.hunks))


@dataclass(frozen=True)
class Variant:
    """One variant of a patch: its DEP-3 header, the releases it is for, and its diff."""

    patch: str
    name: str
    path: str
    header: Mapping[str, str]
    ranges: tuple[Requirement, ...]
    files: tuple[FilePatch, ...]
    #: whether this is :meth:`python3` of a variant (the lines it adds through :func:`python3_only`)
    python3_form: bool = False

    @property
    def id(self) -> str:
        """``<patch>/<variant>``, as written in ``series``."""
        return f"{self.patch}/{self.name}"

    @property
    def spot_absent(self) -> bool:
        """Whether this variant declares the spot absent where its anchor fits (nothing to change)."""
        return self.header.get(SPOT_FIELD) == SPOT_ABSENT

    def hunks(self, path: str = MEMBER) -> tuple[Hunk, ...]:
        """Every hunk of this variant for ``path``, in order."""
        return tuple(h for fp in self.files if fp.path == path for h in fp.hunks)

    def python3(self) -> Variant:
        """This variant as ``upstream`` hands it to a Python-3-only tree: the lines it adds through
        :func:`python3_only` (context and removed lines are the tree's own, and stay); the variant
        itself when that changes nothing (the typed eras' variants say ``except OSError`` already)."""
        files = tuple(
            FilePatch(fp.path, tuple(replace(h, lines=tuple(_python3_line(ln) for ln in h.lines)) for h in fp.hunks))
            for fp in self.files
        )
        return self if files == self.files else replace(self, files=files, python3_form=True)

    def in_range(self, identities: Iterable[tuple[str, str]]) -> bool | None:
        """Whether any (project, version) is inside a declared range; None when none is comparable."""
        answer: bool | None = None
        for project, version in identities:
            try:
                parsed = Version(version)
            except InvalidVersion:
                continue
            for req in self.ranges:
                if canonicalize_name(req.name) == canonicalize_name(project):
                    if req.specifier.contains(parsed, prereleases=True):
                        return True
                    answer = False
        return answer


def _python3_line(line: Line) -> Line:
    return replace(line, text=python3_only(line.text)) if line.kind == "+" else line


@dataclass(frozen=True)
class Patch:
    name: str
    variants: tuple[Variant, ...]


@dataclass(frozen=True)
class PatchSet:
    root: str
    patches: tuple[Patch, ...]

    @property
    def variants(self) -> tuple[Variant, ...]:
        return tuple(v for p in self.patches for v in p.variants)


def _strip_prefix(path: str) -> str:
    for prefix in ("a/", "b/"):
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def parse_diff(text: str, where: str) -> tuple[FilePatch, ...]:
    """Parse the unified diff part of a variant (line endings kept as they are)."""
    try:
        parsed = UnifiedDiff(text.splitlines(keepends=True))
    except UnidiffParseError as exc:
        raise PatchSetError(where, f"malformed diff ({exc})") from None
    files = []
    for pf in parsed:
        if pf.is_binary_file:
            raise PatchSetError(where, f"binary diff for {pf.path} is not supported")
        if pf.is_added_file or pf.is_removed_file:
            raise PatchSetError(where, f"{pf.path}: patches may only modify files, not add or remove them")
        hunks = []
        for hunk in pf:
            lines: list[Line] = []
            for line in hunk:
                if line.line_type == "\\":
                    if lines:
                        lines[-1] = Line(lines[-1].kind, lines[-1].text, eol=False)
                    continue
                value = line.value
                for ending in ("\r\n", "\n", "\r"):
                    if value.endswith(ending):
                        value = value[: -len(ending)]
                        break
                lines.append(Line(line.line_type, value.encode("utf-8")))
            hunks.append(Hunk(hunk.source_start, tuple(lines), hunk.section_header or "", hunk.target_start))
        files.append(FilePatch(_strip_prefix(pf.source_file), tuple(hunks)))
    if not files:
        raise PatchSetError(where, "no diff found after the header")
    return tuple(files)


def _split_header(text: str, where: str) -> tuple[str, str]:
    """Split a variant into its DEP-3 header and its diff, at the first ``---`` line of its own."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.rstrip("\r\n") == "---":
            return "".join(lines[:i]), "".join(lines[i + 1 :])
        if line.startswith("--- "):
            return "".join(lines[:i]), "".join(lines[i:])
    raise PatchSetError(where, "no diff found (expected a '---' line after the DEP-3 header)")


def _parse_header(header: str, where: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, value in read_headers(header):
        lines = [ln.strip() for ln in value.splitlines()]
        fields[key] = "\n".join(ln for ln in lines if ln)
    missing = [f for f in (*DEP3_FIELDS, RANGES_FIELD) if f not in fields]
    if missing:
        raise PatchSetError(where, f"DEP-3 header lacks {', '.join(missing)}")
    return fields


def _parse_ranges(value: str, where: str) -> tuple[Requirement, ...]:
    ranges = []
    for item in value.split("\n"):
        item = item.strip()
        if not item:
            continue
        try:
            ranges.append(Requirement(item))
        except InvalidRequirement as exc:
            first = str(exc).splitlines()[0]  # packaging adds the requirement and a caret below: one line
            raise PatchSetError(where, f"{RANGES_FIELD}: {item!r} is not a requirement ({first})") from None
    if not ranges:
        raise PatchSetError(where, f"{RANGES_FIELD} names no release")
    return tuple(ranges)


def _check_changes(header: Mapping[str, str], files: tuple[FilePatch, ...], where: str) -> None:
    """A variant changes its spot, or (``Spot: absent``) only names context: never both, never neither."""
    spot = header.get(SPOT_FIELD)
    if spot is not None and spot != SPOT_ABSENT:
        raise PatchSetError(where, f"{SPOT_FIELD}: {spot!r} is not understood (the one value is {SPOT_ABSENT!r})")
    changes = any(line.kind != " " for fp in files for hunk in fp.hunks for line in hunk.lines)
    if spot == SPOT_ABSENT and changes:
        raise PatchSetError(
            where, f"'{SPOT_FIELD}: {SPOT_ABSENT}' declares nothing to change, but the diff changes lines"
        )
    if spot is None and not changes:
        raise PatchSetError(
            where,
            f"the diff changes nothing (a variant for an era without the spot says '{SPOT_FIELD}: {SPOT_ABSENT}')",
        )


def parse_variant(text: str, patch: str, name: str, path: str) -> Variant:
    """Parse one variant file's text (header + diff)."""
    header_text, diff_text = _split_header(text, path)
    header = _parse_header(header_text, path)
    files = parse_diff(diff_text, path)
    _check_changes(header, files, path)
    return Variant(
        patch=patch,
        name=name,
        path=path,
        header=header,
        ranges=_parse_ranges(header[RANGES_FIELD], path),
        files=files,
    )


def _read(source: Traversable) -> str:
    """A file of the patch set, in a directory or (shipped in ``pkgres-patcher.pyz``) in a zip."""
    try:
        return source.read_bytes().decode("utf-8")
    except KeyError:  # a zip member missing, on Python < 3.10
        raise PatchSetError(str(source), "No such file or directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PatchSetError(str(source), reason(exc)) from None


def _read_series(series: Traversable) -> list[str]:
    raw = _read(series)
    entries = []
    for number, line in enumerate(raw.splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        parts = entry.split("/")
        if len(parts) != 2 or not all(parts) or ".." in parts or not parts[1].endswith(".patch"):
            raise PatchSetError(str(series), f"line {number}: expected '<patch>/<variant>.patch', got {entry!r}")
        if entry in entries:
            raise PatchSetError(str(series), f"line {number}: {entry} is listed twice")
        entries.append(entry)
    if not entries:
        raise PatchSetError(str(series), "lists no patch")
    return entries


def load_patchset(directory: str | None = None) -> PatchSet:
    """Read ``series`` and every variant it names, in series order."""
    root = patches_root(directory)
    by_patch: dict[str, list[Variant]] = {}
    for entry in _read_series(root / "series"):
        patch, filename = entry.split("/")
        source = root / patch / filename
        variant = parse_variant(_read(source), patch, filename[: -len(".patch")], str(source))
        by_patch.setdefault(patch, []).append(variant)
    for variants in by_patch.values():
        _check_anchors_last(variants, str(root / "series"))
    return PatchSet(str(root), tuple(Patch(name, tuple(vs)) for name, vs in by_patch.items()))


def _check_anchors_last(variants: Sequence[Variant], where: str) -> None:
    """A ``Spot: absent`` variant comes after every variant that changes the spot: its anchor must
    never be taken for a copy one of them fits (planning takes the first that fits)."""
    for earlier, later in zip(variants, variants[1:]):
        if earlier.spot_absent and not later.spot_absent:
            raise PatchSetError(
                where, f"{earlier.id} declares the spot absent, so it goes after {later.id}, which changes it"
            )
