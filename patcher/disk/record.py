"""RECORD upkeep: an installer's list of files, hashes and sizes, kept true to what is on disk.

A dist-info ``RECORD`` is CSV (``path,sha256=<urlsafe b64>,size``); an egg-info
``installed-files.txt`` lists paths only and carries no hash to keep.
"""

from __future__ import annotations

import base64
import csv
import hashlib

from patcher.disk.atomic import edit_text

__all__ = ["record_hash", "rewrite_record_entries", "rewrite_record_text", "update_record", "update_record_entries"]


def record_hash(data: bytes) -> str:
    """The ``sha256=...`` form a RECORD uses (urlsafe base64, no padding)."""
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def rewrite_record_text(text: str, entry: str, data: bytes) -> str | None:
    """RECORD text with ``entry``'s hash and size set for ``data``; None when nothing changes.

    Only those two fields of that line change: every other byte stays as the installer wrote
    it (quoting, line ends), so that writing the original bytes back gives the original text.
    """
    lines = text.splitlines(keepends=True)
    changed = False
    written = entry.replace('"', '""')  # as CSV writes it, quoted or not
    for number, line in enumerate(lines):
        if written not in line:
            continue
        body = line.rstrip("\r\n")
        row = next(csv.reader([body]), [])
        if len(row) < 3 or row[0] != entry or not row[1]:
            continue
        path_field = _first_field(body)
        _hash, _size, *rest = body[len(path_field) + 1 :].split(",", 2)
        new_body = ",".join([path_field, record_hash(data), str(len(data)), *rest])
        if new_body != body:
            lines[number] = new_body + line[len(body) :]
            changed = True
    return "".join(lines) if changed else None


def _first_field(line: str) -> str:
    """The first CSV field of ``line`` as written (quoted when the path needs it)."""
    if not line.startswith('"'):
        return line.split(",", 1)[0]
    at = 1
    while True:
        at = line.index('"', at)
        if line.startswith('""', at):
            at += 2
            continue
        return line[: at + 1]


def update_record(record: str, entry: str, data: bytes) -> None:
    """Keep a dist-info ``RECORD`` true to the file now on disk (hash and size)."""
    update_record_entries(record, {entry: data})


def update_record_entries(record: str, entries: dict[str, bytes]) -> None:
    """Keep a dist-info ``RECORD`` true to several files now on disk (a source and its
    byte-code), in one rewrite; an entry listed without a hash (pip's byte-code) stays so."""
    if not record.endswith("RECORD"):
        return  # egg-info installed-files.txt carries no hashes
    edit_text(record, lambda text: rewrite_record_entries(text, entries))


def rewrite_record_entries(text: str, entries: dict[str, bytes]) -> str | None:
    """RECORD text with each entry's hash and size set for its bytes; None when nothing changes
    (also tells, before anything is written, whether the RECORD will be)."""
    new = text
    for entry, data in entries.items():
        new = rewrite_record_text(new, entry, data) or new
    return None if new == text else new
