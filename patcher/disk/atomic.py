"""Atomic writes to users' files: all or nothing, mode and owner kept, nothing left behind.

Every write goes to a temporary file in the target's directory and is moved over the target
with ``os.replace``; the target's mode (and, where permitted, owner) is kept; on failure the
temporary file is removed and the target is untouched. A ``SIGKILL`` can still leave a
temporary file: its name is recognisable (``.<name>.pkgres-patcher-*.tmp``) and the next write
under the target's lock removes it (:func:`remove_stale_temps`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import stat
import struct
import sys
import tempfile
from collections.abc import Callable, Iterable
from typing import BinaryIO, NamedTuple

from patcher.errors import WriteError, reason

__all__ = [
    "TEMP_MARK",
    "Original",
    "atomic_write",
    "check_replaceable",
    "check_writable",
    "edit_text",
    "keep_originals",
    "put_back",
    "remove_stale_temps",
    "replace_file",
    "write_bytes",
    "write_text",
]

TEMP_MARK = ".pkgres-patcher-"


def _keep_metadata(st: os.stat_result, fd: int) -> None:
    os.fchmod(fd, st.st_mode & 0o7777)
    with contextlib.suppress(PermissionError):
        if hasattr(os, "fchown"):
            os.fchown(fd, st.st_uid, st.st_gid)


def _temp_in(path: str) -> tuple[int, str]:
    directory, name = os.path.split(path)
    return tempfile.mkstemp(prefix=f".{name}{TEMP_MARK}", suffix=".tmp", dir=directory)


def check_writable(path: str) -> os.stat_result:
    """``path``'s status, when :func:`atomic_write` may replace it; else :class:`WriteError`."""
    try:
        st = os.stat(path)
        if not st.st_mode & 0o222 or not os.access(path, os.W_OK):
            raise WriteError(path, _flagged(path) or "file is read-only")
    except OSError as exc:
        raise WriteError(path, reason(exc)) from None
    return st


def check_replaceable(path: str, *, read_only: bool = False) -> None:
    """Raise :class:`WriteError` unless ``path`` can be replaced now: not immutable, writable
    (unless ``read_only``: byte-code is replaced as the import system replaces it), and a
    temporary file can be made beside it. Checked for every file of a copy before the first of
    them is written, so that a file that cannot be written leaves them all as they were."""
    flagged = _flagged(path)
    if flagged is not None:
        raise WriteError(path, flagged)
    if not read_only:
        check_writable(path)
    try:
        fd, tmp = _temp_in(path)
    except OSError as exc:
        raise WriteError(path, f"its directory cannot be written ({reason(exc)})") from None
    os.close(fd)
    os.unlink(tmp)


#: ``FS_IOC_GETFLAGS`` (``_IOR('f', 1, long)``) and the flags that forbid replacing a file (Linux)
_FS_IOC_GETFLAGS = 0x80006601 | (struct.calcsize("l") << 16)
_LINUX_FLAGS = ((0x00000010, "file is immutable (chattr +i)"), (0x00000020, "file is append-only (chattr +a)"))
_BSD_FLAGS = (
    ("UF_IMMUTABLE", "file is immutable (chflags uchg)"),
    ("SF_IMMUTABLE", "file is immutable (chflags schg)"),
    ("UF_APPEND", "file is append-only (chflags uappnd)"),
    ("SF_APPEND", "file is append-only (chflags sappnd)"),
)


def _flagged(path: str) -> str | None:
    """Why no one, not even root, may replace ``path`` (immutable, append-only), if so."""
    try:
        flags = getattr(os.stat(path), "st_flags", 0)  # the BSDs, macOS
        for name, said in _BSD_FLAGS:
            if flags & getattr(stat, name, 0):
                return said
        return _linux_flagged(path) if sys.platform.startswith("linux") else None
    except OSError:
        return None  # no flags here (or not readable): the write itself says what is wrong


def _linux_flagged(path: str) -> str | None:
    import fcntl

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        (flags,) = struct.unpack_from("i", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, bytes(8)))
    finally:
        os.close(fd)
    return next((said for flag, said in _LINUX_FLAGS if flags & flag), None)


def atomic_write(path: str, write: Callable[[BinaryIO], object], *, mtime_ns: int | None = None) -> None:
    """Replace ``path`` with what ``write`` produces, all or nothing, keeping mode and owner
    (and giving it the modification time ``mtime_ns``, when set: byte-code written before it
    names that time).

    The caller holds ``path``'s lock, so any temporary file of ours next to it is a leftover of
    a killed run and goes first. A symlink is written through: the file it points to gets the
    new bytes, the link stays a link.
    """
    path = os.path.realpath(path)
    remove_stale_temps(path)
    st = check_writable(path)
    _replace(path, st, write, mtime_ns)


