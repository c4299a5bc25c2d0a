"""``export``: the variants that fit one release, as the patch files a distribution's build applies.

A distribution build patches the release's own files with its own tool (Sage's
``sage-apply-patches``, Debian's quilt, Spack's ``patch -s -p1``), one file after the other. So
each patch becomes one ``-p1`` file named by its place in the series (``0001-<patch>.patch``),
its DEP-3 header kept, its paths those of the release's unpacked sdist (or wheel), its line
numbers those of the text the earlier files left: ``patch`` applies every file clean, with no
offset and no fuzz, and the result is byte for byte what ``apply`` makes of the same release.

The variant of each patch is the one ``apply`` picks on the pristine file; it is then placed on
the text after the earlier patches (they touch separate spots: it moves, it does not change).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from patcher.engine.difftext import file_diff
from patcher.engine.hunks import Mismatch, Placement, apply_hunks, place_hunks
from patcher.engine.patchset import MEMBER, Hunk, PatchSet, Variant
from patcher.engine.planning import plan_copy
from patcher.errors import ExportError, FetchError, UsageError, WriteError, reason
from patcher.model import Action, Word
from patcher.releases.index import Index, Release

__all__ = [
    "EXPECTED",
    "RPM_SNIPPET",
    "SPACK_SNIPPET",
    "ExportReport",
    "ExportedPatch",
    "Handed",
    "Layout",
    "Placed",
    "export_release",
    "pinned_release",
    "place_in_sequence",
    "release_file",
    "spack_when",
    "variant_header",
]

#: the file of the Spack snippet (not ``package.py``: the export may be the package's own directory)
SPACK_SNIPPET = "package-patches.py"
#: the file of the rpm snippet: the ``PatchN:`` lines for the spec's preamble
RPM_SNIPPET = "pkgres-patcher.spec"
#: the number of the first ``PatchN:`` line: after a spec's own patches, which ``%autosetup`` applies first
RPM_FIRST_PATCH = 9001
#: the prefix of the rpm layout's patch files: they go in ``SOURCES`` beside the package's own
RPM_PREFIX = "pkgres-patcher-"
#: where a release keeps the copy, as in a wheel (an sdist adds its top directory, maybe ``src/``)
EXPECTED = {
    "setuptools": ("pkg_resources/__init__.py", "pkg_resources.py"),
    "pkg-resources-backport": ("pkg_resources/__init__.py", "pkg_resources.py"),
    "pip": ("pip/_vendor/pkg_resources/__init__.py", "pip/_vendor/pkg_resources.py"),
}
_PATCH_FILE = re.compile(r"^(?:pkgres-patcher-)?[0-9]{4}-[A-Za-z0-9._-]+\.patch$")
_EXPORT_FILES = ("series", SPACK_SNIPPET, RPM_SNIPPET)


class Layout(Word):
    """Which build the files are for: whose paths, and what goes with the patches."""

    SDIST = "sdist"  #: plain ``-p1`` patches, paths of the unpacked sdist
    WHEEL = "wheel"  #: plain ``-p1`` patches, paths of the unpacked wheel
    QUILT = "quilt"  #: ``series`` + the patches (``debian/patches``), sdist paths
    SPACK = "spack"  #: the patches + ``patch(...)`` lines for ``package.py``, sdist paths
    DEBIAN = "debian"  #: added to an unpacked Debian source tree's ``debian/patches`` and ``series``
    RPM = "rpm"  #: the patches + ``PatchN:`` lines for a spec's preamble (``%autosetup -p1``), sdist paths


class Handed(Word):
    """What became of one patch."""

    WRITTEN = "written"  #: a patch file was written
    APPLIED = "applied"  #: the release has the change already: nothing to carry
    NOT_NEEDED = "not-needed"  #: the release's code has no such spot: nothing to carry


@dataclass(frozen=True)
class Placed:
    """One patch placed on the text the patches before it left."""

    patch: str
    variant: Variant
    action: Action
    hunks: tuple[Hunk, ...]
    placements: tuple[Placement, ...]
    before: bytes
    after: bytes
    offsets: tuple[int, ...] = ()  #: as placed on the pristine text (what ``apply`` reports)

    @property
    def pairs(self) -> list[tuple[Hunk, Placement]]:
        return [(self.hunks[p.hunk], p) for p in self.placements]


@dataclass(frozen=True)
class ExportedPatch:
    patch: str
    variant: str
    status: Handed
    offsets: tuple[int, ...]
    file: str | None = None
    sha256: str | None = None
    when: str | None = None


@dataclass(frozen=True)
class ExportReport:
    """What ``export`` wrote: the release, the file patched (as the layout names it), each patch."""

    project: str
    version: str
    layout: Layout
    output: str
    archive: str
    path: str
    patches: tuple[ExportedPatch, ...]
    files: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    replaced: bool = False
    #: the files this run created or rewrote (a subset of ``files``; the debian layout leaves
    #: alone what is already there byte for byte)
    changed: tuple[str, ...] = ()


# --- which release, which file -----------------------------------------------------------------


def pinned_release(requirement: str) -> Release:
    """The one release ``requirement`` pins (``name==version``); a :class:`UsageError` otherwise.

    A build's patches are for the release it builds: a range would make the output depend on
    what the index holds today, so a range is refused rather than resolved to its newest release.
    """
    try:
        req = Requirement(requirement)
    except InvalidRequirement as exc:
        raise UsageError(requirement, f"not a requirement ({str(exc).splitlines()[0]})") from None
    project = canonicalize_name(req.name)
    if project not in EXPECTED:
        raise UsageError(
            req.name, "no known copy of pkg_resources in it (only setuptools, pip and pkg-resources-backport)"
        )
    specs = list(req.specifier)
    if req.extras or req.marker or req.url or len(specs) != 1 or specs[0].operator not in ("==", "==="):
        raise UsageError(requirement, f"must pin one release, e.g. {req.name}==1.2.3")
    raw = specs[0].version
    try:
        version = Version(raw)
    except InvalidVersion:
        raise UsageError(requirement, f"must pin one release, e.g. {req.name}==1.2.3") from None
    if "*" in raw:
        raise UsageError(requirement, f"must pin one release, e.g. {req.name}==1.2.3")
    return Release(project, version)


def _wanted(name: str, sdist: bool, wanted: Sequence[str]) -> str | None:
    """The path ``-p1`` names for member ``name`` when it is the copy, else None."""
    path = name.split("/", 1)[1] if sdist and "/" in name else name
    inner = path[len("src/") :] if sdist and path.startswith("src/") else path
    return path if inner in wanted else None


def _find_member(archive: str, sdist: bool, wanted: Sequence[str]) -> tuple[str, bytes] | None:
    if archive.endswith((".whl", ".egg", ".zip")):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                path = None if info.is_dir() else _wanted(info.filename, sdist, wanted)
                if path is not None:
                    return path, zf.read(info)
        return None
    with tarfile.open(archive) as tf:
        for member in tf:
            path = _wanted(member.name, sdist, wanted) if member.isfile() else None
            stream = None if path is None else tf.extractfile(member)
            if path is not None and stream is not None:
                return path, stream.read()
    return None


def release_file(archive: str, project: str, sdist: bool) -> tuple[str, bytes]:
    """The copy's path in the unpacked archive (an sdist's top directory left out: ``-p1`` from
    inside it) and its bytes, as the archive's own member list says."""
    wanted = EXPECTED[project]
    try:
        found = _find_member(archive, sdist, wanted)
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise FetchError(archive, f"cannot read archive: {reason(exc)}") from None
    if found is None:
        raise ExportError(os.path.basename(archive), f"has no {' or '.join(wanted)}")
    return found


