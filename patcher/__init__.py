"""Make every copy of pkg_resources survive distributions vanishing under it.

The library (see :mod:`patcher.api`)::

    import patcher

    report = patcher.inspect(["/prefix"])       # every copy, its state, each patch's fit
    report = patcher.apply(["/prefix"])         # patch them (patcher.revert undoes it)
    found = patcher.locate(["/prefix"])         # only find them
    drift = patcher.drift(["setuptools>=80"])   # how the patch set fits upstream releases
    proof = patcher.verify(["/prefix"])         # run each copy while distributions vanish

``export``, ``upstream`` and ``refresh`` hand the fix on. ``lock`` and ``pip`` are the command
line's only: they run a child holding a lock for its whole life, passing signals on; a program
takes the same lock with :mod:`patcher.envlock.rwlock`.

Functions return results (:class:`~patcher.model.Report`, ...) and raise
:class:`~patcher.errors.PatcherError`; nothing here prints. The names are imported when first
used, so that ``import patcher`` (and the command line) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Copy",
    "CopyResult",
    "PatcherError",
    "Report",
    "State",
    "__version__",
    "apply",
    "drift",
    "export",
    "inspect",
    "locate",
    "refresh",
    "revert",
    "upstream",
    "verify",
]

_LAZY = {
    "apply": "patcher.api",
    "drift": "patcher.api",
    "export": "patcher.api",
    "refresh": "patcher.api",
    "upstream": "patcher.api",
    "inspect": "patcher.api",
    "locate": "patcher.api",
    "revert": "patcher.api",
    "verify": "patcher.api",
    "Copy": "patcher.model",
    "CopyResult": "patcher.model",
    "Report": "patcher.model",
    "State": "patcher.model",
    "PatcherError": "patcher.errors",
}

if TYPE_CHECKING:
    from patcher.api import apply, drift, export, inspect, locate, refresh, revert, upstream, verify
    from patcher.errors import PatcherError
    from patcher.model import Copy, CopyResult, Report, State


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'patcher' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
