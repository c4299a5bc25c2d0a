"""Rewriting one member of a zip archive (a zipped egg, a wheel): the whole archive, atomically,
and back byte for byte on revert.

conda's ``paths_data``, ``debsums`` and ``rpm -V`` compare whole files, so apply + revert must
give back the archive's bytes, not only its members. Every member but the changed one is
copied as stored -- local header, extra fields, compressed bytes, data descriptor, order -- and
the central directory and end record keep their bytes but for offsets and counts; the changed
member keeps its header and is compressed anew. That alone gives the original back where the
archive was made with zlib (``zipfile``, ``bdist_wheel``, ``bdist_egg``). Where it cannot
(Info-ZIP's own deflate, byte-code members compiled anew or dropped), the archive as it was is
kept in the user cache (``originals/``, named by the SHA-256 of the rewritten archive): rewriting
an archive found exactly as it was left, back to the member it had, restores the kept bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from typing import NamedTuple

from patcher.disk.atomic import atomic_write
from patcher.disk.record import rewrite_record_text
from patcher.errors import ArchiveError, WriteError, reason
from patcher.locations import cache_place

__all__ = ["ByteCodeChanges", "keep_original", "kept_original", "originals_dir", "rewrite_member"]

#: given the archive as found, the byte-code members compiled from the changed member: their new
#: bytes, and the ones to drop
ByteCodeChanges = Callable[[zipfile.ZipFile], tuple[dict[str, bytes], set[str]]]

_LOCAL = b"PK\x03\x04"
_CENTRAL = b"PK\x01\x02"
_END = b"PK\x05\x06"
#: zip64 marks a size, offset or count that does not fit the classic record
_FULL32, _FULL16 = 0xFFFFFFFF, 0xFFFF
#: deflate's "compression option" bits 1-2 of the general purpose flags -> a zlib level
_LEVELS = {0: 6, 1: 9, 2: 2, 3: 1}


def originals_dir() -> str:
    """Where archives are kept as they were before a rewrite that cannot be undone exactly:
    ``originals`` of the cache directory (a home that does not exist is never made; see
    :func:`patcher.locations.cache_place`). Raises :class:`WriteError` when no directory can be had."""
    return cache_place("originals").path


def rewrite_member(
    path: str, member: str, data: bytes, record: str | None, byte_code: ByteCodeChanges | None = None
) -> str | None:
    """Rewrite a zipped egg or wheel whole with ``member`` replaced.

    Every other member keeps its bytes as stored, but the byte-code compiled from ``member``:
    ``byte_code`` says what becomes of it (without it, it is dropped); a wheel's ``RECORD`` gets
    the new hashes and sizes. The caller holds the archive's lock. Returns why rewriting it
    back will not give the same bytes, when it will not.
    """
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as exc:
        raise WriteError(path, reason(exc)) from None
    kept = _recall(blob, member, data)
    if kept is not None:  # the archive as it was left, going back: the bytes it had
        atomic_write(path, lambda f: f.write(kept))
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            old_data = zf.read(member)
            compiled, drop = byte_code(zf) if byte_code is not None else ({}, _byte_code_of(zf, member))
    except zipfile.BadZipFile as exc:
        raise ArchiveError(path, f"not a valid zip archive ({exc})") from None
    except (EOFError, ValueError, KeyError, zlib.error) as exc:
        raise ArchiveError(path, f"cannot be rewritten ({exc})") from None
    try:
        new = _rewritten(blob, {member: data, **compiled}, drop, record)
        # byte-code compiled anew is not what a revert compiles: then the archive as it was is kept
        exact = not compiled and not drop and _rewritten(new, {member: old_data}, set(), record) == blob
    except (zipfile.BadZipFile, EOFError, ValueError, KeyError, zipfile.LargeZipFile, zlib.error) as exc:
        raise ArchiveError(path, f"cannot be rewritten ({exc})") from None
    problem = None if exact else _remember(new, blob)
    atomic_write(path, lambda f: f.write(new))
    return problem


def _byte_code_of(zf: zipfile.ZipFile, member: str) -> set[str]:
    from patcher.bytecode.files import member_byte_code

    return {name for name, _tag, _opt in member_byte_code(zf.namelist(), member)}


def _member(blob: bytes, member: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        return zf.read(member)


def _rewritten(blob: bytes, changes: dict[str, bytes], drop: set[str], record: str | None) -> bytes:
    """The archive ``blob`` with members set as ``changes`` says and ``drop`` left out (and a
    wheel's RECORD following)."""
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        infos = zf.infolist()
        changes = dict(changes)
        if record is not None:
            text = zf.read(record).decode("utf-8")
            new_text = text
            for name, data in changes.items():
                new_text = rewrite_record_text(new_text, name, data) or new_text
            if new_text != text:
                changes[record] = new_text.encode("utf-8")
        layout = _layout(blob, infos)
        rebuilt = None if layout is None else _rebuild(blob, layout, changes, drop)
        if rebuilt is not None:
            return rebuilt
        return _recompressed(zf, changes, drop)


# the archive as stored


class _Entry(NamedTuple):
    """One member as stored: its central directory record and its local record (header, name,
    extra field, data, descriptor: everything up to the next member)."""

    name: str
    central: bytes
    local: bytes
    offset: int


class _Layout(NamedTuple):
    prefix: bytes
    entries: list[_Entry]  # central directory order
    end: bytes  # the end of central directory record, comment included


def _layout(blob: bytes, infos: list[zipfile.ZipInfo]) -> _Layout | None:
    """The archive's records as stored; None for what is rebuilt by :mod:`zipfile` instead
    (zip64, several disks, data after the end record, inconsistent offsets)."""
    at = blob.rfind(_END, max(0, len(blob) - (22 + _FULL16)))
    if at < 0:
        return None
    disk, cd_disk, on_disk, total, cd_size, cd_offset, comment = struct.unpack("<HHHHIIH", blob[at + 4 : at + 22])
    if disk or cd_disk or on_disk != total or total != len(infos) or at + 22 + comment != len(blob):
        return None
    if _FULL32 in (cd_size, cd_offset) or total == _FULL16 or cd_offset + cd_size != at:
        return None
    centrals = []
    p = cd_offset
    for info in infos:
        if blob[p : p + 4] != _CENTRAL:
            return None
        name_len, extra_len, comment_len = struct.unpack("<HHH", blob[p + 28 : p + 34])
        end = p + 46 + name_len + extra_len + comment_len
        csize, usize = struct.unpack("<II", blob[p + 20 : p + 28])
        (offset,) = struct.unpack("<I", blob[p + 42 : p + 46])
        if _FULL32 in (csize, usize, offset):
            return None
        centrals.append((info.filename, blob[p:end], offset))
        p = end
    if p != at:
        return None
    starts = sorted(offset for _, _, offset in centrals)
    if len(set(starts)) != len(starts):
        return None
    ends = dict(zip(starts, [*starts[1:], cd_offset]))
    entries = []
    for name, central, offset in centrals:
        local = blob[offset : ends[offset]]
        if not local.startswith(_LOCAL) or len(local) < 30:
            return None
        entries.append(_Entry(name, central, local, offset))
    return _Layout(blob[: starts[0]] if starts else blob[:cd_offset], entries, blob[at:])


def _rebuild(blob: bytes, layout: _Layout, changes: dict[str, bytes], drop: set[str]) -> bytes | None:
    """The archive with ``changes`` made and ``drop`` left out, every other record as stored;
    None when a changed member cannot be encoded here (encrypted, another compression)."""
    out = bytearray(layout.prefix)
    offsets: dict[int, int] = {}
    centrals: dict[int, bytes] = {}
    for index, entry in sorted(enumerate(layout.entries), key=lambda e: e[1].offset):
        if entry.name in drop:
            continue
        offsets[index] = len(out)
        if entry.name in changes:
            encoded = _encode(entry, changes[entry.name])
            if encoded is None:
                return None
            local, centrals[index] = encoded
            out += local
        else:
            out += entry.local
            centrals[index] = entry.central
    cd_offset = len(out)
    for index in sorted(offsets):
        central = bytearray(centrals[index])
        struct.pack_into("<I", central, 42, offsets[index])
        out += central
    cd_size = len(out) - cd_offset
    if len(out) >= _FULL32:
        return None
    end = bytearray(layout.end)
    struct.pack_into("<HHII", end, 8, len(offsets), len(offsets), cd_size, cd_offset)
    out += end
    return bytes(out)


def _encode(entry: _Entry, data: bytes) -> tuple[bytes, bytes] | None:
    """A member's new local record and central record: its header kept, its data compressed
    anew (as zlib would at the level its flags state), no data descriptor."""
    flags, method = struct.unpack("<HH", entry.local[6:10])
    name_len, extra_len = struct.unpack("<HH", entry.local[26:30])
    if flags & 0x1 or method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return None
    if method == zipfile.ZIP_DEFLATED:
        compressor = zlib.compressobj(_LEVELS[(flags >> 1) & 0x3], zlib.DEFLATED, -15)
        stored = compressor.compress(data) + compressor.flush()
    else:
        stored = data
    crc = zlib.crc32(data)
    if max(len(stored), len(data)) >= _FULL32:
        return None
    flags &= ~0x8  # sizes are known: no data descriptor
    header = bytearray(entry.local[: 30 + name_len + extra_len])
    struct.pack_into("<H", header, 6, flags)
    struct.pack_into("<III", header, 14, crc, len(stored), len(data))
    central = bytearray(entry.central)
    struct.pack_into("<H", central, 8, flags)
    struct.pack_into("<III", central, 16, crc, len(stored), len(data))
    return bytes(header) + stored, bytes(central)


def _recompressed(source: zipfile.ZipFile, changes: dict[str, bytes], drop: set[str]) -> bytes:
    """The archive written anew by :mod:`zipfile` (for what :func:`_layout` does not take):
    names, order, timestamps and every other member's content kept."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        out.comment = source.comment
        for info in source.infolist():
            if info.filename in drop:
                continue
            if info.filename in changes:
                out.writestr(_copy_info(info), changes[info.filename])
            else:
                with source.open(info) as src, out.open(_copy_info(info), "w") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    return buffer.getvalue()


def _copy_info(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    new = zipfile.ZipInfo(info.filename, info.date_time)
    for attr in (
        "compress_type",
        "comment",
        "extra",
        "create_system",
        "create_version",
        "extract_version",
        "external_attr",
        "internal_attr",
        "flag_bits",
    ):
        setattr(new, attr, getattr(info, attr))
    new.flag_bits &= ~0x08  # sizes are known now: no data descriptor
    return new


# archives kept as they were


def _kept_path(blob: bytes, suffix: str = ".zip") -> str:
    return os.path.join(originals_dir(), hashlib.sha256(blob).hexdigest() + suffix)


def _remember(new: bytes, old: bytes) -> str | None:
    """Keep ``old``, the archive ``new`` was made from; why it could not be kept, if so
    (without it, a revert gives back every member, but not every byte)."""
    return keep_original(new, old, ".zip")


def keep_original(new: bytes, old: bytes, suffix: str) -> str | None:
    """Keep ``old``, what a file held before the tool wrote ``new`` into it, in ``originals``
    (named by the SHA-256 of ``new``); why it could not be kept, if so."""
    try:
        kept = _kept_path(new, suffix)
    except WriteError as exc:
        return str(exc)
    directory = os.path.dirname(kept)
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=directory)
    except OSError as exc:
        return f"{directory}: {reason(exc)}"
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(old)
        os.replace(tmp, kept)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return f"{kept}: {reason(exc)}"
    return None


def kept_original(new: bytes, suffix: str) -> bytes | None:
    """What a file held before the tool wrote ``new`` into it, if it was kept."""
    try:
        with open(_kept_path(new, suffix), "rb") as f:
            return f.read()
    except (OSError, WriteError):
        return None


def _recall(blob: bytes, member: str, data: bytes) -> bytes | None:
    """The archive ``blob`` was made from, if it was kept and held ``member`` as ``data``."""
    old = kept_original(blob, ".zip")
    if old is None:
        return None
    try:
        if _member(old, member) != data:
            return None
    except (zipfile.BadZipFile, KeyError, EOFError, ValueError, zlib.error, OSError):
        return None
    return old
