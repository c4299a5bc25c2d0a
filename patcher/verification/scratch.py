"""The scratch directories ``verify`` runs a copy against, in a temporary directory: the copy's
own distribution (its bytes as given, so the user's tree is only read) and a site directory of
victims, one distribution of every kind an installer leaves behind."""

from __future__ import annotations

import csv
import glob
import os
import shutil
import zipfile
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from patcher.bytecode.files import member_byte_code
from patcher.model import Container, Copy
from patcher.scan import rules
from patcher.scan.rules import INIT, DirIsPackage, ZipIsPackage

__all__ = [
    "KEEP",
    "VICTIM_KINDS",
    "Own",
    "Site",
    "Victim",
    "build_own",
    "build_site",
    "import_root",
    "make_victim",
    "module_of",
    "parent_inits",
]

#: every kind of victim, in the order they are reported
VICTIM_KINDS = ("egg-zip", "egg-dir", "egg-info-dir", "egg-info-file", "dist-info", "egg-link", "namespace")
#: the distribution that never vanishes in a race: ``require()`` asks for it
KEEP = "keep"


class Victim(NamedTuple):
    """One distribution of the scratch site: its project name and every path that goes when it vanishes."""

    name: str
    kind: str
    roots: tuple[str, ...]
    #: a module imported from it before the copy is (its importer cached), or None
    module: str | None = None


class Site(NamedTuple):
    path: str
    victims: tuple[Victim, ...]

    @property
    def preimport(self) -> list[str]:
        return [v.module for v in self.victims if v.module is not None]


class Own(NamedTuple):
    """The copy's distribution laid out in scratch: the ``sys.path`` entries that import it."""

    paths: tuple[str, ...]
    module: str
    #: entries put last on ``sys.path``: where the copy's own dependencies are imported from
    #: when no record lists its files (the directory it lies in, only read)
    extra: tuple[str, ...] = ()
    #: the ``__init__.py`` of the packages above the copy's own directory laid out empty (their
    #: project's imports, not pkg_resources'), relative to the import root; see :func:`build_own`
    emptied: tuple[str, ...] = ()


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _pkg_info(name: str, metadata_version: str = "1.1") -> str:
    return f"Metadata-Version: {metadata_version}\nName: {name}\nVersion: 1.0\n"


def _entry_points(name: str, module: str) -> str:
    return f"[console_scripts]\n{name} = {module}:main\n"