# --- placing -----------------------------------------------------------------------------------


def place_in_sequence(text: bytes, patchset: PatchSet, where: str, *, python3: bool = False) -> list[Placed]:
    """Each patch's variant (as ``apply`` picks it on ``text``) placed after the ones before it;
    with ``python3``, a variant still to apply in its Python-3 form (:meth:`Variant.python3`),
    the form ``upstream`` hands a Python-3-only tree.

    A patch no variant fits is an :class:`ExportError` naming it: nothing half-done is handed on.
    """
    plan = plan_copy(text, patchset)
    if plan.failed:
        step = plan.failed[0]
        raise ExportError(where, f"no variant of {step.patch} fits ({step.failure})")
    placed: list[Placed] = []
    current = text
    for step in plan.steps:
        assert step.variant is not None
        hunks = step.variant.hunks(MEMBER)
        if step.action.settled:
            placed.append(Placed(step.patch, step.variant, step.action, hunks, (), current, current, step.offsets))
            continue
        variant = step.variant.python3() if python3 else step.variant
        hunks = variant.hunks(MEMBER)
        found = place_hunks(current, hunks)
        if isinstance(found, Mismatch):  # an earlier patch changed this one's spot
            raise ExportError(where, f"{variant.id} does not fit after the patches before it ({found})")
        after = apply_hunks(current, hunks, found)
        placed.append(Placed(step.patch, variant, step.action, hunks, tuple(found), current, after, step.offsets))
        current = after
    return placed


