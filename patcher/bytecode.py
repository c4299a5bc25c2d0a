"""Byte-code compiled from a copy's old source: found and dropped when the source changes.

Python would notice a stale ``.pyc`` by its timestamp or hash, but not every loader checks
(unchecked-hash ``.pyc``, zipimport's legacy ``.pyc`` beside the source): stale byte-code
would run the old code, so it goes.
"""

from __future__ import annotations

import contextlib
import glob
import os

__all__ = ["is_stale_member", "remove_stale_pyc"]


def remove_stale_pyc(path: str) -> None:
    """Drop byte-code compiled from the old source (``__pycache__`` entries, Python 2 ``.pyc``)."""
    directory, name = os.path.split(path)
    stem = name[:-3] if name.endswith(".py") else name
    candidates = glob.glob(os.path.join(glob.escape(directory), "__pycache__", f"{glob.escape(stem)}.*.pyc"))
    candidates += [os.path.join(directory, stem + ext) for ext in (".pyc", ".pyo")]
    for pyc in candidates:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(pyc)


def is_stale_member(name: str, member: str) -> bool:
    """Is ``name`` byte-code compiled from ``member`` inside an archive?"""
    directory, _, base = member.rpartition("/")
    stem = base[:-3] if base.endswith(".py") else base
    prefix = f"{directory}/" if directory else ""
    if name in (f"{prefix}{stem}.pyc", f"{prefix}{stem}.pyo"):
        return True
    cache = f"{prefix}__pycache__/{stem}."
    return name.startswith(cache) and name.endswith((".pyc", ".pyo"))
