"""Remember what the patch set makes of a copy's bytes, so that ``locate`` need not plan.

A copy's state (and which variant of each patch fits it, and where) depends on nothing but
its bytes, the patch set and the planner. Parsing the patch set and planning cost more than
walking a 100,000-file prefix, so answers come, in this order, from:

- the user's cache: what earlier runs planned, under the digest of the patch set and this
  package's code, in ``$PKGRES_PATCHER_CACHE_DIR/states``;
- the known states shipped with the patch set (``known-states.json``): every upstream
  release's source, pristine and patched, planned when the patch set was made, so that even a
  first run on a fresh machine plans only copies that were edited locally. It holds for the
  patch set it was made from (by digest), and the tests plan real releases afresh against it.

Everything wrong with either (absent, unreadable, corrupt, read-only, raced by another run)
only means planning again: neither is needed for a correct answer, and neither changes one.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Union

from patcher import __version__
from patcher.errors import PatcherError
from patcher.locations import cache_place, package_files, patches_root
from patcher.model import Action, Copy, PatchFit, State

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

    #: a patch set's directory: a path, or package resources (in a zip too)
    Root = Union[str, Traversable]

__all__ = [
    "KNOWN_STATES",
    "known_states_json",
    "load_known_states",
    "Planned",
    "StateCache",
    "decode",
    "encode",
    "open_cache",
    "patches_digest",
    "patchset_digest",
    "state_key",
]

#: a copy's state and each patch's fit
Planned = tuple[State, tuple[PatchFit, ...]]
#: the known states shipped in the patch set's directory
KNOWN_STATES = "known-states.json"

#: bump when the cached value changes shape
_FORMAT = 1
#: at most this many cache files (one per patch set and planner) are kept
_KEEP = 8


def _code_files() -> list[tuple[str, Traversable]]:
    """The package's modules (read as package resources: from a zip too), by relative name."""
    found: list[tuple[str, Traversable]] = []
    pending: list[tuple[str, Traversable]] = [("", package_files())]
    while pending:
        prefix, directory = pending.pop()
        for entry in directory.iterdir():
            if entry.is_dir():
                if entry.name not in ("__pycache__", "patches"):
                    pending.append((f"{prefix}{entry.name}/", entry))
            elif entry.name.endswith(".py"):
                found.append((f"{prefix}{entry.name}", entry))
    return sorted(found, key=lambda item: item[0])


def _as_root(root: Root) -> Traversable:
    return patches_root(root) if isinstance(root, str) else root


def _patch_files(root: Traversable) -> list[tuple[str, Traversable]]:
    found = [("series", root / "series")]
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            names = sorted(e.name for e in entry.iterdir() if e.name.endswith(".patch"))
            found.extend((f"{entry.name}/{name}", entry / name) for name in names)
    return found


def _digest(start: str, files: list[tuple[str, str, Traversable]]) -> str | None:
    digest = hashlib.sha256(start.encode())
    try:
        for label, name, source in files:
            data = source.read_bytes()
            digest.update(f"{label}\0{name}\0{len(data)}\0".encode("utf-8", "surrogateescape"))
            digest.update(data)
    except (OSError, KeyError):  # KeyError: a zip member missing, on Python < 3.10
        return None
    return digest.hexdigest()


def patches_digest(root: Root) -> str | None:
    """A digest of the patch set in ``root`` alone (series and variants), or None if unreadable."""
    try:
        files = [("patches", name, source) for name, source in _patch_files(_as_root(root))]
    except OSError:
        return None
    return _digest(f"pkgres-patcher patches {_FORMAT}\0", files)


def patchset_digest(root: Root, patches: str | None = None) -> str | None:
    """A digest of the patch set in ``root`` and of this package's code, or None if unreadable.

    The code is part of it so that a planner that changes (an upgrade, a checkout being
    worked on) never reads what an older one wrote. ``patches`` is :func:`patches_digest` of
    ``root`` when the caller has it already: the patch files are read once.
    """
    patches = patches or patches_digest(root)
    if patches is None:
        return None
    try:
        code = [("code", name, source) for name, source in _code_files()]
    except OSError:
        return None
    return _digest(f"pkgres-patcher {__version__} cache {_FORMAT}\0{patches}\0", code)


def state_key(copy: Copy) -> str:
    """What a copy's state depends on, besides the patch set: its bytes, and whether they are source."""
    return f"{copy.sha256}:{'source' if copy.is_source else 'bytecode'}"


def encode(planned: Planned) -> dict[str, Any]:
    """A state as the cache file (and ``locate --json``) writes it."""
    state, fits = planned
    return {"state": state.value, "patches": [_fit_json(fit) for fit in fits]}


