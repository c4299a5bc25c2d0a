"""Find every copy of pkg_resources: in directories, directory eggs, zipped eggs and wheels.

A copy is described by a frozen :class:`Copy`; finding one never modifies anything. The scan
survives what a live prefix does to it (files vanishing, unreadable directories, symlink loops,
non-UTF-8 names): problems that the user should know of are collected as :class:`ScanError`
values next to the copies instead of stopping the scan.
"""

from __future__ import annotations

import errno
import functools
import gc
import hashlib
import marshal
import os
import stat
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Optional

from patcher import _forked
from patcher._headers import read_headers
from patcher.errors import ArchiveError, InterpreterError, ScanError, reason

if TYPE_CHECKING:
    import zipfile

# Imports are kept to what a scan needs, and zipfile is imported at the first archive met:
# ``locate`` is timed against ``find`` and a Python start-up with a few imports already costs a
# fair part of find's whole run (see benchmarks/bench_locate.py). Hence NamedTuple records
# rather than dataclasses (whose import pulls in :mod:`inspect`), and no email/csv parsers
# (see :mod:`patcher._headers`).

__all__ = [
    "Copy",
    "Dist",
    "ScanResult",
    "interpreter_path",
    "locate",
    "read_source",
]

#: container kinds, as written in reports
DIRECTORY = "directory"
EGG_DIR = "egg-dir"
EGG_ZIP = "egg-zip"
WHEEL = "wheel"

_MODULE = "pkg_resources.py"
_PACKAGE = "pkg_resources"
_INIT = "__init__.py"
#: a walk is shared between processes once this many directories wait to be listed: smaller
#: trees are done before a fork pays off, and many shares even out the work of large ones
_SHARE_AT = 128
#: fewer archives than this are scanned by the walking process itself
_ARCHIVES_SHARED_AT = 4
#: names of files the walk looks into
_FILE_SUFFIXES = (".egg", ".whl", _MODULE)


class Dist(NamedTuple):
    """A distribution name and version, as an installer or a vendor list states them."""

    name: str
    version: str

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version}


class Copy(NamedTuple):
    """One copy of pkg_resources' source, wherever it lies.

    ``file`` is the ``.py`` file, or the archive when the copy lies inside one (``member`` is
    then its name inside the archive). ``record`` names the ``RECORD`` (or egg-info
    ``installed-files.txt``) that lists the file, and ``record_entry`` the path as written
    there, so that a rewrite can keep the installer's bookkeeping true.
    """

    file: str
    member: Optional[str]
    container: str
    vendored_by: Optional[str]
    owner: Optional[Dist]
    upstream: Optional[Dist]
    sha256: str
    conflicts: tuple[Dist, ...] = ()
    record: Optional[str] = None
    record_entry: Optional[str] = None
    vendor_pip: Optional[Dist] = None

    @property
    def location(self) -> str:
        """A one-string name for messages: ``file`` or ``archive!member``."""
        return self.file if self.member is None else f"{self.file}!{self.member}"

    def identities(self) -> tuple[Dist, ...]:
        """Every (project, version) this copy's code can be matched by in a patch's range."""
        found = [d for d in (self.upstream, self.owner, self.vendor_pip) if d is not None]
        return tuple(dict.fromkeys(found))


class ScanResult(NamedTuple):
    """Copies found (sorted, no duplicates) and the paths that could not be read."""

    copies: tuple[Copy, ...]
    errors: tuple[ScanError, ...]
    #: each copy's bytes as read during the scan, by sha256: read once, planned once
    texts: Mapping[str, bytes] = {}
    #: how many processes shared the largest walk (see ``jobs`` of :func:`locate`)
    processes: int = 1


def read_source(copy: Copy) -> bytes:
    """Read the current bytes of a copy (from its archive when it lies in one)."""
    import zipfile

    try:
        if copy.member is None:
            with open(copy.file, "rb") as f:
                return f.read()
        with zipfile.ZipFile(copy.file) as zf:
            return zf.read(copy.member)
    except (OSError, zipfile.BadZipFile, KeyError, EOFError, zlib.error) as exc:
        raise ScanError(copy.location, reason(exc)) from None


# --- which paths are copies ------------------------------------------------------------------


