"""The walk: every directory once (by device and inode), the files that may be copies looked into.

It survives what a live prefix does to it (files vanishing, unreadable directories, symlink
loops, non-UTF-8 names): problems the user should know of are collected as :class:`ScanError`
values next to the copies instead of stopping the walk. Run for every directory of a prefix,
its inner loop is kept to the minimum of work per entry.
"""

from __future__ import annotations

import errno
import functools
import gc
import hashlib
import os
import stat
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, NamedTuple

from patcher import forking
from patcher.errors import ScanError, reason
from patcher.model import Container, Copy, Dist
from patcher.scan import sharing
from patcher.scan.archives import scan_archive
from patcher.scan.bounds import SYSTEM_DIRS, excluder, system_devices
from patcher.scan.metadata import parse_pkg_info, parse_vendor_txt, read_small
from patcher.scan.origin import normalize, upstream, vendoring_pip
from patcher.scan.owners import Owners
from patcher.scan.rules import (
    INIT,
    MODULE,
    NOT_WALKED,
    PACKAGE,
    SIGNATURE_WITHIN,
    DirIsPackage,
    import_root,
    looks_like_pkg_resources,
    nested_root,
    seeding_tool,
)

if TYPE_CHECKING:
    from patcher.scan.syspath import Interpreter

__all__ = ["ScanResult", "Walker", "scan"]

#: a walk is shared between processes once this many directories wait to be listed: smaller
#: trees are done before a fork pays off, and many shares even out the work of large ones
SHARE_AT = 128
#: fewer archives than this are scanned by the walking process itself
ARCHIVES_SHARED_AT = 4
#: how many namespace packages (``zc/`` of ``zc/buildout``) may lie between a sys.path entry and
#: the regular package that holds a copy: one (deeper, a checkout's ``checkout/src/pip`` would be
#: taken for one)
NAMESPACE_DEPTH = 1
#: what a directory of a sys.path entry is looked into as: the entry, a regular package (namespace
#: packages are 1 to NAMESPACE_DEPTH)
ENTRY = -1
PACKAGE_LEVEL = 0
#: names of files the walk looks into
_FILE_SUFFIXES = (".egg", ".whl", MODULE)


class ScanResult(NamedTuple):
    """Copies found (sorted, no duplicates) and the paths that could not be read."""

    copies: tuple[Copy, ...]
    errors: tuple[ScanError, ...]
    #: each copy's bytes as read during the scan, by sha256: read once, planned once
    texts: dict[str, bytes] = {}
    #: how many processes shared the largest walk (see ``jobs`` of :class:`Walker`)
    processes: int = 1


