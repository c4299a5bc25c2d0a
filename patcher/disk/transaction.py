"""Writing a copy's byte-code anew with its source: loose files beside it, members of its archive.

Each byte-code file the copy had is replaced by one compiled from the new source by an
interpreter of its tag (:mod:`patcher.bytecode.compiler`), of the same kind (:mod:`patcher.bytecode.files`);
one for which no interpreter is here is removed, with a warning. Loose files are written
before the source, each atomically, so that no moment and no crash leaves byte-code that runs
the old code beside the new source: a timestamp or checked-hash file written first is stale
until the source (given the mtime the file names) follows, and an unchecked-hash one already
runs the new code. When the source cannot be written they are put back as they were.

``apply`` keeps each file it replaces in ``originals`` of the cache directory (with the
source's mtime, which a timestamp file names); ``revert`` puts it back, and the source's mtime:
the tree comes back byte for byte.
"""

from __future__ import annotations

import contextlib
import os
import struct
import time
import zipfile
import zlib
from collections.abc import Callable
from typing import NamedTuple

from patcher.bytecode.compiler import ByteCodeInterpreter, Compiler, Job
from patcher.bytecode.files import ByteCode, Invalidation, header, loose_byte_code, member_byte_code
from patcher.disk.archive import ByteCodeChanges, keep_original, kept_original
from patcher.disk.atomic import check_writable, replace_file
from patcher.errors import WriteError, reason
from patcher.model import Copy

__all__ = ["ByteCodeFile", "archive_changes", "byte_code_files", "found_byte_code", "request", "write_with_byte_code"]

#: kept originals of loose byte-code: ``<prefix><source mtime_ns>\n<original bytes>``
_KEPT_PREFIX = b"pkgres-patcher byte-code original, source mtime_ns "
_KEPT_SUFFIX = ".pyc"


class ByteCodeFile(NamedTuple):
    """A byte-code file of a copy and the path its code objects name (the source it is of)."""

    found: ByteCode
    filename: str


def byte_code_files(copy: Copy) -> list[ByteCodeFile]:
    """The byte-code compiled from a loose copy (and, for a view, beside the link), as found now."""
    found = [ByteCodeFile(bc, copy.file) for bc in loose_byte_code(copy.file)]
    if copy.via is not None and os.path.realpath(os.path.dirname(copy.via)) != os.path.dirname(copy.file):
        found += [ByteCodeFile(bc, copy.via) for bc in loose_byte_code(copy.via)]  # a view's own __pycache__
    return found


def _archive_files(copy: Copy, zf: zipfile.ZipFile) -> list[ByteCodeFile]:
    assert copy.member is not None
    filename = os.path.join(copy.file, copy.member)
    return [
        ByteCodeFile(ByteCode(name, tag, optimize, zf.read(name)), filename)
        for name, tag, optimize in member_byte_code(zf.namelist(), copy.member)
    ]


def found_byte_code(copy: Copy) -> list[ByteCodeFile]:
    """The byte-code compiled from a copy, loose or in its archive, as found now (an archive
    that cannot be read has none here: that is said when the copy is written)."""
    if copy.member is None:
        return byte_code_files(copy)
    try:
        with zipfile.ZipFile(copy.file) as zf:
            return _archive_files(copy, zf)
    except (OSError, zipfile.BadZipFile, KeyError, EOFError, ValueError, zlib.error):
        return []


def request(copy: Copy, files: list[ByteCodeFile], data: bytes, compiler: Compiler, *, revert: bool = False) -> None:
    """Ask ``compiler`` for every compile that writing ``data`` into ``copy`` will need (batched):
    on ``revert``, none for a file whose kept original is put back (:func:`_kept_fits`)."""
    for file in files:
        if revert:
            original = _recall(file.found)
            if original is not None and _kept_fits(copy, data, file, compiler, original):
                continue
        interpreter = compiler.interpreter(copy, file.found)
        if interpreter is not None:
            compiler.request(interpreter, Job(data, file.filename, file.found.optimize))


class _Fresh(NamedTuple):
    """What becomes of one byte-code file: its new bytes (None: removed, ``warning`` says why),
    and the version of the interpreter that compiled them."""

    file: ByteCodeFile
    data: bytes | None
    warning: str | None = None
    version: tuple[int, int] | None = None


