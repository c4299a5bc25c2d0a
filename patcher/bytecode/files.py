"""Byte-code compiled from a copy's source: which files there are, and what their headers say.

When a copy's source changes, its byte-code is written anew (:mod:`patcher.bytecode.compiler`), not
dropped: a process that cannot write byte-code (a root-installed tree, zipimport, which never
writes any, ``PYTHONDONTWRITEBYTECODE``) would otherwise compile pkg_resources from source on
every start. Stale byte-code must not stay either: not every loader checks it (unchecked-hash
``.pyc``, which distributions ship). A file is replaced by one of the same kind: its cache tag
(the interpreter that reads it), its optimization level and its invalidation mode (PEP 552).

Where byte-code lies: ``__pycache__/<stem>.<tag>[.opt-N].pyc`` (PEP 3147, 488; ``.pyo`` for
optimized files before Python 3.5), and the legacy ``<stem>.pyc`` / ``<stem>.pyo`` beside the
source (Python 2; zipimport reads only those, on every version).
"""

from __future__ import annotations

import enum
import glob
import os
import re
import struct
from typing import NamedTuple

__all__ = [
    "ByteCode",
    "Invalidation",
    "MAGIC_VERSIONS",
    "header",
    "loose_byte_code",
    "member_byte_code",
    "record_entry",
]

#: the final magic number of each CPython release, for legacy files (no tag in their name)
MAGIC_VERSIONS = {
    62211: "2.7",
    3180: "3.2",
    3230: "3.3",
    3310: "3.4",
    3351: "3.5",
    3379: "3.6",
    3394: "3.7",
    3413: "3.8",
    3425: "3.9",
    3439: "3.10",
    3495: "3.11",
    3531: "3.12",
    3571: "3.13",
}

_CACHED = re.compile(r"^(?P<tag>[^.]+)(?:\.opt-(?P<opt>[12]))?\.(?P<ext>pyc|pyo)$")
_CPYTHON_TAG = re.compile(r"^cpython-(\d)(\d+)$")


class Invalidation(enum.Enum):
    """How an interpreter tells that a ``.pyc`` is stale (PEP 552): by the source's mtime and
    size, by its hash, or not at all (unchecked hash: the file is trusted)."""

    TIMESTAMP = 0b00
    UNCHECKED_HASH = 0b01
    CHECKED_HASH = 0b11


class ByteCode(NamedTuple):
    """One byte-code file compiled from a copy's source, as found."""

    #: its path (a loose file) or its name inside the archive
    path: str
    #: the cache tag its name carries (``cpython-311``); None for a legacy file beside the source
    tag: str | None
    #: 0, or 1/2 for ``.opt-1``/``.opt-2`` (``.pyo``: 1)
    optimize: int
    #: its bytes
    data: bytes

    @property
    def magic(self) -> bytes | None:
        """The magic number of the interpreter that wrote it, when the file has one."""
        return self.data[:4] if len(self.data) >= 8 and self.data[2:4] == b"\r\n" else None

    @property
    def version(self) -> str | None:
        """``X.Y`` of the CPython that reads it, from its tag or (legacy files) its magic."""
        if self.tag is not None:
            match = _CPYTHON_TAG.match(self.tag)
            return f"{match.group(1)}.{match.group(2)}" if match else None
        magic = self.magic
        return None if magic is None else MAGIC_VERSIONS.get(struct.unpack("<H", magic[:2])[0])

    @property
    def label(self) -> str:
        """What reads it, for messages: its tag, else the Python its magic names."""
        if self.tag is not None:
            return self.tag
        version = self.version
        if version is not None:
            return f"Python {version}"
        magic = self.magic
        return "unknown" if magic is None else f"magic {struct.unpack('<H', magic[:2])[0]}"

    def invalidation(self, version: tuple[int, int]) -> Invalidation:
        """Its invalidation mode, from the header's flags (Python >= 3.7 writes them); a file
        of an older interpreter, or unreadable, is timestamp-based."""
        if version < (3, 7) or len(self.data) < 16 or self.magic is None:
            return Invalidation.TIMESTAMP
        (flags,) = struct.unpack("<I", self.data[4:8])
        try:
            return Invalidation(flags & 0b11)
        except ValueError:  # 0b10: not a valid header; Python would recompile it
            return Invalidation.TIMESTAMP