class Walker:
    """Walks directories once each (by device and inode), collecting copies and errors.

    A walk never enters the kernel's and the devices' file systems (:mod:`.bounds`), nor, with
    ``one_file_system``, another device than its PATH's, nor the directories of
    :data:`~.rules.NOT_WALKED` below its PATH (quilt's ``.pc``, ``.git``, ...); ``exclude`` globs
    leave paths out.
    """

    def __init__(self, jobs: int = 1, exclude: Iterable[str] = (), one_file_system: bool = False) -> None:
        #: processes sharing a large walk (see :mod:`patcher.forking`)
        self.jobs = jobs
        self.one_file_system = one_file_system
        self._excluded = excluder(exclude)
        #: devices never entered (read when a PATH is first walked)
        self._system: frozenset[int] = frozenset()
        #: the device of the PATH being walked, and ``/`` (whose proc, sys and dev are not entered)
        self._device = -1
        self._fs_root: tuple[int, int] | None = None
        self.visited: set[tuple[int, int]] = set()
        self.processes = 1
        #: archives put aside while a walk is shared (None: each is scanned when met)
        self.archives: list[str] | None = None
        self.copies: dict[tuple[str, str | None], Copy] = {}
        self.errors: list[ScanError] = []
        self.texts: dict[str, bytes] = {}
        self.owners = Owners()
        #: the paths named (a copy whose real path lies below one was found without a symlink)
        self.roots: list[str] = []

    # the walk

    def scan(self, root: str, sys_path_entry: bool = False) -> None:
        """Scan a directory recursively, or one egg/wheel.

        A ``sys.path`` entry is not a tree to descend: it is looked into where the import
        system looks (see :meth:`_scan_entry`).
        """
        root = os.path.abspath(root)
        if self._excluded is not None and self._excluded(os.path.basename(root), root):
            return
        if not sys_path_entry:
            self.roots.append(root)
        try:
            st = os.stat(root)
        except FileNotFoundError as exc:
            if not sys_path_entry:  # a path the user named: say so; sys.path often lists absent ones
                self.errors.append(ScanError(root, reason(exc)))
            return
        except OSError as exc:
            self.errors.append(ScanError(root, reason(exc)))
            return
        if stat.S_ISDIR(st.st_mode) and sys_path_entry:
            self._scan_entry(root)
        elif stat.S_ISDIR(st.st_mode):
            if self._fs_root is None:
                self._system, self._fs_root = system_devices(), _identity("/")
            if st.st_dev in self._system:
                self.errors.append(ScanError(root, "not walked (a kernel or device file system)"))
                return
            if os.path.basename(root) == PACKAGE and self._check(os.path.join(root, INIT)):
                return  # the package itself was named: it is the copy, and nothing below it is one
            self._device = st.st_dev
            self._walk(root)
        elif stat.S_ISREG(st.st_mode):
            self._scan_file(root, os.path.basename(root))

    def _walk(self, top: str) -> None:
        deferred: list[str] = []  # symlinked directories: walked last, so that real paths win
        stack = [top]
        if self.jobs > 1 and forking.can_fork():
            # archives cluster (twenty eggs in one site-packages) and cost more than a
            # directory: they are put aside during the walk, then shared by size
            self.archives = []
            pending = self._expand(stack, deferred)
            if pending:
                self._share(sharing.split(pending, self.jobs), self._walk_share, deferred)
            archives, self.archives = self.archives, None
            if len(archives) >= ARCHIVES_SHARED_AT:
                import zipfile  # noqa: F401 - once here, rather than once in each child

                self._share(sharing.split_by_size(archives, self.jobs), self._scan_share, deferred)
            else:
                self._scan_share(archives, deferred)
            stack = []
        self._drain(stack, deferred, links=True)

    def _drain(self, stack: list[str], deferred: list[str], links: bool) -> None:
        """Walk depth first until ``stack`` is empty; then the symlinked ones, with ``links``."""
        while stack or (links and deferred):
            self._visit(stack.pop() if stack else deferred.pop(), stack, deferred)

    def _expand(self, stack: list[str], deferred: list[str]) -> list[str]:
        """Walk breadth first until :data:`SHARE_AT` directories wait; return those (none
        when the whole tree was walked first)."""
        queue, done = list(stack), 0
        while done < len(queue) and len(queue) - done < SHARE_AT:
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
            if st.st_dev != self._device and (self.one_file_system or st.st_dev in self._system):
                return  # another device (--one-file-system), or the kernel's
            self.visited.add(key)
            with os.scandir(path) as it:
                entries = list(it)
        except OSError as exc:
            if not _gone(exc):  # else vanished, or a dangling link
                self.errors.append(ScanError(path, reason(exc)))
            return
        if key == self._fs_root:  # however it was reached: /, a link to it, /proc/1/root
            entries = [entry for entry in entries if entry.name not in SYSTEM_DIRS]
        excluded = self._excluded
        if excluded is not None:
            entries = [entry for entry in entries if not excluded(entry.name, entry.path)]
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir():
                    if name in NOT_WALKED:
                        continue  # byte-code, quilt's backups, version control: no installed copy
                    if name == PACKAGE and self._check(entry.path + os.sep + INIT):
                        continue  # nothing below a pkg_resources package is a copy: tests, data
                    (deferred if entry.is_symlink() else found).append(entry.path)
                elif name.endswith(_FILE_SUFFIXES) and entry.is_file():
                    if self.archives is not None and not name.endswith(MODULE):
                        self.archives.append(entry.path)  # scanned after the walk
                    else:
                        self._scan_file(entry.path, name)
            except OSError:
                continue  # vanished between listing and looking

    # a sys.path entry

    def _scan_entry(self, top: str) -> None:
        """Look into a ``sys.path`` entry where the import system and pkg_resources' working set
        look, not into every subdirectory: the entry itself (``pkg_resources/``,
        ``pkg_resources.py``), the packages below it (a vendored copy lies in
        ``<pkg>/_vendor/``, maybe deeper in packages: pex's ``_vendored/setuptools``), its eggs,
        the targets of its ``.egg-link`` files (develop installs) and the entries its ``.pth``
        files list; and the wheels of the tools that seed environments from them (virtualenv's
        ``seed/wheels/embed``).

        Packages are regular ones (an ``__init__.py``), or namespace packages: a directory
        without one, named as a module can be, directly in the entry (``zc/`` of
        ``zc/buildout``), where only the regular packages are descended. Any other directory is data, a build tree, a checkout, or the whole file
        system when ``/`` is the working directory.
        """
        todo = [(top, ENTRY)]  # (directory, ENTRY, PACKAGE_LEVEL or how deep a namespace it is)
        while todo:
            path, level = todo.pop()
            if level == ENTRY and path != top:  # listed by a .pth or .egg-link file
                if self._excluded is not None and self._excluded(os.path.basename(path), path):
                    continue
                if not os.path.isdir(path):
                    if os.path.isfile(path):  # a zipped egg (or wheel)
                        self._scan_file(path, os.path.basename(path))
                    continue
            self._visit_importable(path, level, todo)

    def _visit_importable(self, path: str, level: int, todo: list[tuple[str, int]]) -> None:
        entries = self._list(path)
        excluded = self._excluded
        is_entry = level == ENTRY
        # a directory below an entry may be a namespace package; one below a namespace, deeper
        namespace = 1 if is_entry else level + 1 if 0 < level < NAMESPACE_DEPTH else 0
        in_namespace = level > 0  # only its regular packages are looked into: zc/buildout
        seeder = None if is_entry else seeding_tool(path)
        for entry in entries:
            name = entry.name
            if excluded is not None and excluded(name, entry.path):
                continue
            try:
                if in_namespace and not entry.is_dir():
                    continue
                if entry.is_dir():
                    if name == PACKAGE:
                        if not in_namespace:
                            self._check(entry.path + os.sep + INIT)  # nothing below a copy is one
                    elif is_entry and name.endswith(".egg"):
                        todo.append((entry.path, ENTRY))  # a directory egg: an import root
                    elif name in NOT_WALKED:
                        continue
                    elif os.path.isfile(entry.path + os.sep + INIT):
                        todo.append((entry.path, PACKAGE_LEVEL))
                    elif namespace and name.isidentifier():
                        todo.append((entry.path, namespace))
                elif name == MODULE:
                    self._check(entry.path)
                elif seeder is not None and name.endswith(".whl"):
                    self._scan_file(entry.path, name)
                elif not is_entry or not entry.is_file():
                    continue
                elif name.endswith(".egg"):
                    self._scan_file(entry.path, name)
                elif name.endswith(".egg-link"):
                    todo.extend((target, ENTRY) for target in _listed(entry.path, first=True))
                elif name.endswith(".pth"):
                    todo.extend((target, ENTRY) for target in _listed(entry.path, first=False))
            except OSError:
                continue  # vanished between listing and looking

    def _list(self, path: str) -> list[os.DirEntry[str]]:
        """A directory's entries, the first time it is met (by device and inode)."""
        try:
            st = os.stat(path)
            key = (st.st_dev, st.st_ino)
            if key in self.visited:
                return []
            self.visited.add(key)
            with os.scandir(path) as it:
                return list(it)
        except OSError as exc:
            if not _gone(exc):
                self.errors.append(ScanError(path, reason(exc)))
            return []

    def scan_bundled(self, directory: str, python: str) -> None:
        """The wheels an interpreter's ``ensurepip`` installs pip (and setuptools) from: that
        interpreter's artefacts, marked as such (``bundled_by``)."""
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return  # none bundled (a distribution's interpreter may ship them elsewhere)
        for name in names:
            path = os.path.join(directory, name)
            if not name.endswith(".whl") or (self._excluded is not None and self._excluded(name, path)):
                continue
            try:
                for copy, data in scan_archive(path, Container.WHEEL):
                    self.copies[(copy.file, copy.member)] = copy._replace(bundled_by=python)
                    self.texts.setdefault(copy.sha256, data)
            except ScanError as exc:
                self.errors.append(exc)

    # sharing a walk between processes

    def _share(self, shares: list[list[str]], do: Callable[[list[str], list[str]], None], deferred: list[str]) -> None:
        """``do`` each share in a process of its own, the first one here; symlinked
        directories met are left in ``deferred``, to be walked once every real one is known."""
        if not shares:
            return
        children = [(share, forking.fork(functools.partial(self._in_child, do, share))) for share in shares[1:]]
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
        findings = sharing.Findings(
            list(self.copies.values()), self.texts, self.errors, list(self.visited), deferred, self.archives or []
        )
        return sharing.encode(findings)

    def _merge(self, data: bytes, deferred: list[str]) -> bool:
        """Take in a child's findings; False when they cannot be read."""
        found = sharing.decode(data)
        if found is None:
            return False
        for copy in found.copies:
            self._add(copy)
        for digest, text in found.texts.items():
            self.texts.setdefault(digest, text)
        self.errors.extend(found.errors)
        self.visited.update(found.visited)
        deferred.extend(found.deferred)
        if self.archives is not None:
            self.archives.extend(found.archives)
        return True

    def _scan_file(self, path: str, name: str) -> None:
        if name.endswith(".egg") or name.endswith(".whl"):
            container = Container.EGG_ZIP if name.endswith(".egg") else Container.WHEEL
            try:
                found = scan_archive(path, container)
            except ScanError as exc:
                self.errors.append(exc)
                return
            real = os.path.realpath(path) if found else path  # rewritten there: a link to it stays
            seeder = seeding_tool(os.path.dirname(path)) if found and container is Container.WHEEL else None
            for copy, data in found:
                if seeder is not None:  # a tool's artefact, like ensurepip's wheels
                    copy = copy._replace(bundled_by=seeder)
                self._add(copy if real == path else copy._replace(file=real, via=path))
                self.texts.setdefault(copy.sha256, data)
        elif name == MODULE or name == INIT:
            self._check(path)

    def _check(self, path: str) -> bool:
        """Record ``path`` if it is a copy of pkg_resources; whether it is a file at all.

        A copy is recorded at its real path, where it is written: through a symlinked file or
        directory (a Spack view, a stow tree) it is the file it points to, its owner the
        distribution whose RECORD lists that file.
        """
        if not os.path.isfile(path):
            return False
        parts = path.split(os.sep)
        decided = _decide(parts, path)
        if decided is None:
            return True
        via_root = _root(parts, decided[0])
        real = os.path.realpath(path)  # for copies only: the walk itself never resolves links
        via = None
        if real != path:
            via = path
            real_parts = real.split(os.sep)
            real_decided = _decide(real_parts, real)
            if real_decided is not None:  # else read what lies around the link instead
                parts, decided = real_parts, real_decided
        root_depth, vendored_by, nested = decided
        root = _root(parts, root_depth)
        try:
            with open(real, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return False
        except OSError as exc:
            self.errors.append(ScanError(path, reason(exc)))
            return True
        # the directory the copy lies in: pip's _vendor, pex's _vendored/setuptools
        beside = os.sep.join(parts[:-2] if parts[-1] == INIT else parts[:-1])
        vendor = None
        if vendored_by is not None:  # pip's vendor.txt, or a tool's patched pip's (pipenv/patched/pip)
            vendor = read_small(os.path.join(beside, "vendor.txt"), parse_vendor_txt)
        egg_owner = None
        container = Container.DIRECTORY
        if root.endswith(".egg"):
            egg_owner = read_small(os.path.join(root, "EGG-INFO", "PKG-INFO"), parse_pkg_info)
            container = Container.EGG_DIR if os.path.isdir(os.path.join(root, "EGG-INFO")) else Container.DIRECTORY
        owner, conflicts, record, entry = self.owners.claim(root, real)
        view_records: tuple[tuple[str, str], ...] = ()
        if via is not None:
            # a view's own RECORD lists the link: what is read through it changes too
            view_owner, view_conflicts, view_record, view_entry = self.owners.claim(via_root, via)
            if view_record is not None and view_entry is not None and not _same_file(view_record, record):
                view_records = ((view_record, view_entry),)
            owner = owner or view_owner
            conflicts = tuple(dict.fromkeys(d for d in (*conflicts, *view_conflicts) if d != owner))
        if owner is None:
            owner = egg_owner
        if owner is None and container is Container.DIRECTORY:
            # the import root was a namespace package's directory (zc/ of zc/buildout/_vendor),
            # not the sys.path entry an installer wrote RECORD into: that lies a level or two up
            site = root
            for _ in range(NAMESPACE_DEPTH):
                site = os.path.dirname(site)
                owner, conflicts, record, entry = self.owners.claim(site, real)
                if owner is not None:
                    break
        if owner is None and vendored_by is not None:
            owner = self.owners.claim(root, os.path.join(root, vendored_by, INIT))[0]
        found_upstream = upstream(owner, vendored_by, vendor)
        if nested and found_upstream is None:
            # pex keeps a setuptools release's metadata beside the package it puts on sys.path
            found_upstream = _setuptools_beside(beside)
        digest = hashlib.sha256(data).hexdigest()
        self.texts.setdefault(digest, data)
        self._add(
            Copy(
                file=real,
                member=None,
                container=container,
                vendored_by=vendored_by,
                owner=owner,
                upstream=found_upstream,
                sha256=digest,
                conflicts=conflicts,
                record=record,
                record_entry=entry,
                vendor_pip=vendoring_pip(owner, vendored_by),
                via=via,
                view_records=view_records,
            )
        )
        return True

    def _add(self, copy: Copy) -> None:
        """Keep one copy per real file: the one found without a symlink, else the first link
        in path order (the same however the walk was shared), with every view's RECORD met."""
        key = (copy.file, copy.member)
        known = self.copies.get(key)
        if known is None:
            self.copies[key] = copy
            return
        keep, other = (
            (copy, known) if known.via is not None and (copy.via is None or copy.via < known.via) else (known, copy)
        )
        records = tuple(sorted(set(keep.view_records) | set(other.view_records)))
        self.copies[key] = keep._replace(view_records=records) if records != keep.view_records else keep

    def result(self) -> ScanResult:
        # a copy met through a link first, and without one in a later tree, was not only reached via
        roots = tuple(root.rstrip(os.sep) + os.sep for root in self.roots)
        found = (
            c._replace(via=None) if c.via is not None and c.file.startswith(roots) else c for c in self.copies.values()
        )
        copies = tuple(sorted(found, key=lambda c: (c.file, c.member or "")))
        errors = tuple(sorted(self.errors, key=str))  # the same order however the walk was shared
        return ScanResult(copies, errors, self.texts, self.processes)


def _decide(parts: list[str], path: str) -> tuple[int, str | None, bool] | None:
    """Whether the file at ``path`` (split into ``parts``) is a copy: ``(depth of its import
    root, vendoring package, whether its text had to say so)``, or None. The path rules decide
    without reading (:func:`~.rules.import_root`); a file they reject inside another package is
    a copy when its first bytes are pkg_resources' (pex's ``_vendored/setuptools``)."""
    decided = import_root(parts[1:], DirIsPackage(os.sep))  # parts[0] is '' for an absolute path
    if decided is not None:
        return decided[0], decided[1], False
    nested = nested_root(parts[1:], DirIsPackage(os.sep))
    if nested is None:
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(SIGNATURE_WITHIN)
    except OSError:
        return None  # vanished, or unreadable: not known to be a copy
    if not looks_like_pkg_resources(head):
        return None
    return nested[0], nested[1], True


def _setuptools_beside(directory: str) -> Dist | None:
    """The setuptools release whose metadata (``setuptools-<version>.dist-info``) lies in
    ``directory``, beside a copy found inside another package: the release it was taken from
    (its public version: ``44.0.0+3acb925...``, pex's build of it, is 44.0.0)."""
    try:
        with os.scandir(directory) as it:
            metas = sorted(e.path for e in it if e.name.startswith("setuptools-") and e.name.endswith(".dist-info"))
    except OSError:
        return None
    for meta in metas:
        found = read_small(os.path.join(meta, "METADATA"), parse_pkg_info)
        if found is not None and normalize(found.name) == "setuptools":
            return Dist("setuptools", found.version.split("+", 1)[0])
    return None


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _root(parts: list[str], depth: int) -> str:
    """The import root ``depth`` parts down the absolute path split into ``parts``."""
    return os.sep + os.path.join(*parts[1 : depth + 1]) if depth else os.sep


def _same_file(path: str, other: str | None) -> bool:
    """Whether two paths name one file (a view's RECORD may be a link to the store's)."""
    if other is None:
        return False
    try:
        return os.path.samefile(path, other)
    except OSError:
        return False


def _gone(exc: OSError) -> bool:
    """Whether an error only says that the path is not there (any more): absent, not a failure."""
    return isinstance(exc, (FileNotFoundError, NotADirectoryError)) or exc.errno == errno.ELOOP


def _listed(path: str, first: bool) -> list[str]:
    """The paths a ``.pth`` file lists (``site``'s rules: no comments, no ``import`` lines),
    or the first one of an ``.egg-link``, relative to the file's directory."""
    try:
        with open(path, "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return []  # vanished or unreadable: it adds nothing to sys.path either
    found = []
    for raw in lines:
        line = os.fsdecode(raw.rstrip())
        if not line or line.startswith("#") or line.startswith(("import ", "import\t")):
            continue
        found.append(os.path.normpath(os.path.join(os.path.dirname(path), line)))
        if first:
            break
    return found


def scan(
    paths: Iterable[str],
    interpreters: Iterable[Interpreter] = (),
    jobs: int = 1,
    exclude: Iterable[str] = (),
    one_file_system: bool = False,
) -> ScanResult:
    """Find every copy below ``paths`` (directories scanned recursively, or single archives),
    in the entries of each interpreter's ``sys.path`` and in the wheels its ``ensurepip`` bundles.

    With ``jobs`` > 1, large trees are walked by that many processes (the result is the same).
    ``exclude`` globs and ``one_file_system`` bound the walks (see :class:`Walker`).
    """
    walker = Walker(jobs, exclude, one_file_system)
    # A scan makes some 100,000 short-lived objects and no reference cycle: the collector's
    # passes over them would cost a third of the scan.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for path in paths:
            walker.scan(path)
        for interpreter in interpreters:
            for entry in interpreter.path:
                walker.scan(entry, sys_path_entry=True)
            if interpreter.bundled is not None:
                walker.scan_bundled(interpreter.bundled, interpreter.python)
    finally:
        if collecting:
            gc.enable()
    found = walker.result()
    if not found.copies:
        return found
    from patcher.scan.packages import with_packages

    return found._replace(copies=with_packages(found.copies))
