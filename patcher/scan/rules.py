"""Which paths are copies of pkg_resources: the path rules, the same for directories and archives.

A copy is ``pkg_resources/__init__.py`` or a single-module ``pkg_resources.py`` that lies in an
import root (a directory on ``sys.path``, not itself a package), or in ``<pkg>/_vendor/``.
Anything else named alike (``pkg_resources/tests/...``, pip's ``_internal/*/pkg_resources.py``
wrappers, test fixtures inside packages) is not pkg_resources.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence

__all__ = ["INIT", "MODULE", "NOT_WALKED", "PACKAGE", "DirIsPackage", "IsPackage", "ZipIsPackage", "import_root"]

MODULE = "pkg_resources.py"
PACKAGE = "pkg_resources"
INIT = "__init__.py"
#: directories a walk does not enter, wherever it meets them: byte-code caches, quilt's pristine
#: backups of the files its applied patches changed (``.pc/<patch>/<path>``) and version control's
#: own stores. What lies there is a tool's copy of the tree, never installed, never imported.
NOT_WALKED = frozenset({"__pycache__", ".pc", ".git", ".hg", ".svn", ".bzr", "_darcs"})

#: ``is_package(parts)``: does the directory ``parts`` hold an ``__init__.py``?
IsPackage = Callable[[Sequence[str]], bool]


def import_root(parts: Sequence[str], is_package: IsPackage) -> tuple[int, str | None] | None:
    """Decide whether the path ``parts`` (split on ``/``) is a copy.

    Returns ``(depth of the import root, vendoring package or None)`` or None. The import root
    is the directory that would be on ``sys.path``: a top-level ``pkg_resources`` lies directly
    in a directory that is not itself a package, a vendored one in ``<pkg>/_vendor/``. Anything
    else named alike (``pkg_resources/tests/...``, pip's ``_internal/*/pkg_resources.py``
    wrappers, test fixtures inside packages) is not pkg_resources.
    """
    name = parts[-1]
    if name == INIT and len(parts) >= 2 and parts[-2] == PACKAGE:
        parent = parts[:-2]
    elif name == MODULE:
        parent = parts[:-1]
    else:
        return None
    for depth, part in enumerate(parent):
        if part == PACKAGE and is_package(parent[: depth + 1]):
            return None  # inside a copy: its tests and their data
    if parent and parent[-1] == "_vendor" and len(parent) >= 2 and is_package(parent):
        vendor_root = len(parent) - 2
        while vendor_root > 0 and is_package(parent[:vendor_root]):
            vendor_root -= 1
        return vendor_root, parent[vendor_root]
    if parent and is_package(parent):
        return None
    return len(parent), None


class DirIsPackage:
    def __init__(self, base: str) -> None:
        self.base = base

    def __call__(self, parts: Sequence[str]) -> bool:
        return os.path.isfile(os.path.join(self.base, *parts, INIT))


class ZipIsPackage:
    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)

    def __call__(self, parts: Sequence[str]) -> bool:
        init = "/".join([*parts, INIT])
        return init in self.names or init + "c" in self.names
