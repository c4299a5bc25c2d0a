"""Writes to users' files: atomic replacement, whole-archive rewrites, RECORD upkeep, locks.

Every write goes to a temporary file in the target's directory and is moved over the target
with ``os.replace``; the target's mode (and, where permitted, owner) is kept; on failure the
temporary file is removed and the target is untouched. A ``SIGKILL`` can still leave a
temporary file: its name is recognisable (``.<name>.pkgres-patcher-*.tmp``) and the next run
removes it (:func:`remove_stale_temps`).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import fcntl
import glob
import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from typing import BinaryIO, Optional

from patcher._paths import lock_dir
from patcher.errors import ArchiveError, WriteError, reason

__all__ = [
    "TEMP_MARK",
    "atomic_write",
    "copy_lock",
    "record_hash",
    "remove_stale_pyc",
    "remove_stale_temps",
    "rewrite_archive",
    "update_record",
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


def atomic_write(path: str, write: Callable[[BinaryIO], object]) -> None:
    """Replace ``path`` with what ``write`` produces, all or nothing, keeping mode and owner.

    The caller holds ``path``'s lock, so any temporary file of ours next to it is a leftover of
    a killed run and goes first.
    """
    remove_stale_temps(path)
    try:
        st = os.stat(path)
        if not st.st_mode & 0o222 or not os.access(path, os.W_OK):
            raise WriteError(f"{path}: file is read-only")
        fd, tmp = _temp_in(path)
    except OSError as exc:
        raise WriteError(f"{path}: {reason(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            _keep_metadata(st, f.fileno())
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise WriteError(f"{path}: {reason(exc)}") from None
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
    data = text.encode("utf-8")
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


def remove_stale_temps(path: str) -> None:
    """Remove temporary files a killed run left next to ``path``."""
    directory, name = os.path.split(path)
    for stale in glob.glob(os.path.join(glob.escape(directory), f".{glob.escape(name)}{TEMP_MARK}*.tmp")):
        with contextlib.suppress(OSError):
            os.unlink(stale)


def remove_stale_pyc(path: str) -> None:
    """Drop byte-code compiled from the old source (``__pycache__`` entries, Python 2 ``.pyc``)."""
    directory, name = os.path.split(path)
    stem = name[:-3] if name.endswith(".py") else name
    candidates = glob.glob(os.path.join(glob.escape(directory), "__pycache__", f"{glob.escape(stem)}.*.pyc"))
    candidates += [os.path.join(directory, stem + ext) for ext in (".pyc", ".pyo")]
    for pyc in candidates:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(pyc)


def _is_stale_member(name: str, member: str) -> bool:
    """Is ``name`` byte-code compiled from ``member`` inside an archive?"""
    directory, _, base = member.rpartition("/")
    stem = base[:-3] if base.endswith(".py") else base
    prefix = f"{directory}/" if directory else ""
    if name in (f"{prefix}{stem}.pyc", f"{prefix}{stem}.pyo"):
        return True
    cache = f"{prefix}__pycache__/{stem}."
    return name.startswith(cache) and name.endswith((".pyc", ".pyo"))


def record_hash(data: bytes) -> str:
    """The ``sha256=...`` form a RECORD uses (urlsafe base64, no padding)."""
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _rewrite_record_text(text: str, entry: str, data: bytes) -> Optional[str]:
    """RECORD text with ``entry``'s hash and size set for ``data``; None when nothing changes."""
    rows = list(csv.reader(io.StringIO(text)))
    changed = False
    for row in rows:
        if row and row[0] == entry and len(row) >= 3:
            new = [row[0], record_hash(data), str(len(data))]
            if row[1] and row[:3] != new:
                row[1:3] = new[1:]
                changed = True
    if not changed:
        return None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n" if "\r\n" in text else "\n")
    writer.writerows(rows)
    return out.getvalue()


def update_record(record: str, entry: str, data: bytes) -> None:
    """Keep a dist-info ``RECORD`` true to the file now on disk (hash and size)."""
    if not record.endswith("RECORD"):
        return  # egg-info installed-files.txt carries no hashes
    try:
        with open(record, encoding="utf-8", newline="") as f:
            text = f.read()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise WriteError(f"{record}: {reason(exc)}") from None
    new = _rewrite_record_text(text, entry, data)
    if new is not None:
        payload = new.encode("utf-8")
        atomic_write(record, lambda f: f.write(payload))


def rewrite_archive(path: str, member: str, data: bytes, record: Optional[str]) -> None:
    """Rewrite a zipped egg or wheel whole with ``member`` replaced.

    Every member keeps its name, order and timestamp, and every other member its content;
    byte-code compiled from the old ``member`` is dropped; a wheel's ``RECORD`` gets the new
    hash and size.
    """
    try:
        source = zipfile.ZipFile(path)
    except FileNotFoundError as exc:
        raise WriteError(f"{path}: {reason(exc)}") from None
    except (OSError, zipfile.BadZipFile) as exc:
        raise ArchiveError(path, f"not a valid zip archive ({exc})") from None

    def write(f: BinaryIO) -> None:
        with zipfile.ZipFile(f, "w") as out:
            out.comment = source.comment
            for info in source.infolist():
                if _is_stale_member(info.filename, member):
                    continue
                if info.filename == member:
                    # same timestamp: its byte-code members are dropped, and revert is exact
                    out.writestr(_copy_info(info), data)
                elif record is not None and info.filename == record:
                    text = source.read(info).decode("utf-8")
                    new_text = _rewrite_record_text(text, member, data)
                    out.writestr(_copy_info(info), (new_text if new_text is not None else text).encode("utf-8"))
                else:
                    with source.open(info) as src, out.open(_copy_info(info), "w") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)

    with source:
        try:
            atomic_write(path, write)
        except (zipfile.BadZipFile, EOFError, ValueError, zipfile.LargeZipFile, UnicodeDecodeError) as exc:
            raise ArchiveError(path, f"cannot be rewritten ({exc})") from None


def _copy_info(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    new = zipfile.ZipInfo(info.filename, info.date_time)
    for attr in ("compress_type", "comment", "extra", "create_system", "create_version",
                 "extract_version", "external_attr", "internal_attr", "flag_bits"):
        setattr(new, attr, getattr(info, attr))
    new.flag_bits &= ~0x08  # sizes are known now: no data descriptor
    return new


# --- locks ---------------------------------------------------------------------------------------


def lock_path(target: str) -> str:
    """The lock file for ``target``, keyed by its real path, so every alias of it shares one lock."""
    key = hashlib.sha256(os.fsencode(os.path.realpath(target))).hexdigest()
    return os.path.join(lock_dir(), f"{key}.lock")


@contextlib.contextmanager
def copy_lock(target: str) -> Iterator[None]:
    """An exclusive ``flock(2)`` on the lock file of ``target`` (interoperates with ``flock(1)``)."""
    path = lock_path(target)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise WriteError(f"{path}: cannot create lock ({reason(exc)})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock

