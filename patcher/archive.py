"""Rewriting one member of a zip archive (a zipped egg, a wheel): the whole archive, atomically.

Every member keeps its name, order and timestamp, and every other member its content, so that
a revert gives the archive back byte for byte where zipfile allows it.
"""

from __future__ import annotations

import shutil
import zipfile
from typing import BinaryIO

from patcher.atomic import atomic_write
from patcher.bytecode import is_stale_member
from patcher.errors import ArchiveError, WriteError, reason
from patcher.record import rewrite_record_text

__all__ = ["rewrite_member"]


def rewrite_member(path: str, member: str, data: bytes, record: str | None) -> None:
    """Rewrite a zipped egg or wheel whole with ``member`` replaced.

    Every member keeps its name, order and timestamp, and every other member its content;
    byte-code compiled from the old ``member`` is dropped; a wheel's ``RECORD`` gets the new
    hash and size.
    """
    try:
        source = zipfile.ZipFile(path)
    except FileNotFoundError as exc:
        raise WriteError(path, reason(exc)) from None
    except (OSError, zipfile.BadZipFile) as exc:
        raise ArchiveError(path, f"not a valid zip archive ({exc})") from None

    def write(f: BinaryIO) -> None:
        with zipfile.ZipFile(f, "w") as out:
            out.comment = source.comment
            for info in source.infolist():
                if is_stale_member(info.filename, member):
                    continue
                if info.filename == member:
                    # same timestamp: its byte-code members are dropped, and revert is exact
                    out.writestr(_copy_info(info), data)
                elif record is not None and info.filename == record:
                    text = source.read(info).decode("utf-8")
                    new_text = rewrite_record_text(text, member, data)
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