def _candidate(parts: Sequence[str], is_package: _IsPackage) -> Optional[tuple[int, Optional[str]]]:
    """Decide whether the path ``parts`` (split on ``/``) is a copy.

    Returns ``(depth of the import root, vendoring package or None)`` or None. The import root
    is the directory that would be on ``sys.path``: a top-level ``pkg_resources`` lies directly
    in a directory that is not itself a package, a vendored one in ``<pkg>/_vendor/``. Anything
    else named alike (``pkg_resources/tests/...``, pip's ``_internal/*/pkg_resources.py``
    wrappers, test fixtures inside packages) is not pkg_resources.
    """
    name = parts[-1]
    if name == _INIT and len(parts) >= 2 and parts[-2] == _PACKAGE:
        parent = parts[:-2]
    elif name == _MODULE:
        parent = parts[:-1]
    else:
        return None
    for depth, part in enumerate(parent):
        if part == _PACKAGE and is_package(parent[: depth + 1]):
            return None  # inside a copy: its tests and their data
    if parent and parent[-1] == "_vendor" and len(parent) >= 2 and is_package(parent):
        vendor_root = len(parent) - 2
        while vendor_root > 0 and is_package(parent[:vendor_root]):
            vendor_root -= 1
        return vendor_root, parent[vendor_root]
    if parent and is_package(parent):
        return None
    return len(parent), None


#: ``is_package(parts)``: does the directory ``parts`` hold an ``__init__.py``?
_IsPackage = Callable[[Sequence[str]], bool]


class _DirIsPackage:
    def __init__(self, base: str) -> None:
        self.base = base

    def __call__(self, parts: Sequence[str]) -> bool:
        return os.path.isfile(os.path.join(self.base, *parts, _INIT))


class _ZipIsPackage:
    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)

    def __call__(self, parts: Sequence[str]) -> bool:
        init = "/".join([*parts, _INIT])
        return init in self.names or init + "c" in self.names


# --- metadata readers --------------------------------------------------------------------------


def _parse_pkg_info(data: bytes) -> Optional[Dist]:
    """Name and Version of core metadata (``PKG-INFO``, ``METADATA``); the first of each wins."""
    fields: dict[str, str] = {}
    for key, value in read_headers(data.decode("utf-8", "surrogateescape")):
        fields.setdefault(key.lower(), value.strip())
    name, version = fields.get("name"), fields.get("version")
    if not name or not version:
        return None
    return Dist(name, version)


def _parse_vendor_txt(data: bytes) -> Optional[Dist]:
    """The setuptools release a pip vendors its pkg_resources from (``_vendor/vendor.txt``)."""
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        name, sep, version = line.partition("==")
        if sep and name.strip().lower() == "setuptools":
            return Dist("setuptools", version.strip())
    return None


#: The setuptools release whose pkg_resources pip vendors, from the first pip release of each
#: run on (the list is sorted; a run ends where the next begins). Used only when a copy's
#: ``_vendor/vendor.txt`` is absent: pip's wheels before 20.1 leave it out, and before 10.0 it
#: does not name setuptools at all. Sources: ``pip/_vendor/README.rst`` ("pkg_resources has been
#: pulled in from setuptools X") in the sdists of pip 6.0 to 9.0.3, ``src/pip/_vendor/vendor.txt``
#: in the sdists of pip 10.0.0 to 20.0.2, and ``pip/_vendor/vendor.txt`` in every wheel of pip
#: 20.1 to 26.3. pip 1.5.x states no source: nothing is guessed for it.
_PIP_VENDORED_SETUPTOOLS: tuple[tuple[str, str], ...] = (
    ("6.0", "8.2.1"),
    ("6.0.4", "11.0"),
    ("6.1.0", "15.0"),
    ("7.1.0", "18.0"),
    ("7.1.1", "18.2"),
    ("8.0.0", "19.4"),
    ("8.1.2", "21.0.0"),
    ("9.0.0", "27.3.0"),
    ("9.0.1", "28.8.0"),
    ("10.0.0", "39.0.1"),
    ("18.0", "39.2.0"),
    ("18.1", "40.4.3"),
    ("19.0", "40.6.3"),
    ("19.1", "41.0.1"),
    ("19.3", "41.4.0"),
    ("20.0", "44.0.0"),
    ("23.1", "67.6.1"),
    ("23.1.1", "65.6.3"),
    ("23.1.2", "67.7.2"),
    ("23.2", "68.0.0"),
    ("24.1", "69.5.1"),
    ("24.2", "70.3.0"),
)
#: the newest pip release the table was checked against: nothing is guessed past it
_PIP_VENDOR_TABLE_END = "26.3"


