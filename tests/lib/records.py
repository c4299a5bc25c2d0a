"""Reading an installer's ``RECORD`` (installed, or inside a wheel) without the code under test."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

__all__ = ["record_row", "record_rows", "wheel_record_rows"]


def record_rows(record: Path) -> dict[str, list[str]]:
    """Each row of an installed ``RECORD`` (path, hash, size) by its path."""
    with open(record, newline="") as f:
        return {row[0]: row for row in csv.reader(f)}


def record_row(record: Path, entry: str) -> list[str]:
    """The row of ``entry``; a failed test when the ``RECORD`` lists no such file."""
    rows = record_rows(record)
    if entry not in rows:
        raise AssertionError(f"{entry} not in {record}")
    return rows[entry]


def wheel_record_rows(wheel: Path) -> dict[str, list[str]]:
    """Each row of a wheel's own ``RECORD`` by its path."""
    with zipfile.ZipFile(wheel) as zf:
        record = next(n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/RECORD"))
        return {r[0]: r for r in csv.reader(zf.read(record).decode().splitlines())}
