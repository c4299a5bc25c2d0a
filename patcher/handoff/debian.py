"""``export --layout debian``: the patches added to an unpacked Debian source package.

``dpkg-source -x`` unpacks a ``3.0 (quilt)`` source package with its own ``debian/patches``
applied (``.pc/applied-patches`` lists them). The export places the patch set on the copy as
those patches left it, in the tree's own paths (a ``+dfsg`` repack may have moved it), writes
one file per patch as ``debian/patches/pkgres-patcher-<patch>.patch`` (another name when that one
is taken by a file that is not ours) with its DEP-3 header and a ``X-Pkgres-Patcher-Variant``
field that marks it as ours, and appends them to ``debian/patches/series``. ``dpkg-source
--before-build`` (run by ``dpkg-buildpackage``) then pushes them after the package's own.

Run again, it finds its own entries: unapplied, they are recomputed and the tree is left byte
for byte as it was when nothing changed; applied (after a build), the copy is read as it was
before them (quilt's backup in ``.pc/``), and anything but the same files is refused. A patch
the package already carries (the release has the change, or a Debian patch made it) gets no file.

Every check comes before the first write; the patch files are written beside their place and
renamed, ``series`` last: until it is renamed, the new files are not part of the package.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from patcher.disk.atomic import Original, keep_originals, put_back, write_bytes
from patcher.engine.difftext import file_diff
from patcher.engine.patchset import PatchSet
from patcher.errors import ExportError, WriteError, reason
from patcher.handoff.export import (
    EXPECTED,
    ExportedPatch,
    ExportReport,
    Handed,
    Layout,
    Placed,
    pinned_release,
    place_in_sequence,
    variant_header,
)
from patcher.model import Action
from patcher.releases.index import Release

__all__ = ["MARK", "PREFIX", "export_debian", "upstream_version"]

#: the prefix of the patch files' names in ``debian/patches``
PREFIX = "pkgres-patcher-"
#: the DEP-3 field that marks a file in ``debian/patches`` as written by the export
MARK = "X-Pkgres-Patcher-Variant"
_MARK_LINE = re.compile(rf"^{MARK}: (\S+)$", re.M)
_CHANGELOG = re.compile(r"^([a-z0-9][a-z0-9+.-]+) \(([^()\s]+)\)")
_REPACK = re.compile(r"[+~.](?:dfsg|ds|repack)[0-9.]*$")
_FORMAT = "3.0 (quilt)"


@dataclass(frozen=True)
class _Entry:
    """One line of ``series`` that names a patch (comments and blank lines are kept as they are)."""

    line: str
    name: str
    ours: bool


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise ExportError(path, f"is missing: {what}") from None
    except OSError as exc:
        raise ExportError(path, reason(exc)) from None


def _read_text(path: str, what: str) -> str:
    data = _read(path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ExportError(path, "is not UTF-8 text") from None


def upstream_version(version: str) -> str:
    """The upstream part of a Debian version: no epoch, no revision, no repack suffix
    (``1:23.0.1+dfsg-1`` -> ``23.0.1``)."""
    upstream = version.split(":", 1)[-1]
    if "-" in upstream:
        upstream = upstream.rsplit("-", 1)[0]
    return _REPACK.sub("", upstream)


def _check_tree(tree: str, release: Release) -> tuple[str, str]:
    """The source package's name and version, once ``tree`` is shown to be a 3.0 (quilt) source
    package of ``release``."""
    if not os.path.isdir(os.path.join(tree, "debian")):
        raise ExportError(tree, "is not an unpacked Debian source package (no debian/ directory)")
    format_file = os.path.join(tree, "debian", "source", "format")
    found = _read_text(format_file, f"not a {_FORMAT} source package").strip()
    if found != _FORMAT:
        raise ExportError(format_file, f"says {found!r}: only a {_FORMAT} source package has debian/patches/series")
    changelog = os.path.join(tree, "debian", "changelog")
    match = _CHANGELOG.match(_read_text(changelog, "not a Debian source package"))
    if match is None:
        raise ExportError(changelog, "does not start with a 'source (version) ...' line")
    source, version = match.groups()
    try:
        same = Version(upstream_version(version)) == release.version
    except InvalidVersion:
        same = False
    if not same:
        raise ExportError(changelog, f"is {source} {version}, not {release.label}")
    return source, version


def _find_copy(tree: str, project: str) -> str:
    """The copy's path in the tree (``-p1``), as the release or a repack keeps it."""
    wanted = EXPECTED[project]
    for inner in wanted:
        for path in (inner, f"src/{inner}"):
            if os.path.isfile(os.path.join(tree, path)):
                return path
    raise ExportError(tree, f"has no {' or '.join(wanted)} (in the tree or under src/)")