def _parse(name: str, stem: str, *, cached: bool) -> tuple[str | None, int] | None:
    """(tag, optimization level) of a byte-code file named ``name`` compiled from ``stem``, in
    ``__pycache__`` (``cached``) or beside the source; None when it is not one."""
    if not cached:
        return (None, 1 if name.endswith(".pyo") else 0) if name in (f"{stem}.pyc", f"{stem}.pyo") else None
    match = _CACHED.match(name[len(stem) + 1 :]) if name.startswith(f"{stem}.") else None
    if match is None or (match.group("opt") and match.group("ext") == "pyo"):
        return None
    return match.group("tag"), int(match.group("opt") or (1 if match.group("ext") == "pyo" else 0))


def _stem(source: str) -> str:
    base = source.replace(os.sep, "/").rpartition("/")[2]
    return base[:-3] if base.endswith(".py") else base


def loose_byte_code(source: str) -> list[ByteCode]:
    """The byte-code files compiled from the source file ``source`` that exist now."""
    directory, stem = os.path.dirname(source), _stem(source)
    pattern = os.path.join(glob.escape(directory), "__pycache__", f"{glob.escape(stem)}.*.py[co]")
    paths = [(p, True) for p in sorted(glob.glob(pattern))]
    paths += [(os.path.join(directory, stem + ext), False) for ext in (".pyc", ".pyo")]
    found = []
    for path, cached in paths:
        parsed = _parse(os.path.basename(path), stem, cached=cached)
        if parsed is None:
            continue
        try:
            with open(path, "rb") as f:
                data = f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            continue
        found.append(ByteCode(path, parsed[0], parsed[1], data))
    return found


def member_byte_code(names: list[str], member: str) -> list[tuple[str, str | None, int]]:
    """The members of an archive (``names``) that are byte-code compiled from ``member``: each
    with its tag and optimization level."""
    directory, _, base = member.rpartition("/")
    stem = base[:-3] if base.endswith(".py") else base
    prefix = f"{directory}/" if directory else ""
    cache = f"{prefix}__pycache__/"
    found = []
    for name in names:
        if name.startswith(cache) and "/" not in name[len(cache) :]:
            parsed = _parse(name[len(cache) :], stem, cached=True)
        elif name.startswith(prefix) and "/" not in name[len(prefix) :]:
            parsed = _parse(name[len(prefix) :], stem, cached=False)
        else:
            continue
        if parsed is not None:
            found.append((name, *parsed))
    return found


def header(
    version: tuple[int, int], magic: bytes, mode: Invalidation, *, mtime: int, size: int, source_hash: bytes | None
) -> bytes:
    """A ``.pyc`` header as the interpreter of ``version`` writes it (importlib, py_compile):
    magic; then, from 3.7, flags; then the source's mtime (and, from 3.3, size) or its hash."""
    stamp = struct.pack("<I", mtime & 0xFFFFFFFF)
    if version < (3, 3):
        return magic + stamp
    sized = stamp + struct.pack("<I", size & 0xFFFFFFFF)
    if version < (3, 7):
        return magic + sized
    if mode is Invalidation.TIMESTAMP or source_hash is None:
        return magic + struct.pack("<I", 0) + sized
    return magic + struct.pack("<I", mode.value) + source_hash


def record_entry(source_entry: str, source: str, pyc: str) -> str:
    """The path an installer's record lists ``pyc`` by, given the one it lists the source by."""
    relative = os.path.relpath(pyc, os.path.dirname(source)).replace(os.sep, "/")
    directory = source_entry.rpartition("/")[0]
    return f"{directory}/{relative}" if directory else relative