def _release(version: str) -> Optional[tuple[int, ...]]:
    """The numeric release of a version, trailing zeros trimmed (``10.0.0b1`` -> ``(10,)``)."""
    numbers: list[int] = []
    for part in version.strip().split("."):
        digits = ""
        for char in part:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        numbers.append(int(digits))
        if len(digits) != len(part):
            break
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers) or None


def pip_vendored_setuptools(pip_version: str) -> Optional[Dist]:
    """The setuptools release a pip release vendors pkg_resources from, when known."""
    release = _release(pip_version)
    end = _release(_PIP_VENDOR_TABLE_END)
    if release is None or end is None or release > end:
        return None
    found = None
    for first, setuptools in _PIP_VENDORED_SETUPTOOLS:
        start = _release(first)
        if start is not None and release >= start:
            found = setuptools
    return None if found is None else Dist("setuptools", found)


def _upstream(owner: Optional[Dist], vendored_by: Optional[str], vendor: Optional[Dist]) -> Optional[Dist]:
    if vendored_by is not None:
        if vendor is None and vendored_by == "pip" and owner is not None and _normalize(owner.name) == "pip":
            return pip_vendored_setuptools(owner.version)
        return vendor
    if owner is not None and _normalize(owner.name) == "setuptools":
        return Dist("setuptools", owner.version)
    return None


def _vendoring_pip(owner: Optional[Dist], vendored_by: Optional[str]) -> Optional[Dist]:
    """pip's own release, for a copy pip vendors: variants may name pip versions in their range."""
    if vendored_by == "pip" and owner is not None and _normalize(owner.name) == "pip":
        return owner
    return None


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- archives ----------------------------------------------------------------------------------