def _fit_json(fit: PatchFit) -> dict[str, Any]:
    return {
        "patch": fit.patch,
        "variant": fit.variant,
        "action": fit.action.value,
        "offsets": list(fit.offsets),
        "fuzz": fit.fuzz,
        "detail": fit.detail,
    }


def decode(value: Any) -> Planned | None:
    """A state read back; None when it is not one (a corrupt or foreign file: plan again)."""
    try:
        fits = tuple(
            PatchFit(
                str(p["patch"]),
                Action(p["action"]),
                p["variant"],
                tuple(int(o) for o in p["offsets"]),
                int(p["fuzz"]),
                p["detail"],
            )
            for p in value["patches"]
        )
        return State(value["state"]), fits
    except (TypeError, KeyError, ValueError, AttributeError):
        return None


class StateCache:
    """States by copy bytes for one patch set and planner: the user's file (one JSON file,
    written whole and atomically), over the known states shipped with the patch set."""

    def __init__(self, path: str | None, known_states: Mapping[str, Any] | None = None) -> None:
        self.path = path
        loaded = _load(path) if path else None
        self._known_states = known_states or {}
        #: whether this very patch set was parsed without error before: by a run that wrote
        #: the user's file, or when its known states were made
        self.known = loaded is not None or known_states is not None
        self._values: dict[str, Any] = loaded or {}
        self._new: dict[str, Any] = {}

    def get(self, key: str) -> Planned | None:
        """The remembered state of ``key``, if any (and sound)."""
        value = self._new.get(key, self._values.get(key, self._known_states.get(key)))
        return None if value is None else decode(value)

    def put(self, key: str, planned: Planned) -> None:
        value = encode(planned)
        if self._values.get(key) != value:
            self._new[key] = value

    def save(self) -> None:
        """Add what was learnt to the file, under its lock: concurrent runs add up."""
        if not self.path or not self._new:
            return
        from patcher.disk.atomic import write_text  # only now: writers import much
        from patcher.disk.locks import exclusive

        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with exclusive(self.path):
                merged = {**(_load(self.path) or {}), **self._new}
                # key order kept, so that an answer from the cache prints as the first one did
                write_text(self.path, json.dumps({"format": _FORMAT, "states": merged}))
        except (OSError, PatcherError):
            return  # a read-only or full cache directory: the next run plans again
        self._values, self._new = merged, {}
        _prune(os.path.dirname(self.path), keep=self.path)


def _load(path: str | Traversable, patches: str | None = None) -> dict[str, Any] | None:
    """The states in a cache file (or the known states, made for the patch set of digest
    ``patches``); None when there is none, or none worth believing."""
    try:
        if isinstance(path, str):
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        else:
            data = json.loads(path.read_bytes())
    except (OSError, KeyError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("states"), dict):
        return None
    if patches is not None and data.get("patches") != patches:
        return None  # made for another patch set
    states: dict[str, Any] = data["states"]
    return states


def load_known_states(root: Root, digest: str | None = None) -> dict[str, Any] | None:
    """The known states shipped in the patch set ``root``, when they were made for it
    (``digest``: its :func:`patches_digest`, when the caller has it already)."""
    digest = digest or patches_digest(root)
    return None if digest is None else _load(_as_root(root) / KNOWN_STATES, digest)


def known_states_json(root: Root, states: Mapping[str, Planned]) -> str | None:
    """The text of ``known-states.json`` for the patch set ``root`` (``devtools/known_states.py``):
    one state a line, sorted, so that a change of the patch set reads as a diff."""
    digest = patches_digest(root)
    if digest is None:
        return None
    lines = [f"{json.dumps(key)}:{json.dumps(encode(states[key]), separators=(',', ':'))}" for key in sorted(states)]
    head = f'{{"format":{_FORMAT},"patches":{json.dumps(digest)},"states":{{'
    return head + "\n" + ",\n".join(lines) + "\n}}\n"


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


def open_cache(patches: str | None, enabled: bool = True, cache_dir: str | None = None) -> StateCache:
    """The cache for the patch set in ``patches`` (the shipped one when None), in ``states`` of
    ``cache_dir`` (see :func:`patcher.locations.cache_place`: a temporary directory of the user's
    when that cannot be written -- not worth a word, the cache only saves work).

    A disabled or unusable cache is an empty one that saves nothing.
    """
    if not enabled:
        return StateCache(None)
    try:
        root = patches_root(patches)
    except PatcherError:
        return StateCache(None)  # reported when the patch set is loaded
    patches_key = patches_digest(root)
    known = None if patches_key is None else load_known_states(root, patches_key)
    digest = patchset_digest(root, patches_key)
    if digest is None:
        return StateCache(None, known)
    try:
        directory = cache_place("states", cache_dir).path
    except PatcherError:
        return StateCache(None, known)
    return StateCache(os.path.join(directory, f"{digest}.json"), known)