def replace_file(path: str, data: bytes, st: os.stat_result | None = None) -> None:
    """Replace a file the tool regenerates (byte-code) with ``data``, atomically, keeping mode
    and owner (those of ``st``, for a file that is gone); a read-only file is replaced too, as
    the import system replaces byte-code."""
    remove_stale_temps(path)
    try:
        st = st or os.stat(path)
    except OSError as exc:
        raise WriteError(path, reason(exc)) from None
    _replace(path, st, lambda f: f.write(data), None)


def _replace(path: str, st: os.stat_result, write: Callable[[BinaryIO], object], mtime_ns: int | None) -> None:
    try:
        fd, tmp = _temp_in(path)
    except OSError as exc:
        raise WriteError(path, reason(exc)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            _keep_metadata(st, f.fileno())
            write(f)
            f.flush()
            if mtime_ns is not None:
                os.utime(f.fileno(), ns=(mtime_ns, mtime_ns))
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise WriteError(path, reason(exc)) from None
        raise
    _fsync_dir(os.path.dirname(path))


def _fsync_dir(directory: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory or ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_text(path: str, text: str, *, exclusive: bool = False) -> None:
    """Write a report or a patch file atomically; an existing file keeps its mode.

    With ``exclusive`` an existing ``path`` is never replaced (``FileExistsError``).
    """
    write_bytes(path, text.encode("utf-8"), exclusive=exclusive)


def write_bytes(path: str, data: bytes, *, exclusive: bool = False) -> None:
    """:func:`write_text` of bytes."""
    if not exclusive and os.path.exists(path):
        atomic_write(path, lambda f: f.write(data))
        return
    fd, tmp = _temp_in(os.path.abspath(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        if exclusive:
            os.link(tmp, path)  # fails if path exists: never writes over it
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def edit_text(path: str, edit: Callable[[str], str | None]) -> None:
    """Rewrite a UTF-8 text file (an installer's record) atomically with what ``edit`` makes of
    it; nothing when ``edit`` gives None or the file is gone (its package removed meanwhile)."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError) as exc:
        raise WriteError(path, reason(exc)) from None
    new = edit(text)
    if new is not None:
        payload = new.encode("utf-8")
        atomic_write(path, lambda f: f.write(payload))


def remove_stale_temps(path: str) -> None:
    """Remove temporary files a killed run left next to ``path``."""
    directory, name = os.path.split(path)
    for stale in glob.glob(os.path.join(glob.escape(directory), f".{glob.escape(name)}{TEMP_MARK}*.tmp")):
        with contextlib.suppress(OSError):
            os.unlink(stale)


class Original(NamedTuple):
    """A file as it was before a copy was written (``data`` None: there was none)."""

    path: str
    data: bytes | None
    st: os.stat_result | None


def keep_originals(paths: Iterable[str]) -> list[Original]:
    """The files ``paths`` as they are now, to :func:`put_back` should writing them fail midway."""
    kept = []
    for path in dict.fromkeys(paths):
        try:
            with open(path, "rb") as f:
                kept.append(Original(path, f.read(), os.fstat(f.fileno())))
        except FileNotFoundError:
            kept.append(Original(path, None, None))
        except OSError as exc:
            raise WriteError(path, reason(exc)) from None
    return kept


def put_back(originals: Iterable[Original]) -> list[str]:
    """Give every file that changed its original bytes, mode, owner and modification time back,
    each atomically (the last written first); returns what could not be put back."""
    problems = []
    for original in reversed(list(originals)):
        try:
            _put_back(original)
        except (OSError, WriteError) as exc:
            problems.append(str(exc) if isinstance(exc, WriteError) else f"{original.path}: {reason(exc)}")
    return problems


def _put_back(original: Original) -> None:
    path, data, st = original
    if data is None or st is None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    if _unchanged(original):
        return
    _replace(path, st, lambda f: f.write(data), st.st_mtime_ns)


def _unchanged(original: Original) -> bool:
    assert original.st is not None
    try:
        with open(original.path, "rb") as f:
            now = os.fstat(f.fileno())
            same = (now.st_mode, now.st_uid, now.st_gid) == (
                original.st.st_mode,
                original.st.st_uid,
                original.st.st_gid,
            )
            return same and now.st_mtime_ns == original.st.st_mtime_ns and f.read() == original.data
    except OSError:
        return False