# --- writing the files -------------------------------------------------------------------------


def variant_header(variant: Variant) -> str:
    """The variant's DEP-3 header as written in its file (up to the ``---`` line)."""
    try:
        with open(variant.path, encoding="utf-8", newline="") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(variant.path, reason(exc)) from None
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.rstrip("\r\n") == "---" or line.startswith("--- "):
            return "".join(lines[:i])
    return text


def _plain(raw: str) -> tuple[int, ...] | None:
    """The release numbers of a final version (no pre-, post-, dev-release, local part, epoch)."""
    try:
        version = Version(raw)
    except InvalidVersion:
        return None
    if version.pre or version.dev or version.post or version.local or version.epoch:
        return None
    return version.release


def _below(raw: str) -> str | None:
    """The Spack upper bound that admits every version below ``raw`` (``36.5`` -> ``36.4``:
    Spack's ``:36.4`` holds 36.4 and every 36.4.x)."""
    parts = list(_plain(raw) or ())
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    if not parts or parts[-1] == 0:
        return None
    parts[-1] -= 1
    return ".".join(str(p) for p in parts)


def _above(raw: str) -> str | None:
    """The Spack lower bound of every version after ``raw`` and its own ``raw.x`` (``23.1.1`` -> ``23.1.2``)."""
    parts = list(_plain(raw) or ())
    if not parts:
        return None
    parts[-1] += 1
    return ".".join(str(p) for p in parts)


def _spack_range(specifier: SpecifierSet) -> list[str] | None:
    """``specifier`` as Spack ranges (``>=A,<B`` -> ``A:B'``, ``!=X`` splits one in two), or None."""
    low = high = exact = None
    excluded = []
    for spec in specifier:
        op, raw = spec.operator, spec.version
        if op == ">=":
            low = raw
        elif op == "<":
            high = _below(raw)
            if high is None:
                return None
        elif op == "<=" or (op == "==" and raw.endswith(".*")):
            high = raw[: -len(".*")] if raw.endswith(".*") else raw
            low = high if op == "==" else low
        elif op in ("==", "==="):
            exact = raw
        elif op == "!=" and not raw.endswith(".*"):
            excluded.append(raw)
        else:
            return None
    if exact is not None:
        return [exact]
    spans: list[tuple[str | None, str | None]] = [(low, high)]
    for raw in excluded:
        below, above = _below(raw), _above(raw)
        if below is None or above is None:
            return None
        spans = [part for lo, hi in spans for part in ((lo, below), (above, hi))]
    return [f"{lo or ''}:{hi or ''}" for lo, hi in spans if lo is None or hi is None or Version(lo) <= Version(hi)]


