"""RECORD upkeep: an installer's list of files, hashes and sizes, kept true to what is on disk.

A dist-info ``RECORD`` is CSV (``path,sha256=<urlsafe b64>,size``); an egg-info
``installed-files.txt`` lists paths only and carries no hash to keep.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io

from patcher.atomic import atomic_write
from patcher.errors import WriteError, reason

__all__ = ["record_hash", "rewrite_record_text", "update_record"]


def record_hash(data: bytes) -> str:
    """The ``sha256=...`` form a RECORD uses (urlsafe base64, no padding)."""
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def rewrite_record_text(text: str, entry: str, data: bytes) -> str | None:
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
        raise WriteError(record, reason(exc)) from None
    new = rewrite_record_text(text, entry, data)
    if new is not None:
        payload = new.encode("utf-8")
        atomic_write(record, lambda f: f.write(payload))
