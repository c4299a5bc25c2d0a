"""Remember, across runs, what the patch set makes of a copy's bytes.

A copy's state (and which variant of each patch fits it, and where) depends on nothing but
its bytes, the patch set and the planner: ``locate`` keeps it under the digest of all three,
so that a run over a prefix it has seen needs neither to parse the patch set nor to plan
(the two cost more than walking a 100,000-file prefix). Everything wrong with the cache
(absent, unreadable, corrupt, read-only, raced by another run) only means planning again:
the cache is never needed for a correct answer, and it never changes one.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Optional

from patcher import __version__
from patcher._paths import default_patches_dir, user_cache_dir
from patcher.errors import PatcherError

__all__ = ["StateCache", "open_cache", "patchset_digest"]

#: bump when the cached value changes shape
_FORMAT = 1
#: at most this many cache files (one per patch set and planner) are kept
_KEEP = 8


def _code_files() -> list[str]:
    here = os.path.dirname(os.path.abspath(__file__))
    return sorted(os.path.join(here, n) for n in os.listdir(here) if n.endswith(".py"))


def _patch_files(root: str) -> list[str]:
    found = [os.path.join(root, "series")]
    for entry in sorted(os.listdir(root)):
        sub = os.path.join(root, entry)
        if os.path.isdir(sub):
            found.extend(os.path.join(sub, n) for n in sorted(os.listdir(sub)) if n.endswith(".patch"))
    return found


def patchset_digest(root: str) -> Optional[str]:
    """A digest of the patch set in ``root`` and of this package's code, or None if unreadable.

    The code is part of it so that a planner that changes (an upgrade, a checkout being
    worked on) never reads what an older one wrote.
    """
    digest = hashlib.sha256(f"pkgres-patcher {__version__} cache {_FORMAT}\0".encode())
    try:
        for label, paths in (("code", _code_files()), ("patches", _patch_files(root))):
            for path in paths:
                with open(path, "rb") as f:
                    data = f.read()
                name = os.path.relpath(path, root) if label == "patches" else os.path.basename(path)
                digest.update(f"{label}\0{name}\0{len(data)}\0".encode("utf-8", "surrogateescape"))
                digest.update(data)
    except OSError:
        return None
    return digest.hexdigest()


class StateCache:
    """States by copy bytes for one patch set and planner: one JSON file, written whole and atomically."""

    def __init__(self, path: Optional[str]) -> None:
        self.path = path
        loaded = _load(path) if path else None
        #: whether a run with this very patch set and planner wrote the file (so parsed it)
        self.known = loaded is not None
        self._values: dict[str, Any] = loaded or {}
        self._new: dict[str, Any] = {}

    def get(self, key: str) -> Optional[dict[str, Any]]:
        """The remembered ``{"state": ..., "patches": [...]}`` for ``key``, if any (and sound)."""
        value = self._new.get(key, self._values.get(key))
        if isinstance(value, dict) and isinstance(value.get("state"), str) and isinstance(value.get("patches"), list):
            return value
        return None

    def put(self, key: str, value: dict[str, Any]) -> None:
        if self._values.get(key) != value:
            self._new[key] = value

    def save(self) -> None:
        """Add what was learnt to the file, under its lock: concurrent runs add up."""
        if not self.path or not self._new:
            return
        from patcher._fs import copy_lock, write_text  # only now: writers import much

        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with copy_lock(self.path):
                merged = {**(_load(self.path) or {}), **self._new}
                # key order kept, so that an answer from the cache prints as the first one did
                write_text(self.path, json.dumps({"format": _FORMAT, "states": merged}))
        except (OSError, PatcherError):
            return  # a read-only or full cache directory: the next run plans again
        self._values, self._new = merged, {}
        _prune(os.path.dirname(self.path), keep=self.path)


def _load(path: str) -> Optional[dict[str, Any]]:
    """The states in a cache file; None when there is none (or none worth believing)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("states"), dict):
        return None
    states: dict[str, Any] = data["states"]
    return states


def _prune(directory: str, keep: str) -> None:
    """Drop the oldest cache files of other patch sets beyond :data:`_KEEP`."""
    try:
        names = [os.path.join(directory, n) for n in os.listdir(directory) if n.endswith(".json")]
        names.sort(key=lambda p: os.stat(p).st_mtime, reverse=True)
        for path in names[_KEEP:]:
            if path != keep:
                os.unlink(path)
    except OSError:
        pass


def open_cache(patches: Optional[str], enabled: bool = True) -> StateCache:
    """The cache for the patch set in ``patches`` (the shipped one when None).

    A disabled or unusable cache is an empty one that saves nothing.
    """
    if not enabled:
        return StateCache(None)
    try:
        root = os.path.abspath(patches) if patches else default_patches_dir()
    except PatcherError:
        return StateCache(None)  # reported when the patch set is loaded
    digest = patchset_digest(root)
    if digest is None:
        return StateCache(None)
    return StateCache(os.path.join(user_cache_dir(), "states", f"{digest}.json"))