def make_victim(site: str, kind: str, name: str, pyver: str, *, entry_points: bool = True) -> Victim:
    """A small distribution of ``kind`` in ``site``, laid out the way its installer did.

    Eggs and develop installs are also listed in ``easy-install.pth`` (appended), as
    easy_install and ``setup.py develop`` put them on ``sys.path``.
    """
    module = name.replace("-", "_")
    eps = {"entry_points.txt": _entry_points(name, module)} if entry_points else {}
    tag = f"{module}-1.0-py{pyver}"
    if kind == "egg-zip":
        egg = os.path.join(site, f"{tag}.egg")
        with zipfile.ZipFile(egg, "w") as zf:
            zf.writestr(f"{module}/__init__.py", "")
            zf.writestr("EGG-INFO/PKG-INFO", _pkg_info(name))
            zf.writestr("EGG-INFO/top_level.txt", f"{module}\n")
            for member, text in eps.items():
                zf.writestr(f"EGG-INFO/{member}", text)
        _add_pth(site, egg)
        return Victim(name, kind, (egg,), module)
    if kind == "egg-dir":
        egg = os.path.join(site, f"{tag}.egg")
        _write(os.path.join(egg, module, INIT), "")
        _write(os.path.join(egg, "EGG-INFO", "PKG-INFO"), _pkg_info(name))
        for member, text in eps.items():
            _write(os.path.join(egg, "EGG-INFO", member), text)
        _add_pth(site, egg)
        return Victim(name, kind, (egg,))
    if kind == "egg-info-dir":
        info = os.path.join(site, f"{tag}.egg-info")
        _write(os.path.join(info, "PKG-INFO"), _pkg_info(name))
        for member, text in eps.items():
            _write(os.path.join(info, member), text)
        return Victim(name, kind, (info,))
    if kind == "egg-info-file":  # distutils' install_egg_info: PKG-INFO as a single file
        info = os.path.join(site, f"{tag}.egg-info")
        _write(info, _pkg_info(name))
        return Victim(name, kind, (info,))
    if kind == "dist-info":
        info = os.path.join(site, f"{module}-1.0.dist-info")
        _write(os.path.join(info, "METADATA"), _pkg_info(name, "2.1"))
        for member, text in eps.items():
            _write(os.path.join(info, member), text)
        return Victim(name, kind, (info,))
    if kind == "egg-link":  # setup.py develop: a link file, the project's tree, a .pth line
        target = os.path.join(os.path.dirname(site), "develop", module)
        _write(os.path.join(target, module, INIT), "")
        _write(os.path.join(target, f"{module}.egg-info", "PKG-INFO"), _pkg_info(name))
        for member, text in eps.items():
            _write(os.path.join(target, f"{module}.egg-info", member), text)
        link = os.path.join(site, f"{name}.egg-link")
        _write(link, f"{target}\n.\n")
        _add_pth(site, target)
        return Victim(name, kind, (link, target))
    if kind == "namespace":  # an old-style namespace package (zope, mpl_toolkits): -nspkg.pth
        package = f"{module}ns"
        info = os.path.join(site, f"{tag}.egg-info")
        _write(os.path.join(info, "PKG-INFO"), _pkg_info(name))
        _write(os.path.join(info, "namespace_packages.txt"), f"{package}\n")
        _write(os.path.join(info, "top_level.txt"), f"{package}\n")
        for member, text in eps.items():
            _write(os.path.join(info, member), text)
        _write(os.path.join(site, package, "sub", INIT), "")
        pth = os.path.join(site, f"{tag}-nspkg.pth")
        _write(pth, _NSPKG_LINE.format(package=package) + "\n")
        return Victim(name, kind, (info, pth, os.path.join(site, package)))
    raise ValueError(f"unknown victim kind {kind!r}")


#: what setuptools wrote into ``*-nspkg.pth`` (2015 form: runs on Python 2.7 and 3.x)
_NSPKG_LINE = (
    "import sys, types, os;p = os.path.join(sys._getframe(1).f_locals['sitedir'], *('{package}',));"
    "ie = os.path.exists(os.path.join(p,'__init__.py'));"
    "m = not ie and sys.modules.setdefault('{package}', types.ModuleType('{package}'));"
    "mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p)"
)


def _add_pth(site: str, entry: str) -> None:
    with open(os.path.join(site, "easy-install.pth"), "a", encoding="utf-8") as f:
        f.write(f"{os.path.relpath(entry, site)}\n" if entry.startswith(site + os.sep) else f"{entry}\n")


def build_site(dest: str, pyver: str, kinds: Iterable[str] = VICTIM_KINDS) -> Site:
    """``dest/site``: a victim of each kind (named ``victim-<kind>``) and ``keep``, a
    distribution that stays (``require()`` asks for it)."""
    site = os.path.join(dest, "site")
    os.makedirs(site)
    victims = [make_victim(site, kind, f"victim-{kind}", pyver) for kind in kinds]
    victims.append(make_victim(site, "dist-info", KEEP, pyver))
    return Site(site, tuple(victims))


