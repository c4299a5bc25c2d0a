"""Which paths are copies of pkg_resources: the path rules, the same for directories and archives.

A copy is ``pkg_resources/__init__.py`` or a single-module ``pkg_resources.py`` that lies in an
import root (a directory on ``sys.path``, not itself a package), or in ``<pkg>/_vendor/``: the
path rules decide those without reading a byte. One the rules reject that lies inside another
package (pex's ``_vendored/setuptools/``, a directory a tool puts on ``sys.path`` at run time)
is a copy when its text says so (:func:`looks_like_pkg_resources`). Anything else named alike
(``pkg_resources/tests/...``, pip's ``_internal/*/pkg_resources.py`` wrappers, test fixtures
inside packages) is not pkg_resources.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "DIGEST_CHECKING_SEEDERS",
    "INIT",
    "MODULE",
    "NOT_WALKED",
    "PACKAGE",
    "SEEDERS",
    "SEEDING_TOOLS",
    "SIGNATURE_WITHIN",
    "DirIsPackage",
    "IsPackage",
    "ZipIsPackage",
    "import_root",
    "looks_like_pkg_resources",
    "nested_root",
    "seeding_tool",
]

MODULE = "pkg_resources.py"
PACKAGE = "pkg_resources"
INIT = "__init__.py"
#: directories a walk does not enter, wherever it meets them: byte-code caches, quilt's pristine
#: backups of the files its applied patches changed (``.pc/<patch>/<path>``) and version control's
#: own stores. What lies there is a tool's copy of the tree, never installed, never imported.
NOT_WALKED = frozenset({"__pycache__", ".pc", ".git", ".hg", ".svn", ".bzr", "_darcs"})
#: what every pkg_resources says in its first lines, from distribute and setuptools 0.6 to 81,
#: pip's vendored copies (1.5 to 26.3) and the forks (pex's setuptools 44, zc.buildout's 81):
#: its docstring's title, within its first 200 bytes (after a coding line); pip's
#: ``_internal/*/pkg_resources.py`` wrappers, pdm's ``working_set.py`` and the like never say it
SIGNATURE = b"Package resource API"
#: how far into a file the signature is looked for
SIGNATURE_WITHIN = 4096
#: the tools that seed every environment they create from wheels of their own, as ``venv`` does
#: from ensurepip's, and the package directory that holds those wheels (in an installed tool,
#: whatever the sys.path entry): virtualenv installs pip and setuptools from its embedded wheels.
#: pipenv and pdm ship none (pdm creates environments with virtualenv or venv).
SEEDERS = (("virtualenv", os.sep + os.sep.join(("virtualenv", "seed", "wheels", "embed"))),)
#: the names :attr:`~patcher.model.Copy.bundled_by` gives those tools (else it is an interpreter)
SEEDING_TOOLS = frozenset(tool for tool, _ in SEEDERS)
#: those that check each seeding wheel's sha256 against a table in their own code before use
#: (virtualenv 21: ``BUNDLE_SHA256`` in ``seed/wheels/embed/__init__.py``): a patched wheel makes
#: every environment's creation fail until that table says its new digest
DIGEST_CHECKING_SEEDERS = frozenset({"virtualenv"})

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


def looks_like_pkg_resources(head: bytes) -> bool:
    """Whether the first bytes of a ``.py`` file are those of pkg_resources (any era)."""
    return SIGNATURE in head[:SIGNATURE_WITHIN]


def nested_root(parts: Sequence[str], is_package: IsPackage) -> tuple[int, str] | None:
    """Where a file the path rules reject would lie if its text says it is pkg_resources.

    Only a ``pkg_resources`` inside another package qualifies (a directory that a tool puts on
    ``sys.path`` at run time, as pex does with ``pex/vendor/_vendored/setuptools``), never one
    inside a copy (its tests and their data). Returns ``(depth of the import root, the outermost
    package)``: where the installer wrote it, and the project that ships it.
    """
    name = parts[-1]
    if name == INIT and len(parts) >= 2 and parts[-2] == PACKAGE:
        parent = parts[:-2]
    elif name == MODULE:
        parent = parts[:-1]
    else:
        return None
    if not parent or not is_package(parent):
        return None
    for depth, part in enumerate(parent):
        if part == PACKAGE and is_package(parent[: depth + 1]):
            return None
    top = len(parent) - 1
    while top > 0 and is_package(parent[:top]):
        top -= 1
    return top, parent[top]


def seeding_tool(directory: str) -> str | None:
    """The tool (of :data:`SEEDERS`) whose seeding wheels ``directory`` holds, or None."""
    for tool, tail in SEEDERS:
        if directory.endswith(tail):
            return tool
    return None


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