def spack_when(variant: Variant, release: Release) -> str:
    """``@X:Y`` (several joined by ``,``): the variant's declared range for the release's project
    in Spack's syntax; the release alone when that range is not stated, cannot be written, or does
    not hold the release."""
    ranges = [r.specifier for r in variant.ranges if canonicalize_name(r.name) == release.project]
    spans = [_spack_range(s) for s in ranges]
    holds = any(s.contains(release.version, prereleases=True) for s in ranges)
    if not ranges or not holds or any(s is None for s in spans):
        return f"@{release.version}"
    return "@" + ",".join(part for span in spans for part in span or ())


def patch_files(placed: Sequence[Placed], path: str, prefix: str = "") -> list[tuple[Placed, str, bytes]]:
    """``(placed, file name, bytes)`` for each patch to carry, numbered in series order."""
    files: list[tuple[Placed, str, bytes]] = []
    for placed_patch in placed:
        if placed_patch.action.settled:
            continue
        name = f"{prefix}{len(files) + 1:04d}-{placed_patch.patch}.patch"
        header = variant_header(placed_patch.variant).encode("utf-8")
        data = header + b"---\n" + file_diff(path, placed_patch.before, placed_patch.pairs)
        files.append((placed_patch, name, data))
    return files


def _spack_snippet(release: Release, lines: Sequence[str]) -> bytes:
    package = f"py-{release.project}"
    head = [
        f"# pkgres-patcher export for {release.label}: the lines for Spack's {package} package.py",
        "# (inside its class; the patch files go in the package's directory, next to package.py)",
    ]
    return ("\n".join([*head, *lines]) + "\n").encode()


def _rpm_snippet(release: Release, names: Sequence[str]) -> bytes:
    head = [
        f"# pkgres-patcher export for {release.label}: the lines for the spec's preamble, after its own",
        "# Patch lines (the patch files go in SOURCES; %%autosetup -p1 applies them in number order;",
        "# a spec expands macros in comments too, hence the doubled %)",
    ]
    lines = [f"Patch{RPM_FIRST_PATCH + i}: {name}" for i, name in enumerate(names)]
    return ("\n".join([*head, *lines]) + "\n").encode()


# --- the output directory ----------------------------------------------------------------------


def _is_previous_export(directory: str) -> bool:
    names = os.listdir(directory)
    return all(_PATCH_FILE.match(n) or n in _EXPORT_FILES for n in names)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_replaceable_output(output: str) -> os.stat_result | None:
    """``output``'s status when it may be (re)written: absent, or a directory that is empty or
    holds only what an export writes (a previous export); an :class:`ExportError` otherwise."""
    try:
        existing = os.lstat(output)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WriteError(output, reason(exc)) from None
    if not stat.S_ISDIR(existing.st_mode):
        raise ExportError(output, "exists and is not a directory")
    try:
        previous = _is_previous_export(output)
    except OSError as exc:
        raise WriteError(output, reason(exc)) from None
    if not previous:
        raise ExportError(output, "is not empty and holds more than a previous export: choose another DIR")
    return existing