class _Compiled(NamedTuple):
    interpreter: ByteCodeInterpreter
    code: bytes
    source_hash: bytes | None


def _compile(copy: Copy, data: bytes, file: ByteCodeFile, compiler: Compiler) -> _Compiled | str:
    """The new code for one file, or why there is none."""
    found = file.found
    interpreter = compiler.interpreter(copy, found)
    if interpreter is None:
        version = found.version
        where = f"python{version} on PATH or in pyenv, or " if version else ""
        return f"no Python for byte-code {found.label} found ({where}pass --python)"
    compiled = compiler.compile(interpreter, Job(data, file.filename, found.optimize))
    if compiled.code is None:
        return f"Python {'.'.join(map(str, interpreter.version))} ({interpreter.python}) cannot compile it: {compiled.error}"
    return _Compiled(interpreter, compiled.code, compiled.source_hash)


def _fresh(copy: Copy, data: bytes, file: ByteCodeFile, compiler: Compiler, mtime: int) -> _Fresh:
    made = _compile(copy, data, file, compiler)
    if isinstance(made, str):
        return _Fresh(file, None, f"{file.found.path}: {made}: removed")
    version = made.interpreter.version
    mode = file.found.invalidation(version)
    head = header(version, made.interpreter.magic, mode, mtime=mtime, size=len(data), source_hash=made.source_hash)
    return _Fresh(file, head + made.code, version=version)


# loose files


class _Original(NamedTuple):
    mtime_ns: int
    data: bytes


def _recall(found: ByteCode) -> _Original | None:
    """The file ``apply`` replaced with ``found``, as kept."""
    kept = kept_original(found.data, _KEPT_SUFFIX)
    if kept is None or not kept.startswith(_KEPT_PREFIX):
        return None
    stamp, _, data = kept[len(_KEPT_PREFIX) :].partition(b"\n")
    try:
        return _Original(int(stamp), data)
    except ValueError:
        return None


def _fits(original: _Original, data: bytes, fresh: _Fresh) -> bool:
    """Whether a kept original is byte-code of ``data``, as far as its header tells (the
    source's size, or its hash, as compiled anew). Where nothing tells (no interpreter here,
    Python < 3.3), that it was kept for the very file found says it."""
    old, new, version = original.data, fresh.data, fresh.version
    if new is None or version is None or version < (3, 3):
        return True
    if old[:4] != new[:4] or len(old) < 16:
        return False  # another interpreter's: compiled anew
    if version < (3, 7):
        return old[8:12] == new[8:12]
    if old[4:8] != new[4:8]:
        return False
    if struct.unpack("<I", new[4:8])[0] & 0b01:
        return old[8:16] == new[8:16]  # hash-based
    return old[12:16] == new[12:16]


def write_with_byte_code(
    copy: Copy, data: bytes, compiler: Compiler, *, revert: bool, write_source: Callable[[int], None]
) -> tuple[str, ...]:
    """Write a loose copy's byte-code for ``data``, then the source (``write_source``, given the
    mtime the byte-code names); returns warnings. The caller holds the copy's lock."""
    files = byte_code_files(copy)
    if not files:
        write_source(time.time_ns())
        return ()
    check_writable(os.path.realpath(copy.file))  # before any byte-code changes
    originals = {f.found.path: _recall(f.found) for f in files} if revert else {}
    recalled = [o for o in originals.values() if o is not None]
    mtime_ns = recalled[0].mtime_ns if recalled else time.time_ns()
    mtime = mtime_ns // 1_000_000_000
    if revert:
        fresh = [_reverted(copy, data, f, compiler, mtime, originals.get(f.found.path)) for f in files]
    else:
        fresh = [_fresh(copy, data, f, compiler, mtime) for f in files]
    old_mtime = os.stat(copy.file).st_mtime_ns
    warnings = [f.warning for f in fresh if f.warning]
    done: list[tuple[ByteCode, os.stat_result]] = []
    try:
        for item in fresh:
            path = item.file.found.path
            try:
                done.append((item.file.found, os.stat(path)))
            except FileNotFoundError:
                continue  # removed meanwhile (an interpreter writes byte-code atomically too)
            if item.data is None:
                os.unlink(path)
                continue
            if not revert:  # kept first: a run killed after the write still leaves it for revert
                kept = _KEPT_PREFIX + b"%d\n" % old_mtime + item.file.found.data
                problem = keep_original(item.data, kept, _KEPT_SUFFIX)
                if problem is not None:
                    warnings.append(f"{path}: could not be kept as it was ({problem}): a revert will compile it anew")
            replace_file(path, item.data)
        write_source(mtime_ns)
    except BaseException as exc:
        if not _holds(copy.file, data):
            _put_back(done)
        if isinstance(exc, OSError):
            raise WriteError(copy.file, reason(exc)) from None
        raise
    return tuple(warnings)


