"""Who installed a copy: the distributions whose ``RECORD`` (or egg-info
``installed-files.txt``) lists it. The newest record wins; the others are conflicts.

Records are read once per run, and only the lines that mention the copy are parsed: a pip
RECORD has a thousand lines, and one of them names the copy.
"""

from __future__ import annotations

import os
from typing import Optional

from patcher.model import Dist
from patcher.scan.metadata import parse_pkg_info, read_small

__all__ = ["Claim", "Owners"]

#: (owner, other claimants, the record listing the file, the path as written there)
Claim = tuple[Optional[Dist], tuple[Dist, ...], Optional[str], Optional[str]]


class Owners:
    """Answers "who installed this file?" for the site directories of one scan, reading each
    record once."""

    def __init__(self) -> None:
        self._record_texts: dict[str, str] = {}
        self._metadirs: dict[str, list[str]] = {}

    def claim(self, site: str, path: str) -> Claim:
        """Which installed distributions in ``site`` list ``path``."""
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
                    found = sorted(e.path for e in it if e.name.endswith((".dist-info", ".egg-info")) and e.is_dir())
            except OSError:
                found = []
            self._metadirs[site] = found
        return found

    def _record_entry(self, meta: str, path: str, tail: str) -> str | None:
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
    def _meta_dist(meta: str) -> Dist | None:
        name = "METADATA" if meta.endswith(".dist-info") else "PKG-INFO"
        return read_small(os.path.join(meta, name), parse_pkg_info)


def _record_path(line: str) -> str | None:
    """The path (first field) of a ``RECORD`` line: CSV, quoted only when the path needs it."""
    if not line.startswith('"'):
        return line.split(",", 1)[0]
    import csv

    try:
        return next(csv.reader([line]))[0]
    except (csv.Error, StopIteration, IndexError):
        return None
