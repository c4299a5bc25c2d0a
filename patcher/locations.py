"""Where the tool's own files live: the shipped patch set, the user cache, lock files.

Only :mod:`os` (and what it already pulls in) is imported here: every command starts by asking.
The shipped patch set and the package's code are read as package resources
(:mod:`importlib.resources`), so that they are found inside a zip too (``pkgres-patcher.pyz``).

A build sandbox (pbuilder, conda-build, Nix) has no home (``HOME=/nonexistent``) or a cache that
cannot be written. Then a directory of this user's in the system's temporary directory is used
instead -- always the same one, so that every run of the user shares its locks -- and the
caller is told where (:attr:`Place.note`), to say so in one line.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

from patcher.errors import PatchSetError, WriteError

if TYPE_CHECKING:
    from contextvars import ContextVar

    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

__all__ = [
    "CACHE_DIR_ENV",
    "LOCK_DIR_ENV",
    "Place",
    "cache_place",
    "checkout_patches_dir",
    "default_patches_dir",
    "lock_place",
    "package_files",
    "patches_root",
    "private_temp_dir",
    "user_cache_dir",
    "using",
]

CACHE_DIR_ENV = "PKGRES_PATCHER_CACHE_DIR"
LOCK_DIR_ENV = "PKGRES_PATCHER_LOCK_DIR"


def package_files() -> Traversable:
    """The ``patcher`` package's own files: package resources, so that they are found in a zip
    too. A package in a directory is that directory (what :mod:`importlib.resources` would
    answer, without importing :mod:`zipfile` into every run)."""
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.isdir(here):
        import pathlib

        return pathlib.Path(here)
    import importlib.resources

    return importlib.resources.files("patcher")


def _candidates() -> list[Traversable]:
    """Where the shipped patch set may lie: inside the package (an install, the single file), or
    beside it in a checkout (a source tree, an editable install)."""
    import pathlib

    package = package_files()
    found = [package / "patches"]
    if isinstance(package, pathlib.Path):
        found.append(package.parent / "patches")
    return found


def patches_root(directory: str | None = None) -> Traversable:
    """The patch set in ``directory`` (``--patches``), else the one shipped with the package, or
    the checkout's ``patches/`` when run from one."""
    if directory:
        import pathlib

        return pathlib.Path(os.path.abspath(directory))
    candidates = _candidates()
    for candidate in candidates:
        if (candidate / "series").is_file():
            return candidate
    raise PatchSetError(str(candidates[0]), "no patch set found (missing series file)")


def default_patches_dir() -> str:
    """The patch set shipped with the package, or the checkout's ``patches/`` when run from one
    (inside a zip: its path as the import system names it, ``<archive>/patcher/patches``)."""
    return str(patches_root())


def checkout_patches_dir() -> str | None:
    """The checkout's ``patches/`` when the default patch set is one (a source checkout or an
    editable install); None when it is the copy installed inside the package."""
    try:
        found = patches_root()
    except PatchSetError:
        return None
    candidates = _candidates()
    return str(found) if len(candidates) > 1 and found == candidates[1] else None


def _xdg_cache_home() -> str:
    return os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")


def user_cache_dir() -> str:
    """``$PKGRES_PATCHER_CACHE_DIR``, else ``$XDG_CACHE_HOME/pkgres-patcher`` (``~/.cache``)."""
    return os.environ.get(CACHE_DIR_ENV) or os.path.join(_xdg_cache_home(), "pkgres-patcher")


#: the lock and cache directories named for this run (``--lock-dir``, ``--cache-dir``), if any;
#: made by the first :func:`using` (``locate`` never needs it, and starts without importing it)
_RUN: ContextVar[tuple[str | None, str | None]] | None = None


def _run_dirs() -> tuple[str | None, str | None]:
    return (None, None) if _RUN is None else _RUN.get()


@contextlib.contextmanager
def using(*, lock_dir: str | None = None, cache_dir: str | None = None) -> Iterator[None]:
    """Take this run's locks in ``lock_dir`` and keep its cache in ``cache_dir``: what
    :func:`lock_place` and :func:`cache_place` answer when not told otherwise, so that the code
    reading and writing copies need not carry the directories along."""
    global _RUN
    if _RUN is None:
        from contextvars import ContextVar

        _RUN = ContextVar("pkgres_patcher_dirs", default=(None, None))
    token = _RUN.set((lock_dir, cache_dir))
    try:
        yield
    finally:
        _RUN.reset(token)