def _holds(path: str, data: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read() == data
    except OSError:
        return False


def _reverted(
    copy: Copy, data: bytes, file: ByteCodeFile, compiler: Compiler, mtime: int, original: _Original | None
) -> _Fresh:
    """What a byte-code file becomes on revert: its kept original when that fits the reverted
    source (told from headers when they can tell, without compiling), else compiled anew."""
    if original is not None and _kept_fits(copy, data, file, compiler, original):
        return _Fresh(file, original.data)
    fresh = _fresh(copy, data, file, compiler, mtime)
    if original is None or not _fits(original, data, fresh):
        return fresh
    return _Fresh(fresh.file, original.data)


def _kept_fits(copy: Copy, data: bytes, file: ByteCodeFile, compiler: Compiler, original: _Original) -> bool:
    """Whether a kept original fits ``data`` as :func:`_fits` would judge the file compiled
    anew, told without compiling: :func:`_fits` reads only the header, and the header depends
    on the interpreter (its version and magic), the file's invalidation mode and the source's
    size -- or its hash, which only an interpreter of this one's magic number computes here.
    False when only compiling tells (then it is compiled, and :func:`_fits` judges)."""
    interpreter = compiler.interpreter(copy, file.found)
    if interpreter is None:
        return True  # nothing here compiles it: :func:`_fresh` would remove it, and :func:`_fits` keeps it
    version = interpreter.version
    mode = file.found.invalidation(version)
    source_hash = None
    if version >= (3, 7) and mode is not Invalidation.TIMESTAMP:
        source_hash = _source_hash(interpreter, data)
        if source_hash is None:
            return False
    head = header(version, interpreter.magic, mode, mtime=0, size=len(data), source_hash=source_hash)
    return _fits(original, data, _Fresh(file, head, version=version))


def _source_hash(interpreter: ByteCodeInterpreter, data: bytes) -> bytes | None:
    """``data``'s hash as ``interpreter`` computes it for hash-based byte-code (PEP 552: keyed
    by its magic number), when this interpreter has the same magic; else None."""
    import importlib.util

    if interpreter.magic != importlib.util.MAGIC_NUMBER:
        return None
    return importlib.util.source_hash(data)


def _put_back(done: list[tuple[ByteCode, os.stat_result]]) -> None:
    """Byte-code as it was before a source that could not be written (best effort)."""
    for found, st in reversed(done):
        with contextlib.suppress(WriteError, OSError):
            replace_file(found.path, found.data, st)


# archives


def archive_changes(copy: Copy, data: bytes, compiler: Compiler, warnings: list[str]) -> ByteCodeChanges:
    """What :func:`patcher.disk.archive.rewrite_member` does with the byte-code of ``copy``'s member:
    compiled anew (timestamped as zipimport reads the source member's date), or dropped."""

    def changes(zf: zipfile.ZipFile) -> tuple[dict[str, bytes], set[str]]:
        assert copy.member is not None
        mtime = int(time.mktime((*zf.getinfo(copy.member).date_time, 0, 0, -1)))
        compiled: dict[str, bytes] = {}
        drop: set[str] = set()
        for file in _archive_files(copy, zf):
            fresh = _fresh(copy, data, file, compiler, mtime)
            if fresh.data is None:
                drop.add(file.found.path)
                warnings.append(f"{copy.file}!{fresh.warning}")
            else:
                compiled[file.found.path] = fresh.data
        return compiled, drop

    return changes