def _is_ours(patches: str, name: str) -> bool:
    if not name.startswith(PREFIX):
        return False
    try:
        with open(os.path.join(patches, name), "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return False
    return _MARK_LINE.search(head.split(b"\n---", 1)[0].decode("utf-8", "replace")) is not None


def _series(patches: str) -> tuple[list[_Entry | str], bytes | None]:
    """``series`` as entries and the other lines (comments, blank lines), and its bytes (None:
    there is none)."""
    path = os.path.join(patches, "series")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return [], None
    except OSError as exc:
        raise ExportError(path, reason(exc)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ExportError(path, "is not UTF-8 text") from None
    lines: list[_Entry | str] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            lines.append(line)
            continue
        if any(w != "-p1" for w in words[1:]):
            raise ExportError(path, f"{words[0]}: only -p1 patches are understood ({' '.join(words[1:])})")
        lines.append(_Entry(line, words[0], _is_ours(patches, words[0])))
    return lines, data


def _applied(tree: str) -> list[str]:
    path = os.path.join(tree, ".pc", "applied-patches")
    try:
        return _read_text(path, "").split()
    except ExportError:
        if os.path.exists(path):
            raise
        return []


def _base_text(tree: str, path: str, entries: Sequence[_Entry]) -> tuple[str, bytes, bool]:
    """The copy as the package's own patches leave it (the file read, its bytes) and whether our
    previous entries are applied."""
    series_path = os.path.join(tree, "debian", "patches", "series")
    applied = set(_applied(tree))
    for entry in entries:
        if not entry.ours and entry.name not in applied:
            raise ExportError(
                series_path, f"{entry.name} is not applied: unpack with dpkg-source -x (or quilt push -a) first"
            )
    ours = [e for e in entries if e.ours]
    pushed = [e for e in ours if e.name in applied]
    if pushed and len(pushed) != len(ours):
        raise ExportError(series_path, "pkgres-patcher's patches are partly applied: quilt pop them first")
    source = os.path.join(tree, path)
    if pushed:
        backup = os.path.join(tree, ".pc", pushed[0].name, path)
        source = backup if os.path.isfile(backup) else source
    return source, _read(source, "the copy"), bool(pushed)


def _marked(header: str, variant_id: str) -> bytes:
    """The variant's DEP-3 header with the field that marks the file as the export's."""
    head = header if header.endswith("\n") or not header else header + "\n"
    return (head + f"{MARK}: {variant_id}\n").encode("utf-8")


def _names(placed: Sequence[Placed], patches: str, foreign: set[str]) -> dict[str, str]:
    """Each carried patch's file name: ``pkgres-patcher-<patch>.patch``, or ``-2``, ``-3``...
    when a file or series entry that is not ours has it."""
    taken = set(foreign)
    try:
        taken |= {n for n in os.listdir(patches) if not _is_ours(patches, n)}
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ExportError(patches, reason(exc)) from None
    names: dict[str, str] = {}
    for p in placed:
        if p.action.settled:
            continue
        name, n = f"{PREFIX}{p.patch}.patch", 1
        while name in taken:
            n += 1
            name = f"{PREFIX}{p.patch}-{n}.patch"
        taken.add(name)
        names[p.patch] = name
    return names


def _write_all(patches: str, files: dict[str, bytes], stale: Sequence[str]) -> None:
    """Write ``files`` (names in ``patches``) together or not at all: each atomically, ``series``
    last, those written put back when one fails; then remove ``stale``."""
    made_dir = not os.path.isdir(patches)
    targets = [os.path.join(patches, name) for name in sorted(files, key=lambda n: n == "series")]
    originals: list[Original] = []
    try:
        os.makedirs(patches, exist_ok=True)
        originals = keep_originals(targets)
        for target in targets:
            write_bytes(target, files[os.path.basename(target)])
    except (OSError, WriteError) as exc:
        put_back(originals)
        if made_dir:
            with contextlib.suppress(OSError):
                os.rmdir(patches)
        why = exc.reason if isinstance(exc, WriteError) else reason(exc)
        raise WriteError(os.path.join(patches, "series"), why) from None
    for name in stale:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(patches, name))


def export_debian(requirement: str, output: str, patchset: PatchSet) -> ExportReport:
    """Add the patches for the release ``requirement`` pins to the Debian source tree ``output``
    (see the module's description); an :class:`ExportError` and no change on a bad tree."""
    release = pinned_release(requirement)
    tree = os.path.abspath(output)
    source, version = _check_tree(tree, release)
    patches = os.path.join(tree, "debian", "patches")
    path = _find_copy(tree, release.project)
    lines, old_series = _series(patches)
    entries = [line for line in lines if isinstance(line, _Entry)]
    read_from, text, pushed = _base_text(tree, path, entries)
    placed = place_in_sequence(text, patchset, f"{source} {version} {path}")

    ours = [e.name for e in entries if e.ours]
    names = _names(placed, patches, {e.name for e in entries if not e.ours})
    files: dict[str, bytes] = {}
    exported = []
    warnings = []
    for p in placed:
        in_range = p.variant.in_range([(release.project, str(release.version))])
        if in_range is False and p.action is Action.CHANGE:
            warnings.append(f"{p.variant.id} fits {release.label}, which is outside its declared range")
        name = names.get(p.patch)
        data = None
        if name is not None:
            data = _marked(variant_header(p.variant), p.variant.id) + b"---\n" + file_diff(path, p.before, p.pairs)
            files[name] = data
        status = Handed.WRITTEN if data is not None else Handed.NOT_NEEDED
        if data is None and p.action is not Action.NOT_NEEDED:
            status = Handed.APPLIED
        digest = None if data is None else hashlib.sha256(data).hexdigest()
        exported.append(ExportedPatch(p.patch, p.variant.id, status, p.offsets, name, digest))

    kept: list[str] = [line.line if isinstance(line, _Entry) else line for line in lines if not _ours(line)]
    new_lines = [*kept, *names.values()]
    if ours and _block_in_place(lines):
        # our block stays where it is (a package's patch may follow it)
        new_lines = []
        added = False
        for line in lines:
            if not _ours(line):
                new_lines.append(line.line if isinstance(line, _Entry) else line)
            elif not added:
                new_lines.extend(names.values())
                added = True
    series = ("\n".join(new_lines) + "\n").encode("utf-8") if new_lines else b""
    changed = {n: d for n, d in files.items() if _differs(os.path.join(patches, n), d)}
    if old_series is None and not names:
        series_changes = False
    else:
        series_changes = series != old_series
    if series_changes:
        changed["series"] = series
    stale = [n for n in ours if n not in files]
    if pushed and (changed or stale):
        raise ExportError(
            os.path.join(patches, "series"),
            "pkgres-patcher's patches are applied and differ from these: "
            "unapply them first (dpkg-source --after-build, or quilt pop -a)",
        )
    if changed or stale:
        _write_all(patches, changed, stale)
    listed = [f"debian/patches/{n}" for n in names.values()]
    return ExportReport(
        release.project,
        str(release.version),
        Layout.DEBIAN,
        tree,
        read_from,
        path,
        tuple(exported),
        (*listed, "debian/patches/series") if names or old_series is not None else (),
        tuple(warnings),
        bool(ours),
        tuple(f"debian/patches/{n}" for n in changed),
    )


def _ours(line: _Entry | str) -> bool:
    return isinstance(line, _Entry) and line.ours


def _block_in_place(lines: Sequence[_Entry | str]) -> bool:
    """Whether the package's own entries follow ours (then ours keep their place)."""
    last = max(i for i, line in enumerate(lines) if _ours(line))
    return any(isinstance(line, _Entry) and not line.ours for line in lines[last + 1 :])


def _differs(path: str, data: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read() != data
    except OSError:
        return True
