"""Reading and writing one copy: its bytes (a file, or a member of an egg or wheel), its
installer's RECORD (and conda's record) and its lock, so that changing a copy reads: lock,
read, plan, write.

A copy is written at its real path: a symlink that led to it (a view) stays a link."""

from __future__ import annotations

import contextlib
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from patcher.bytecode.files import record_entry
from patcher.disk import locks, seeding
from patcher.disk.archive import rewrite_member
from patcher.disk.atomic import Original, atomic_write, check_replaceable, edit_text, keep_originals
from patcher.disk.conda_meta import rewrite_paths_data_entries
from patcher.disk.record import rewrite_record_entries
from patcher.errors import ScanError, reason
from patcher.model import Container, Copy

if TYPE_CHECKING:
    from patcher.bytecode.compiler import Compiler

__all__ = ["exists", "locked", "prepare_write", "read", "sync_bundle", "sync_record", "write"]


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
    """Hold the copy's lock: decisions taken under it hold until it is released (and, for a
    seeding wheel whose digest its tool checks, the lock of the module that holds the digests:
    two wheels of one tool are written one after the other)."""
    with locks.exclusive(copy.file):
        found = seeding.bundle(copy)
        if found is None:
            yield
            return
        with locks.exclusive(found.module.file):
            yield


def write(copy: Copy, data: bytes, compiler: Compiler, *, revert: bool = False) -> tuple[str, ...]:
    """Replace the copy's bytes atomically, with its byte-code compiled anew (removed where no
    interpreter for it is here), and a wheel's own RECORD (inside the archive) following.
    Checked by reading back. Returns warnings: byte-code removed, an archive whose exact bytes
    a revert will not give back."""
    from patcher.disk.transaction import archive_changes, write_with_byte_code

    if copy.member is None:

        def write_source(mtime_ns: int) -> None:
            atomic_write(copy.file, lambda f: f.write(data), mtime_ns=mtime_ns)

        warnings = list(write_with_byte_code(copy, data, compiler, revert=revert, write_source=write_source))
    else:
        warnings = []
        record = copy.record if copy.container is Container.WHEEL else None
        byte_code = archive_changes(copy, data, compiler, warnings)
        problem = rewrite_member(copy.file, copy.member, data, record, byte_code)
        if problem is not None:
            kept = f"{copy.file}: the archive as it was could not be kept ({problem}): a revert will give back"
            warnings.append(f"{kept} its members, not its exact bytes")
    if read(copy) != data:
        raise ScanError(copy.location, "changed by someone else while being written")
    return tuple(warnings)


def sync_record(copy: Copy, data: bytes) -> None:
    """Make the owner's RECORD, a view's own RECORD and conda's record describe ``data`` and
    the byte-code beside it (also finishes the work of a killed run)."""
    for book in _books(copy, data):
        with locks.exclusive(book.path):
            edit_text(book.path, book.rewrite)


def prepare_write(copy: Copy, data: bytes, *, changes: bool) -> list[Original]:
    """Check, before the first write, that every file writing ``data`` into the copy replaces
    can be replaced (else :class:`WriteError` names the first that cannot: nothing is written);
    returns them as they are, to put back should a write fail all the same."""
    files = _files_to_write(copy, data, changes=changes)
    for path, byte_code in files:
        check_replaceable(path, read_only=byte_code)
    return keep_originals(path for path, _ in files)


def _files_to_write(copy: Copy, data: bytes, *, changes: bool) -> list[tuple[str, bool]]:
    """The files writing ``data`` into the copy replaces, each with whether it is byte-code: with
    ``changes`` the byte-code, the source (or archive); the records that will then differ."""
    from patcher.disk.transaction import byte_code_files

    files = []
    if changes and copy.member is None:
        files += [(f.found.path, True) for f in byte_code_files(copy)]  # replaced as found, links too
    if changes:
        files.append((os.path.realpath(copy.file), False))
    archive = changes and copy.member is not None  # its new bytes are known only once written
    files += [(os.path.realpath(b.path), False) for b in _books(copy, data) if archive or b.differs()]
    found = seeding.bundle(copy) if archive else None
    if found is not None:  # the tool's table of digests, its byte-code and RECORD follow the wheel
        from patcher.disk.transaction import byte_code_files

        module = found.module
        files += [(f.found.path, True) for f in byte_code_files(module)]
        files.append((os.path.realpath(module.file), False))
        if module.record is not None:
            files.append((os.path.realpath(module.record), False))
    return files


