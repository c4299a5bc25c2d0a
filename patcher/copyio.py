"""Reading and writing one copy: its bytes (a file, or a member of an egg or wheel), its
installer's RECORD (and conda's record) and its lock, so that changing a copy reads: lock,
read, plan, write.

A copy is written at its real path: a symlink that led to it (a view) stays a link."""

from __future__ import annotations

import contextlib
import os
import zipfile
import zlib
from collections.abc import Iterator

from patcher import locks
from patcher.archive import rewrite_member
from patcher.atomic import atomic_write
from patcher.bytecode import remove_stale_pyc
from patcher.conda_meta import update_conda_meta
from patcher.errors import ScanError, reason
from patcher.model import Container, Copy
from patcher.record import update_record

__all__ = ["exists", "locked", "read", "sync_record", "write"]


def read(copy: Copy) -> bytes:
    """The copy's current bytes (from its archive when it lies in one)."""
    try:
        if copy.member is None:
            with open(copy.file, "rb") as f:
                return f.read()
        with zipfile.ZipFile(copy.file) as zf:
            return zf.read(copy.member)
    except (OSError, zipfile.BadZipFile, KeyError, EOFError, zlib.error) as exc:
        raise ScanError(copy.location, reason(exc)) from None


def exists(copy: Copy) -> bool:
    """Whether the copy's file is still there (a parallel build may have uninstalled it)."""
    return os.path.exists(copy.file)


@contextlib.contextmanager
def locked(copy: Copy) -> Iterator[None]:
    """Hold the copy's lock: decisions taken under it hold until it is released."""
    with locks.exclusive(copy.file):
        yield


def write(copy: Copy, data: bytes) -> str | None:
    """Replace the copy's bytes atomically; byte-code of the old source goes, and a wheel's
    own RECORD (inside the archive) follows. Checked by reading back. Returns why writing the
    old bytes back will not give the archive's exact bytes, when it will not."""
    problem = None
    if copy.member is None:
        atomic_write(copy.file, lambda f: f.write(data))
        remove_stale_pyc(copy.file)
        if copy.via is not None:
            remove_stale_pyc(copy.via)  # a view's own __pycache__, compiled from the link
    else:
        record = copy.record if copy.container is Container.WHEEL else None
        problem = rewrite_member(copy.file, copy.member, data, record)
    if read(copy) != data:
        raise ScanError(copy.location, "changed by someone else while being written")
    return problem


def sync_record(copy: Copy, data: bytes) -> None:
    """Make the owner's RECORD, a view's own RECORD and conda's record describe ``data`` (also
    finishes the work of a killed run)."""
    if copy.member is None and copy.container in (Container.DIRECTORY, Container.EGG_DIR):
        records = [(copy.record, copy.record_entry), *copy.view_records]
        for record, entry in records:
            if record and entry:
                with locks.exclusive(record):
                    update_record(record, entry, data)
    package = copy.package
    if package is not None and package.record and package.entry:
        whole = data if copy.member is None else _file_bytes(copy)  # conda lists the archive
        with locks.exclusive(package.record):
            update_conda_meta(package.record, package.entry, whole)


def _file_bytes(copy: Copy) -> bytes:
    try:
        with open(copy.file, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ScanError(copy.file, reason(exc)) from None
