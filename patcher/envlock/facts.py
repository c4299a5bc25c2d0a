"""An interpreter's facts (``sys.prefix``, ``sys.path``), remembered so that ``pip`` need not ask.

Starting the interpreter to ask costs as much as a tenth of what ``pip list`` takes. Its answer
depends on the files that make it, and on the environment it runs in: the executable (and the
link to it), the ``pyvenv.cfg`` beside or above it, the directories on its ``sys.path`` and the
``.pth`` files in them, the ``PYTHON*`` variables and the home directory (the user's site). So
an answer is kept in ``interpreters`` of the cache directory, one file per interpreter path,
with the state of all of those: their modification times (with size, inode and ctime), and the
variables. It is used only while every one of them is as it was; else the interpreter is
asked again and the file written anew.

A cache that is missing, unreadable, corrupt, of another format or cannot be written only
means asking: it never changes an answer (and writing it never fails a run).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

__all__ = ["FORMAT", "RACY_NS", "cache_file", "recall", "remember", "snapshot"]

#: bump when the kept document changes shape
FORMAT = 1
#: a file changed this little before the interpreter was asked may change again within the
#: same tick of the file system's clock, unseen: an answer that depends on one is not kept
RACY_NS = 2_000_000_000
#: stamp of a path that does not exist
_ABSENT: list[int] = []


def _stamp(path: str, follow: bool = True) -> list[int]:
    """What changes when ``path`` is replaced or changed: mtime, size, inode, device, and ctime
    (which a copy that keeps the mtime, ``cp -p`` or ``tar``, changes all the same)."""
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except (OSError, ValueError):
        return _ABSENT
    return [st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev, st.st_ctime_ns]


def _variables() -> dict[str, str]:
    """The environment variables the answer depends on."""
    return {k: v for k, v in os.environ.items() if k.startswith("PYTHON") or k == "HOME"}


def _watched(python: str, path: Sequence[str]) -> list[tuple[str, bool]]:
    """The files whose state the answer depends on: ``(path, follow symlinks)``."""
    here = os.path.dirname(python)
    watched = [(python, False), (python, True), (os.path.realpath(python), True)]
    watched += [(os.path.join(here, "pyvenv.cfg"), True), (os.path.join(os.path.dirname(here), "pyvenv.cfg"), True)]
    for entry in path:
        if not entry or not os.path.isabs(entry):
            continue  # the working directory: listed when it is needed, never kept
        watched.append((entry, True))
        try:
            names = sorted(os.listdir(entry))
        except OSError:
            continue
        watched += [(os.path.join(entry, name), True) for name in names if name.endswith(".pth")]
    return watched


def _state(watched: list[tuple[str, bool]]) -> list[list[Any]]:
    return [[path, follow, _stamp(path, follow)] for path, follow in watched]


def cache_file(python: str, directory: str) -> str:
    """The file that keeps the facts of the interpreter at (absolute) ``python``."""
    import hashlib

    return os.path.join(directory, hashlib.sha256(os.fsencode(python)).hexdigest()[:32] + ".json")


def recall(python: str, directory: str) -> tuple[str, list[str]] | None:
    """``(prefix, sys.path)`` of the interpreter at (absolute) ``python`` as kept, when nothing
    it depends on changed since; None otherwise (and for any cache that cannot be read)."""
    try:
        with open(cache_file(python, directory), encoding="utf-8") as f:
            kept = json.load(f)
        if not isinstance(kept, dict) or kept.get("format") != FORMAT or kept.get("python") != python:
            return None
        if kept.get("variables") != _variables():
            return None
        watched = kept["watched"]
        if not isinstance(watched, list) or not watched:
            return None
        for path, follow, stamp in watched:
            if _stamp(str(path), bool(follow)) != stamp:
                return None
        prefix, path = kept["prefix"], kept["path"]
        if not isinstance(prefix, str) or not isinstance(path, list) or not all(isinstance(e, str) for e in path):
            return None
        return prefix, path
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remember(
    python: str, directory: str, prefix: str, path: Sequence[str], before: list[list[Any]], asked_ns: int
) -> None:
    """Keep ``python``'s answer, when what it depends on was the same before it was asked
    (``before``: :func:`snapshot` then, at ``asked_ns`` of :func:`time.time_ns`) as after, and
    none of it changed within :data:`RACY_NS` of the question: else it may be of either, and
    is not kept. Written atomically; a failure to write is ignored."""
    watched = _watched(python, path)
    state = _state(watched)
    # the files seen before the question are a subset (sys.path was not known): compare those
    after = {(p, f): s for p, f, s in state}
    if any(after.get((p, f), _stamp(p, f)) != s for p, f, s in before):
        return
    if any(stamp and stamp[0] >= asked_ns - RACY_NS for _, _, stamp in state):
        return
    document = {"format": FORMAT, "python": python, "prefix": prefix, "path": list(path)}
    document.update(variables=_variables(), watched=state)
    target = cache_file(python, directory)
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        os.makedirs(directory, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(document, f)
        os.replace(tmp, target)
    except (OSError, ValueError):
        try:
            os.unlink(tmp)
        except OSError:
            pass


def snapshot(python: str) -> list[list[Any]]:
    """The state of the interpreter's own files, taken before it is asked (see :func:`remember`)."""
    return _state(_watched(python, ()))