def sync_bundle(copy: Copy, compiler: Compiler, *, revert: bool = False) -> tuple[str, ...]:
    """Make the table of digests of the tool whose seeding wheel ``copy`` lies in say the
    wheel's digest now (its byte-code compiled anew), and the tool's RECORD both files' hashes
    and sizes; the warnings. Nothing for any other copy. The caller holds :func:`locked`."""
    found = seeding.bundle(copy)
    if found is None:
        why = seeding.why_not(copy)  # named all the same: the tool refuses it until told otherwise
        return () if why is None else (f"{copy.file}: {why}: it will refuse this wheel",)
    module = found.module
    text = seeding.read_text(module.file)
    try:
        new = seeding.rewrite_digest(text, os.path.basename(copy.file), seeding.wheel_digest(copy.file))
    except ValueError as exc:
        raise ScanError(module.file, f"{seeding.TABLE} cannot be kept true: {exc}") from None
    warnings: tuple[str, ...] = ()
    data = text.encode("utf-8") if new is None else new.encode("utf-8")
    if new is not None:
        warnings = write(module, data, compiler, revert=revert)
    sync_record(module, data)
    if module.record is not None and found.wheel_entry is not None:
        wheel = _file_bytes(copy)
        book = _Book(module.record, {found.wheel_entry: wheel}, rewrite_record_entries)
        with locks.exclusive(book.path):
            edit_text(book.path, book.rewrite)
    return warnings


class _Book(NamedTuple):
    """A record that lists a copy's files: where it is, the entries to set, and how (RECORD, conda-meta)."""

    path: str
    entries: dict[str, bytes]
    rewrite_entries: Callable[[str, dict[str, bytes]], str | None]

    def rewrite(self, text: str) -> str | None:
        """``text`` with the entries set; None when nothing changes."""
        return self.rewrite_entries(text, self.entries)

    def differs(self) -> bool:
        """Whether the record now on disk says otherwise (and will be written)."""
        try:
            with open(self.path, encoding="utf-8", newline="") as f:
                return self.rewrite(f.read()) is not None
        except FileNotFoundError:
            return False
        except (OSError, UnicodeDecodeError):
            return True  # the write says what is wrong


def _books(copy: Copy, data: bytes) -> list[_Book]:
    """The records to keep true to ``data`` and the byte-code beside it, as found now."""
    byte_code = _byte_code(copy) if copy.member is None else {}
    books = []
    if copy.member is None and copy.container in (Container.DIRECTORY, Container.EGG_DIR):
        records = [(copy.record, copy.record_entry, copy.file)]
        records += [(record, entry, copy.via or copy.file) for record, entry in copy.view_records]
        for record, entry, source in records:
            if record and entry and record.endswith("RECORD"):  # installed-files.txt carries no hashes
                books.append(_Book(record, _entries(entry, source, data, byte_code), rewrite_record_entries))
    package = copy.package
    if package is not None and package.record and package.entry:
        whole = data if copy.member is None else _file_bytes(copy)  # conda lists the archive
        entries = _entries(package.entry, copy.file, whole, byte_code)
        books.append(_Book(package.record, entries, rewrite_paths_data_entries))
    return books


def _byte_code(copy: Copy) -> dict[str, list[tuple[str, bytes]]]:
    """The byte-code files beside a loose copy (and a view's link), by the source path they are
    of; a view whose directory is the real one (a linked directory) shares the real files."""
    from patcher.disk.transaction import byte_code_files

    found: dict[str, list[tuple[str, bytes]]] = {}
    for file in byte_code_files(copy):
        found.setdefault(file.filename, []).append((file.found.path, file.found.data))
    via = copy.via
    if via is not None and os.path.realpath(os.path.dirname(via)) == os.path.dirname(copy.file):
        found[via] = [
            (os.path.join(os.path.dirname(via), os.path.relpath(path, os.path.dirname(copy.file))), data)
            for path, data in found.get(copy.file, [])
        ]
    return found


def _entries(entry: str, source: str, data: bytes, byte_code: dict[str, list[tuple[str, bytes]]]) -> dict[str, bytes]:
    """A record's entries for a source (listed as ``entry``) and its byte-code, with their bytes."""
    entries = {entry: data}
    for path, pyc in byte_code.get(source, []):
        entries[record_entry(entry, source, path)] = pyc
    return entries


def _file_bytes(copy: Copy) -> bytes:
    try:
        with open(copy.file, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ScanError(copy.file, reason(exc)) from None