class Place(NamedTuple):
    """A directory chosen for the tool's files; ``note`` says why it is not the usual one."""

    path: str
    note: str | None = None


def _missing_home(path: str) -> str | None:
    """Why ``path`` (a default below the home directory) must not be made: a home that does not
    exist is never created (``HOME=/nonexistent`` means there is none, even for root)."""
    home = os.path.expanduser("~")
    if path.startswith(os.path.join(home, "")) and not os.path.isdir(home):
        return f"home directory {home} does not exist"
    return None


def _make(path: str) -> str | None:
    """Make ``path`` (and its parents); None when it can be written to, else why not."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        return exc.strerror or str(exc)
    if not os.access(path, os.W_OK | os.X_OK):
        return "not writable"
    return None


def private_temp_dir() -> str:
    """``<temp dir>/pkgres-patcher-<uid>``: made 0700 when missing, and used only when it is a
    real directory of this user that nobody else can write to -- a name in a shared ``/tmp`` can
    be planted (a symlink, another user's directory). Raises :class:`OSError` otherwise."""
    import tempfile

    path = os.path.join(tempfile.gettempdir(), f"pkgres-patcher-{os.getuid()}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise OSError(0, "is a symbolic link, not a directory of ours", path)
    if not stat.S_ISDIR(st.st_mode):
        raise OSError(0, "is not a directory", path)
    if st.st_uid != os.getuid():
        raise OSError(0, f"belongs to another user (uid {st.st_uid})", path)
    if st.st_mode & 0o022:
        raise OSError(0, "can be written by other users", path)
    return path


def _fallback(usual: str, why: str, sub: str, what: str, option: str) -> Place:
    """``sub`` in the private temporary directory, with a note naming the usual place and why."""
    try:
        path = os.path.join(private_temp_dir(), sub)
        os.makedirs(path, 0o700, exist_ok=True)
    except OSError as exc:
        where = exc.filename or sub
        raise WriteError(
            f"no directory for {what}", f"{usual}: {why}; {where}: {exc.strerror or exc} (name one with {option})"
        ) from None
    return Place(path, f"cannot use {usual} ({why}); {what} in {path}")


def lock_place(configured: str | None = None) -> Place:
    """Where lock files live: never in the user's tree.

    ``configured`` (``--lock-dir``), else ``$PKGRES_PATCHER_LOCK_DIR``: must be usable (locks are
    shared only by runs that use the same directory). Else ``$XDG_RUNTIME_DIR/pkgres-patcher/locks``,
    else ``$XDG_CACHE_HOME/pkgres-patcher/locks`` (``~/.cache``), else the private temporary
    directory's ``locks``. Not under :func:`user_cache_dir`: locks must be shared by every run on
    the machine, whatever cache each run was given.
    """
    chosen = configured or _run_dirs()[0] or os.environ.get(LOCK_DIR_ENV)
    if chosen:
        why = _make(chosen)
        if why is not None:
            raise WriteError(chosen, f"cannot make the lock directory ({why})")
        return Place(chosen)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime) and _make(os.path.join(runtime, "pkgres-patcher", "locks")) is None:
        return Place(os.path.join(runtime, "pkgres-patcher", "locks"))
    usual = os.path.join(_xdg_cache_home(), "pkgres-patcher", "locks")
    why = _missing_home(usual) or _make(usual)
    if why is None:
        return Place(usual)
    return _fallback(usual, why, "locks", "locks", f"--lock-dir or ${LOCK_DIR_ENV}")


def cache_place(sub: str, configured: str | None = None) -> Place:
    """``sub`` (``states``, ``releases``) of the cache directory: ``configured`` (``--cache-dir``),
    else :func:`user_cache_dir`; when that cannot be written, the private temporary directory's
    ``cache/<sub>`` (a cache only saves work: another one changes no answer)."""
    usual = os.path.join(configured or _run_dirs()[1] or user_cache_dir(), sub)
    why = _missing_home(usual) or _make(usual)
    if why is None:
        return Place(usual)
    return _fallback(usual, why, os.path.join("cache", sub), sub, f"--cache-dir or ${CACHE_DIR_ENV}")