def _roots(copy: Copy) -> tuple[list[str], int, int]:
    """The copy's path split, the depth of the root the path rules give it, and of its import root.

    The import root is the one its project gives it: where the path rules put it (a top-level copy's
    directory, the package that vendors it in ``<pkg>/_vendor/``, or the directory of the
    namespace packages that one lies in -- ``zc/buildout/_vendor`` -- up to where its ``RECORD``
    installed it), else -- a copy found by its
    text inside another package -- the outermost package's directory; and below either, the
    innermost directory an installer put the copy into (a ``*.dist-info/RECORD`` there lists
    it): pex's ``pex/vendor/_vendored/<project>/``, which pex puts on ``sys.path``.
    """
    if copy.member is None:
        parts = os.path.abspath(copy.file).split(os.sep)
        is_package: rules.IsPackage = DirIsPackage(os.sep)
        records: Callable[[Sequence[str]], list[bytes]] = _dir_records
    else:
        parts = copy.member.split("/")
        with zipfile.ZipFile(copy.file) as zf:
            names = zf.namelist()
            found_records = {n: zf.read(n) for n in names if n.endswith(".dist-info/RECORD")}
        is_package = ZipIsPackage(names)

        def records(directory: Sequence[str]) -> list[bytes]:
            prefix = "/".join(directory) + "/" if directory else ""
            return [
                text
                for name, text in found_records.items()
                if name.startswith(prefix) and name[len(prefix) :].count("/") == 1
            ]

    found = rules.import_root(parts, is_package) or rules.nested_root(parts, is_package)
    if found is None:
        raise ValueError(f"{copy.location}: not a copy of pkg_resources")
    outer = found[0]
    if found[1] is not None:  # vendored: the vendoring package may lie in namespace packages
        if copy.member is not None:
            base = 0  # the archive's root is the sys.path entry
        elif copy.record and os.path.basename(copy.record) == "RECORD":
            base = len(os.path.dirname(os.path.dirname(os.path.abspath(copy.record))).split(os.sep))
        else:
            base = outer
        if base < outer and all(part.isidentifier() for part in parts[base:outer]):
            outer = base
    return parts, outer, _installed_at(parts, outer, records)


def module_of(copy: Copy) -> tuple[tuple[str, ...], str]:
    """The copy's file split at its import root (see :func:`_roots`): (parts of the root, module name)."""
    parts, _outer, depth = _roots(copy)
    inner = parts[depth:]
    names = inner[:-1] if inner[-1] == INIT else [*inner[:-1], inner[-1][: -len(".py")]]
    return tuple(parts[:depth]), ".".join(names)


def _installed_at(parts: Sequence[str], depth: int, records: Callable[[Sequence[str]], list[bytes]]) -> int:
    """The depth of the innermost directory below ``depth`` and above the copy whose
    ``*.dist-info/RECORD`` lists the copy's file (as written relative to that directory), else ``depth``."""
    holder = len(parts) - (2 if parts[-1] == INIT else 1)
    for at in range(holder, depth, -1):
        relative = "/".join(parts[at:]).encode("utf-8", "surrogateescape")
        for text in records(parts[:at]):
            if any(line.split(b",")[0].strip() == relative for line in text.splitlines()):
                return at
    return depth


def _dir_records(directory: Sequence[str]) -> list[bytes]:
    texts = []
    for path in glob.glob(os.path.join(glob.escape(os.sep.join(directory) or os.sep), "*.dist-info", "RECORD")):
        try:
            with open(path, "rb") as f:
                texts.append(f.read())
        except OSError:
            pass
    return texts


def parent_inits(copy: Copy) -> tuple[str, ...]:
    """The ``__init__.py`` of every package between the copy's import root and the directory
    holding it (``zc/buildout/__init__.py`` for ``zc/buildout/_vendor/pkg_resources``), relative
    to the root: its project's code, which :func:`build_own` may lay out empty."""
    holder = module_of(copy)[1].split(".")[:-1]
    return tuple(os.path.join(*holder[:at], INIT) for at in range(1, len(holder)))


def import_root(copy: Copy) -> str | None:
    """Where a copy lying in a directory imports what is not its own from (None for an archive
    or egg): the directory it is imported from, or -- installed inside a package, as pex's
    ``_vendored/setuptools`` -- the one holding that package (pex itself, for its import hook)."""
    if copy.container is not Container.DIRECTORY:
        return None
    parts, outer, _depth = _roots(copy)
    return os.sep.join(parts[:outer]) or os.sep


