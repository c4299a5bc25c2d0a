"""Where the tool's own files live: the shipped patch set, the user cache, lock files.

Only :mod:`os` is imported here: every command starts by asking.
"""

from __future__ import annotations

import os

from patcher.errors import PatchSetError

__all__ = ["CACHE_DIR_ENV", "LOCK_DIR_ENV", "default_patches_dir", "lock_dir", "user_cache_dir"]

CACHE_DIR_ENV = "PKGRES_PATCHER_CACHE_DIR"
LOCK_DIR_ENV = "PKGRES_PATCHER_LOCK_DIR"


def default_patches_dir() -> str:
    """The patch set shipped with the package, or the checkout's ``patches/`` when run from one."""
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(here, "patches"), os.path.join(os.path.dirname(here), "patches")):
        if os.path.isfile(os.path.join(candidate, "series")):
            return candidate
    raise PatchSetError(os.path.join(here, "patches"), "no patch set found (missing series file)")


def _xdg_cache_home() -> str:
    return os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")


def user_cache_dir() -> str:
    """``$PKGRES_PATCHER_CACHE_DIR``, else ``$XDG_CACHE_HOME/pkgres-patcher`` (``~/.cache``)."""
    return os.environ.get(CACHE_DIR_ENV) or os.path.join(_xdg_cache_home(), "pkgres-patcher")


def lock_dir() -> str:
    """Where lock files live: never in the user's tree (``$PKGRES_PATCHER_LOCK_DIR`` overrides).

    Not under :func:`user_cache_dir`: locks must be shared by every run on the machine, whatever
    cache each run was given.
    """
    configured = os.environ.get(LOCK_DIR_ENV)
    if configured:
        return configured
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return os.path.join(runtime, "pkgres-patcher", "locks")
    return os.path.join(_xdg_cache_home(), "pkgres-patcher", "locks")