def write_output(output: str, files: Mapping[str, bytes]) -> bool:
    """Write ``files`` as directory ``output``, all or nothing: into a temporary directory next to
    it, moved into place. An existing ``output`` is replaced when it is empty or holds only what
    an export writes (a previous export), else refused. Returns whether one was replaced."""
    target = os.path.abspath(output)
    parent, name = os.path.split(target)
    existing = check_replaceable_output(target)
    mode = (existing.st_mode & 0o7777) if existing is not None else 0o777 & ~_umask()
    try:
        os.makedirs(parent, exist_ok=True)
        scratch = tempfile.mkdtemp(prefix=f".{name}.pkgres-patcher-", dir=parent)
    except OSError as exc:
        raise WriteError(output, reason(exc)) from None
    old: str | None = None
    try:
        for filename, data in files.items():
            with open(os.path.join(scratch, filename), "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(os.path.join(scratch, filename), 0o666 & ~_umask())
        os.chmod(scratch, mode)
        if existing is not None:
            old = tempfile.mkdtemp(prefix=f".{name}.pkgres-patcher-old-", dir=parent)
            os.rename(target, old)  # over an empty directory of ours
            try:
                os.rename(scratch, target)
            except OSError:
                os.rename(old, target)
                old = None
                raise
        else:
            os.rename(scratch, target)
    except OSError as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        if old is not None and not os.path.exists(target):
            os.rename(old, target)
        elif old is not None:
            shutil.rmtree(old, ignore_errors=True)
        raise WriteError(output, reason(exc)) from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return existing is not None


# --- export ------------------------------------------------------------------------------------


def _fetch(release: Release, layout: Layout, cache_dir: str | None, index: Index) -> str:
    from patcher.locations import cache_place
    from patcher.releases.index import fetch_wheel

    if layout is Layout.WHEEL:
        return fetch_wheel(release, cache_place("releases", cache_dir).path, index)
    from patcher.releases.index import archive_release, sdist_of

    directory = os.path.join(cache_place("sdists", cache_dir).path, release.project)
    try:
        cached = sorted(n for n in os.listdir(directory) if not n.startswith(".") and archive_release(n) == release)
    except OSError:
        cached = []
    if cached and not cached[0].endswith(".whl"):
        return os.path.join(directory, cached[0])
    return sdist_of(release, directory, index)


def _handed(action: Action) -> Handed:
    """Why a placed patch carries no file: the release has the change, or not the spot."""
    return Handed.NOT_NEEDED if action is Action.NOT_NEEDED else Handed.APPLIED


def export_release(
    requirement: str, layout: Layout, output: str, patchset: PatchSet, index: Index, cache_dir: str | None
) -> ExportReport:
    """Fetch the release, place the patch set on its copy, write the layout's files to ``output``
    (the debian layout: add them to the Debian source tree ``output``, :mod:`patcher.handoff.debian`)."""
    if layout is Layout.DEBIAN:
        from patcher.handoff.debian import export_debian

        return export_debian(requirement, output, patchset)
    release = pinned_release(requirement)
    check_replaceable_output(os.path.abspath(output))  # before anything is fetched
    archive = _fetch(release, layout, cache_dir, index)
    path, text = release_file(archive, release.project, sdist=layout is not Layout.WHEEL)
    placed = place_in_sequence(text, patchset, f"{release.label} {path}")
    written = patch_files(placed, path, RPM_PREFIX if layout is Layout.RPM else "")
    files: dict[str, bytes] = {name: data for _, name, data in written}
    by_patch = {p.patch: (name, data) for p, name, data in written}
    import hashlib

    warnings = []
    exported = []
    for p in placed:
        in_range = p.variant.in_range([(release.project, str(release.version))])
        if in_range is False and p.action is Action.CHANGE:
            warnings.append(f"{p.variant.id} fits {release.label}, which is outside its declared range")
        name, data = by_patch.get(p.patch, (None, None))
        when = spack_when(p.variant, release) if layout is Layout.SPACK and data is not None else None
        exported.append(
            ExportedPatch(
                p.patch,
                p.variant.id,
                _handed(p.action) if data is None else Handed.WRITTEN,
                p.offsets,
                name,
                None if data is None else hashlib.sha256(data).hexdigest(),
                when,
            )
        )
    if layout is Layout.QUILT:
        files["series"] = "".join(f"{name}\n" for _, name, _ in written).encode()
    if layout is Layout.SPACK:
        lines = [f'    patch("{e.file}", sha256="{e.sha256}", when="{e.when}")' for e in exported if e.file]
        files[SPACK_SNIPPET] = _spack_snippet(release, lines)
    if layout is Layout.RPM:
        files[RPM_SNIPPET] = _rpm_snippet(release, [name for _, name, _ in written])
    replaced = write_output(output, files)
    return ExportReport(
        release.project,
        str(release.version),
        layout,
        os.path.abspath(output),
        archive,
        path,
        tuple(exported),
        tuple(files),
        tuple(warnings),
        replaced,
        tuple(files),
    )
