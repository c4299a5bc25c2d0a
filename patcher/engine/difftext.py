"""Writing placed hunks back out as a unified diff that ``patch -p1`` (and ``git apply``) take as is.

A variant's hunks are written against the pristine upstream file; once placed on a real text
(:func:`patcher.engine.hunks.place_hunks`) their line numbers are those of that text, and the context
and removed lines are that text's own bytes (line endings included), so the diff applies with
no offset and no fuzz. Added lines take the file's line ending, as :func:`patcher.engine.hunks.apply_hunks`
gives them: the diff's result is byte for byte what ``apply`` writes.
"""

from __future__ import annotations

from collections.abc import Sequence

from patcher.engine.hunks import Placement, eol_of, split_lines
from patcher.engine.patchset import Hunk

__all__ = ["NO_NEWLINE", "file_diff", "hunks_text"]

NO_NEWLINE = b"\\ No newline at end of file\n"


def _emit(out: list[bytes], kind: bytes, line: bytes) -> None:
    out.append(kind + line)
    if not line.endswith((b"\n", b"\r")):
        out.append(b"\n" + NO_NEWLINE)


def hunks_text(text: bytes, placed: Sequence[tuple[Hunk, Placement]]) -> bytes:
    """The ``@@`` hunks of ``placed`` (in order, exact placements) on ``text``."""
    lines = split_lines(text)
    eol = eol_of(lines)
    out: list[bytes] = []
    delta = 0
    for hunk, placement in placed:
        if placement.fuzz:
            raise ValueError("a hunk placed with fuzz cannot be written as found")
        old_len = len(hunk.before)
        new_len = sum(1 for ln in hunk.lines if ln.kind != "-")
        old_start = placement.start + 1 if old_len else placement.start
        new_start = placement.start + delta + 1 if new_len else placement.start + delta
        section = f" {hunk.section}" if hunk.section else ""
        out.append(f"@@ -{old_start},{old_len} +{new_start},{new_len} @@{section}\n".encode())
        pos = placement.start
        for line in hunk.lines:
            if line.kind == "+":
                _emit(out, b"+", line.text + (eol if line.eol else b""))
            else:
                _emit(out, line.kind.encode(), lines[pos])
                pos += 1
        delta += new_len - old_len
    return b"".join(out)


def file_diff(path: str, text: bytes, placed: Sequence[tuple[Hunk, Placement]]) -> bytes:
    """A ``-p1`` diff of one file: ``--- a/<path>``, ``+++ b/<path>`` and the hunks."""
    return f"--- a/{path}\n+++ b/{path}\n".encode() + hunks_text(text, placed)