def build_own(copy: Copy, text: bytes, dest: str, emptied: Sequence[str] = ()) -> Own:
    """The copy's distribution under ``dest``, its pkg_resources file holding ``text``, and
    each of ``emptied`` (see :func:`parent_inits`) that it has laid out empty.

    A zipped egg or wheel is copied whole (the member replaced, byte-code of the copy left
    out so that the source is what runs); a directory egg whole; a copy in a site directory
    as the files its owner's ``RECORD`` (or ``installed-files.txt``) lists, else the top-level
    package that holds it.
    """
    root_parts, module = module_of(copy)
    os.makedirs(dest)
    if copy.container in (Container.EGG_ZIP, Container.WHEEL):
        assert copy.member is not None
        package_dir = copy.member.rpartition("/")[0]
        if copy.container is Container.WHEEL:
            with zipfile.ZipFile(copy.file) as zf:
                for info in zf.infolist():
                    if not info.filename.endswith((".pyc", ".pyo")):
                        zf.extract(info, dest)
            _write_bytes(os.path.join(dest, *copy.member.split("/")), text)
            root = os.path.join(dest, *root_parts)
            parts, outer, _depth = _roots(copy)
            # installed inside a package (pex's _vendored/setuptools): that package importable too
            holding = os.path.join(dest, *parts[:outer])
            paths = (root,) if holding == root else (root, holding)
            return Own(paths, module, emptied=_empty(root, emptied))
        egg = os.path.join(dest, os.path.basename(copy.file))
        with zipfile.ZipFile(copy.file) as zin, zipfile.ZipFile(egg, "w", zipfile.ZIP_DEFLATED) as zout:
            # a single module's byte-code lies beside it, not in its package: zipimport would load it
            own_code = {name for name, _tag, _level in member_byte_code(zin.namelist(), copy.member)}
            for info in zin.infolist():
                if info.filename in own_code or _compiled_below(info.filename, package_dir):
                    continue
                zout.writestr(info, text if info.filename == copy.member else zin.read(info))
        return Own((os.path.join(egg, *root_parts),), module)
    root = os.sep.join(root_parts) or os.sep
    relative = os.path.relpath(copy.file, root)
    if copy.container is Container.EGG_DIR:
        egg = os.path.join(dest, os.path.basename(root))
        shutil.copytree(root, egg, ignore=shutil.ignore_patterns("*.pyc", "*.pyo", "__pycache__"))
        _write_bytes(os.path.join(egg, relative), text)
        return Own((egg,), module)
    for name in _owned_files(copy, root) or _package_files(root, relative):
        source = os.path.join(root, name)
        target = os.path.join(dest, name)
        if os.path.isfile(source):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(source, target)
    _write_bytes(os.path.join(dest, relative), text)
    return Own((dest,), module, emptied=_empty(dest, emptied))


def _empty(root: str, inits: Sequence[str]) -> tuple[str, ...]:
    done = []
    for init in inits:
        path = os.path.join(root, init)
        if os.path.isfile(path):
            _write_bytes(path, b"")
            done.append(init)
    return tuple(done)


def _compiled_below(name: str, package_dir: str) -> bool:
    """Byte-code in the package that holds a copy (``pip/_vendor/``): left out with the copy's."""
    return bool(package_dir) and name.startswith(package_dir + "/") and name.endswith((".pyc", ".pyo"))


def _write_bytes(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def _owned_files(copy: Copy, root: str) -> list[str]:
    """The files the owner's record lists, relative to ``root`` (those below it only)."""
    if not copy.record:
        return []
    base = os.path.dirname(copy.record)
    if os.path.basename(copy.record) == "RECORD":
        base = os.path.dirname(base)
    try:
        with open(copy.record, encoding="utf-8", errors="surrogateescape", newline="") as f:
            rows = list(csv.reader(f)) if copy.record.endswith("RECORD") else [[line.strip()] for line in f]
    except OSError:
        return []
    names = []
    for row in rows:
        if not row or not row[0] or row[0].endswith((".pyc", ".pyo")):
            continue
        path = os.path.normpath(os.path.join(base, row[0]))
        if path.startswith(root + os.sep):
            names.append(os.path.relpath(path, root))
    return names


def _package_files(root: str, relative: str) -> list[str]:
    """The top-level package holding the copy, and for pkg_resources -- a package or the single
    module of 2013-2015 -- what it imports from setuptools' other top-level packages: ``setuptools``
    (``setuptools._vendor.packaging`` from 8.0, ``setuptools.extern`` later), ``_markerlib``
    (a ``.dist-info``'s requirements, before 20.2)."""
    tops = [relative.split(os.sep)[0]]
    if tops[0] in (rules.PACKAGE, rules.MODULE):
        tops += [name for name in ("setuptools", "_markerlib") if os.path.isdir(os.path.join(root, name))]
    names = []
    for top in tops:
        for dirpath, dirs, files in os.walk(os.path.join(root, top)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            names += [os.path.relpath(os.path.join(dirpath, f), root) for f in files if not f.endswith(".pyc")]
    return names