def _scan_archive(path: str, container: str) -> list[tuple[Copy, bytes]]:
    """Find copies inside a zipped egg or a wheel, reading it in place."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            is_package = _ZipIsPackage(names)
            found = []
            for name in names:
                parts = name.split("/")
                if parts[-1] not in (_INIT, _MODULE):
                    # an egg built without sources: reported, so that it is known unpatchable
                    if parts[-1] not in (_INIT + "c", _MODULE + "c") or name[:-1] in is_package.names:
                        continue
                    parts = [*parts[:-1], parts[-1][:-1]]
                decided = _candidate(parts, is_package)
                if decided is not None:
                    found.append((name, parts, decided))
            if not found:
                return []
            owner = _archive_owner(zf, names, container)
            copies = []
            for name, parts, (root, vendored_by) in found:
                vendor = None
                if vendored_by is not None:
                    vendor_txt = "/".join([*parts[:root + 1], "_vendor", "vendor.txt"])
                    if vendor_txt in names:
                        vendor = _parse_vendor_txt(zf.read(vendor_txt))
                record, entry = (None, None)
                if container == WHEEL:
                    record, entry = _wheel_record(names), name
                data = zf.read(name)
                copies.append((
                    Copy(
                        file=path,
                        member=name,
                        container=container,
                        vendored_by=vendored_by,
                        owner=owner,
                        upstream=_upstream(owner, vendored_by, vendor),
                        sha256=_sha256(data),
                        record=record,
                        record_entry=entry,
                        vendor_pip=_vendoring_pip(owner, vendored_by),
                    ),
                    data,
                ))
            return copies
    except FileNotFoundError:
        return []  # vanished during the scan: absent
    except (OSError, zipfile.BadZipFile, KeyError, EOFError, ValueError, zlib.error) as exc:
        raise ArchiveError(path, reason(exc)) from None


def _archive_owner(zf: "zipfile.ZipFile", names: Sequence[str], container: str) -> Optional[Dist]:
    if container == EGG_ZIP:
        if "EGG-INFO/PKG-INFO" in names:
            return _parse_pkg_info(zf.read("EGG-INFO/PKG-INFO"))
        return None
    for name in names:
        parts = name.split("/")
        if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
            return _parse_pkg_info(zf.read(name))
    return None


def _wheel_record(names: Sequence[str]) -> Optional[str]:
    for name in names:
        parts = name.split("/")
        if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "RECORD":
            return name
    return None


# --- directories -------------------------------------------------------------------------------


class _Scanner:
    """Walks directories once each (by device and inode), collecting copies and errors."""

    def __init__(self, jobs: int = 1) -> None:
        #: processes sharing a large walk (see :mod:`patcher._forked`)
        self.jobs = jobs
        self.visited: set[tuple[int, int]] = set()
        self.processes = 1
        #: archives put aside while a walk is shared (None: each is scanned when met)
        self.archives: Optional[list[str]] = None
        self.copies: dict[tuple[str, Optional[str]], Copy] = {}
        self.errors: list[ScanError] = []
        self.texts: dict[str, bytes] = {}
        self._record_texts: dict[str, str] = {}
        self._metadirs: dict[str, list[str]] = {}
        self._skip_dirs: frozenset[str] = frozenset()

    # the walk

    def scan(self, root: str, sys_path_entry: bool = False) -> None:
        """Scan a directory recursively, or one egg/wheel.

        A ``sys.path`` entry is scanned for what that path holds: a site directory below it
        (the base interpreter's ``site-packages`` below its standard library, when a venv runs)
        is another installation's, and is scanned only when it is an entry of its own.
        """
        self._skip_dirs = _SITE_DIRS if sys_path_entry else frozenset()
        root = os.path.abspath(root)
        try:
            st = os.stat(root)
        except FileNotFoundError as exc:
            if not sys_path_entry:  # a path the user named: say so; sys.path often lists absent ones
                self.errors.append(ScanError(root, reason(exc)))
            return
        except OSError as exc:
            self.errors.append(ScanError(root, reason(exc)))
            return
        if stat.S_ISDIR(st.st_mode):
            self._walk(root)
        elif stat.S_ISREG(st.st_mode):
            self._scan_file(root, os.path.basename(root))

    def _walk(self, top: str) -> None:
        deferred: list[str] = []  # symlinked directories: walked last, so that real paths win
        stack = [top]
        if self.jobs > 1 and _forked.can_fork():
            # archives cluster (twenty eggs in one site-packages) and cost more than a
            # directory: they are put aside during the walk, then shared by size
            self.archives = []
            pending = self._expand(stack, deferred)
            if pending:
                self._share(_split(pending, self.jobs), self._walk_share, deferred)
            archives, self.archives = self.archives, None
            if len(archives) >= _ARCHIVES_SHARED_AT:
                import zipfile  # noqa: F401 - once here, rather than once in each child

                self._share(_split_by_size(archives, self.jobs), self._scan_share, deferred)
            else:
                self._scan_share(archives, deferred)
            stack = []
        self._drain(stack, deferred, links=True)

    def _drain(self, stack: list[str], deferred: list[str], links: bool) -> None:
        """Walk depth first until ``stack`` is empty; then the symlinked ones, with ``links``."""
        while stack or (links and deferred):
            self._visit(stack.pop() if stack else deferred.pop(), stack, deferred)

    def _expand(self, stack: list[str], deferred: list[str]) -> list[str]:
        """Walk breadth first until :data:`_SHARE_AT` directories wait; return those (none
        when the whole tree was walked first)."""
        queue, done = list(stack), 0
        while done < len(queue) and len(queue) - done < _SHARE_AT:
            self._visit(queue[done], queue, deferred)
            done += 1
        return queue[done:]

    def _visit(self, path: str, found: list[str], deferred: list[str]) -> None:
        """List one directory: look into the files that may hold a copy, add the directories
        to walk to ``found`` (``deferred`` when symlinked)."""
        # run for every directory of a prefix, its loop for every file: kept to the minimum of
        # work per entry (names compared, the file type from the directory listing, no stat)
        try:
            st = os.stat(path)
            key = (st.st_dev, st.st_ino)
            if key in self.visited:
                return
            self.visited.add(key)
            with os.scandir(path) as it:
                entries = list(it)
        except OSError as exc:
            if not _gone(exc):  # else vanished, or a dangling link
                self.errors.append(ScanError(path, reason(exc)))
            return
        skip = self._skip_dirs
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir():
                    if name == "__pycache__" or name in skip:
                        continue
                    if name == _PACKAGE and self._check(entry.path + os.sep + _INIT):
                        continue  # nothing below a pkg_resources package is a copy: tests, data
                    (deferred if entry.is_symlink() else found).append(entry.path)
                elif name.endswith(_FILE_SUFFIXES) and entry.is_file():
                    if self.archives is not None and not name.endswith(_MODULE):
                        self.archives.append(entry.path)  # scanned after the walk
                    else:
                        self._scan_file(entry.path, name)
            except OSError:
                continue  # vanished between listing and looking

    # sharing a walk between processes

    def _share(self, shares: list[list[str]], do: Callable[[list[str], list[str]], None], deferred: list[str]) -> None:
        """``do`` each share in a process of its own, the first one here; symlinked
        directories met are left in ``deferred``, to be walked once every real one is known."""
        if not shares:
            return
        children = [(share, _forked.fork(functools.partial(self._in_child, do, share))) for share in shares[1:]]
        sharing = 1
        try:
            do(shares[0], deferred)
            for share, child in children:
                data = child.result() if child is not None else None
                if data is not None and self._merge(data, deferred):
                    sharing += 1
                else:
                    do(share, deferred)  # the child failed: do its share here
        finally:
            for _, child in children:
                if child is not None:
                    child.cancel()
        self.processes = max(self.processes, sharing)

    def _walk_share(self, share: list[str], deferred: list[str]) -> None:
        self._drain(list(share), deferred, links=False)

    def _scan_share(self, share: list[str], deferred: list[str]) -> None:
        for path in share:
            self._scan_file(path, os.path.basename(path))

    def _in_child(self, do: Callable[[list[str], list[str]], None], share: list[str]) -> bytes:
        """In a forked child: do a share, send back only what it found."""
        self.copies, self.texts, self.errors = {}, {}, []
        if self.archives is not None:
            self.archives = []
        deferred: list[str] = []
        do(share, deferred)
        return marshal.dumps((
            [_flatten(copy) for copy in self.copies.values()],
            self.texts,
            [(isinstance(e, ArchiveError), e.subject, e.reason) for e in self.errors],
            list(self.visited),
            deferred,
            self.archives or [],
        ))

    def _merge(self, data: bytes, deferred: list[str]) -> bool:
        """Take in a child's findings; False when they cannot be read."""
        try:
            copies, texts, errors, visited, links, archives = marshal.loads(data)
            found = [_unflatten(c) for c in copies]
            errors = [(ArchiveError if archive else ScanError)(subject, why) for archive, subject, why in errors]
        except (ValueError, TypeError, EOFError):
            return False
        for copy in found:
            self.copies.setdefault((copy.file, copy.member), copy)
        for digest, text in texts.items():
            self.texts.setdefault(digest, text)
        self.errors.extend(errors)
        self.visited.update(tuple(key) for key in visited)
        deferred.extend(links)
        if self.archives is not None:
            self.archives.extend(archives)
        return True

    def _scan_file(self, path: str, name: str) -> None:
        if name.endswith(".egg") or name.endswith(".whl"):
            container = EGG_ZIP if name.endswith(".egg") else WHEEL
            try:
                for copy, data in _scan_archive(path, container):
                    self.copies.setdefault((copy.file, copy.member), copy)
                    self.texts.setdefault(copy.sha256, data)
            except ScanError as exc:
                self.errors.append(exc)
        elif name == _MODULE or name == _INIT:
            self._check(path)

    def _check(self, path: str) -> bool:
        """Record ``path`` if it is a copy of pkg_resources; whether it is a file at all."""
        if not os.path.isfile(path):
            return False
        parts = path.split(os.sep)
        base = os.sep  # parts[0] is '' for an absolute path
        decided = _candidate(parts[1:], _DirIsPackage(base))
        if decided is None:
            return True
        root_depth, vendored_by = decided
        import_root = os.sep + os.path.join(*parts[1:root_depth + 1]) if root_depth else os.sep
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return False
        except OSError as exc:
            self.errors.append(ScanError(path, reason(exc)))
            return True
        vendor = None
        if vendored_by is not None:
            vendor = _read_small(os.path.join(import_root, vendored_by, "_vendor", "vendor.txt"), _parse_vendor_txt)
        egg_owner = None
        container = DIRECTORY
        if import_root.endswith(".egg"):
            egg_owner = _read_small(os.path.join(import_root, "EGG-INFO", "PKG-INFO"), _parse_pkg_info)
            container = EGG_DIR if os.path.isdir(os.path.join(import_root, "EGG-INFO")) else DIRECTORY
        owner, conflicts, record, entry = self._owner(import_root, path)
        if owner is None:
            owner = egg_owner
        if owner is None and vendored_by is not None:
            owner = self._owner(import_root, os.path.join(import_root, vendored_by, _INIT))[0]
        digest = _sha256(data)
        self.texts.setdefault(digest, data)
        self.copies.setdefault(
            (path, None),
            Copy(
                file=path,
                member=None,
                container=container,
                vendored_by=vendored_by,
                owner=owner,
                upstream=_upstream(owner, vendored_by, vendor),
                sha256=digest,
                conflicts=conflicts,
                record=record,
                record_entry=entry,
                vendor_pip=_vendoring_pip(owner, vendored_by),
            ),
        )
        return True

    # ownership

    def _owner(self, site: str, path: str) -> tuple[Optional[Dist], tuple[Dist, ...], Optional[str], Optional[str]]:
        """Which installed distributions list ``path``: the newest record wins, others conflict."""
        claims: list[tuple[float, Dist, str, str]] = []
        tail = "/".join(os.path.relpath(path, site).split(os.sep)[-2:])
        for meta in self._meta_dirs(site):
            entry = self._record_entry(meta, path, tail)
            if entry is None:
                continue
            dist = self._meta_dist(meta)
            if dist is None:
                continue
            record = os.path.join(meta, "RECORD" if meta.endswith(".dist-info") else "installed-files.txt")
            try:
                mtime = os.stat(record).st_mtime
            except OSError:
                continue
            claims.append((mtime, dist, record, entry))
        if not claims:
            return None, (), None, None
        claims.sort(key=lambda c: (c[0], c[1]), reverse=True)
        _, owner, record, entry = claims[0]
        return owner, tuple(c[1] for c in claims[1:] if c[1] != owner), record, entry

    def _meta_dirs(self, site: str) -> list[str]:
        found = self._metadirs.get(site)
        if found is None:
            try:
                with os.scandir(site) as it:
                    found = sorted(
                        e.path for e in it if e.name.endswith((".dist-info", ".egg-info")) and e.is_dir()
                    )
            except OSError:
                found = []
            self._metadirs[site] = found
        return found

    def _record_entry(self, meta: str, path: str, tail: str) -> Optional[str]:
        """The line of a dist-info ``RECORD`` or egg-info ``installed-files.txt`` naming ``path``,
        as written there, or None.

        Only the lines that mention the file's last two parts (``tail``) are parsed: a pip
        RECORD has a thousand lines, and one of them names the copy.
        """
        text = self._record_text(meta)
        dist_info = meta.endswith(".dist-info")
        base = os.path.dirname(meta) if dist_info else meta
        found = text.find(tail)
        while found != -1:
            start = text.rfind("\n", 0, found) + 1
            end = text.find("\n", found)
            end = len(text) if end == -1 else end
            line = text[start:end].rstrip("\r")
            entry = _record_path(line) if dist_info else line
            if entry and os.path.normpath(os.path.join(base, entry)) == path:
                return entry
            found = text.find(tail, end)
        return None

    def _record_text(self, meta: str) -> str:
        """The text of a dist-info ``RECORD`` or an egg-info ``installed-files.txt`` ('' if none)."""
        cached = self._record_texts.get(meta)
        if cached is None:
            name = "RECORD" if meta.endswith(".dist-info") else "installed-files.txt"
            try:
                with open(os.path.join(meta, name), encoding="utf-8", newline="") as f:
                    cached = f.read()
            except (OSError, UnicodeDecodeError):
                cached = ""
            self._record_texts[meta] = cached
        return cached

    @staticmethod
    def _meta_dist(meta: str) -> Optional[Dist]:
        name = "METADATA" if meta.endswith(".dist-info") else "PKG-INFO"
        return _read_small(os.path.join(meta, name), _parse_pkg_info)

    def result(self) -> ScanResult:
        copies = tuple(sorted(self.copies.values(), key=lambda c: (c.file, c.member or "")))
        errors = tuple(sorted(self.errors, key=str))  # the same order however the walk was shared
        return ScanResult(copies, errors, self.texts, self.processes)


def _split(items: list[str], parts: int) -> list[list[str]]:
    """Deal ``items`` out like cards: neighbours (often alike in size) go to different shares."""
    return [share for share in (items[k::parts] for k in range(parts)) if share]


def _split_by_size(paths: list[str], parts: int) -> list[list[str]]:
    """Share archives so that each share has about as many bytes (largest first, each to the
    lightest share): reading an archive costs about its size."""
    sizes = []
    for path in paths:
        try:
            sizes.append((os.stat(path).st_size, path))
        except OSError:
            sizes.append((0, path))  # vanished or unreadable: its scan will say
    shares: list[list[str]] = [[] for _ in range(parts)]
    loads = [0] * parts
    for size, path in sorted(sizes, reverse=True):
        lightest = loads.index(min(loads))
        shares[lightest].append(path)
        loads[lightest] += size
    return [share for share in shares if share]


def _flatten(copy: Copy) -> tuple[Any, ...]:
    """A copy as plain tuples, which :mod:`marshal` carries between processes."""
    dist = _plain_dist
    return (copy.file, copy.member, copy.container, copy.vendored_by, dist(copy.owner), dist(copy.upstream),
            copy.sha256, tuple(dist(d) for d in copy.conflicts), copy.record, copy.record_entry, dist(copy.vendor_pip))


def _plain_dist(dist: Optional[Dist]) -> Optional[tuple[str, str]]:
    return None if dist is None else (dist.name, dist.version)


def _unflatten(flat: Any) -> Copy:
    file, member, container, vendored_by, owner, upstream, sha256, conflicts, record, entry, vendor_pip = flat
    dist = _dist_of
    return Copy(file, member, container, vendored_by, dist(owner), dist(upstream), sha256,
                tuple(Dist(*d) for d in conflicts), record, entry, dist(vendor_pip))


def _dist_of(flat: Any) -> Optional[Dist]:
    return None if flat is None else Dist(*flat)


def _record_path(line: str) -> Optional[str]:
    """The path (first field) of a ``RECORD`` line: CSV, quoted only when the path needs it."""
    if not line.startswith('"'):
        return line.split(",", 1)[0]
    import csv

    try:
        return next(csv.reader([line]))[0]
    except (csv.Error, StopIteration, IndexError):
        return None


def _read_small(path: str, parse: Callable[[bytes], Optional[Dist]]) -> Optional[Dist]:
    try:
        with open(path, "rb") as f:
            return parse(f.read())
    except OSError:
        return None


_SITE_DIRS = frozenset({"site-packages", "dist-packages"})


def _gone(exc: OSError) -> bool:
    """Whether an error only says that the path is not there (any more): absent, not a failure."""
    return isinstance(exc, (FileNotFoundError, NotADirectoryError)) or exc.errno == errno.ELOOP


# --- entry points ------------------------------------------------------------------------------


def locate(paths: Iterable[str], sys_path: Iterable[str] = (), jobs: int = 1) -> ScanResult:
    """Find every copy below ``paths`` (directories scanned recursively, or single archives)
    and in the entries of an interpreter's ``sys_path``.

    With ``jobs`` > 1, large trees are walked by that many processes (the result is the same).
    """
    scanner = _Scanner(jobs)
    # A scan makes some 100,000 short-lived objects and no reference cycle: the collector's
    # passes over them would cost a third of the scan.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for path in paths:
            scanner.scan(path)
        for entry in sys_path:
            scanner.scan(entry, sys_path_entry=True)
    finally:
        if collecting:
            gc.enable()
    return scanner.result()


_SYS_PATH_PROBE = "import sys, json; sys.stdout.write(json.dumps(sys.path))"


def interpreter_path(python: str) -> list[str]:
    """Ask an interpreter (2.7 to 3.x) for its ``sys.path`` after site processing.

    The empty entry (the probe's working directory) is dropped: it says nothing about the
    interpreter's installation.
    """
    import json
    import subprocess

    try:
        proc = subprocess.run(
            [python, "-c", _SYS_PATH_PROBE],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            check=False,
        )
    except OSError as exc:
        raise InterpreterError(f"{python}: cannot run ({reason(exc)})") from None
    except subprocess.TimeoutExpired:
        raise InterpreterError(f"{python}: did not answer within 60 seconds") from None
    if proc.returncode != 0:
        last = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        raise InterpreterError(f"{python}: exited with status {proc.returncode} ({last})")
    try:
        entries = json.loads(proc.stdout.decode("utf-8", "surrogateescape"))
    except ValueError:
        raise InterpreterError(f"{python}: printed something other than its sys.path") from None
    return [e for e in entries if isinstance(e, str) and e]


def current_path() -> list[str]:
    """The running interpreter's ``sys.path`` (eggs added by ``.pth`` files included)."""
    import sys

    return [e for e in sys.path if e]


__all__ += ["current_path", "pip_vendored_setuptools", "DIRECTORY", "EGG_DIR", "EGG_ZIP", "WHEEL"]
