"""Hunk placement: where each hunk of a diff fits on a text, and the text that results.

Nothing here touches the file system. A text is bytes; lines are compared without their line
endings, so one LF patch serves CRLF copies too (pip 10.0.x), and lines the patch adds take the
file's own ending. Placement is exact (at the declared line or at an offset, nearest first);
fuzz (ignoring outer context lines, as GNU patch does) only when asked for.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from patcher.engine.patchset import Hunk, Line

__all__ = ["Mismatch", "Placement", "apply_hunks", "place_hunks", "split_lines"]


@dataclass(frozen=True)
class Placement:
    """Where one hunk landed: 0-based ``start`` in the original text."""

    hunk: int
    start: int
    offset: int
    fuzz: int
    # how many leading/trailing lines of the hunk were ignored (fuzz)
    trim_head: int = 0
    trim_tail: int = 0


@dataclass(frozen=True)
class Mismatch:
    """Why a hunk does not fit: the first line that differs at the hunk's declared place."""

    hunk: int  # 1-based
    line: int  # 1-based line number in the file
    expected: str
    found: str | None
    matched: int = 0  # lines of the hunk that match where it comes closest
    total: int = 0

    def __str__(self) -> str:
        found = "end of file" if self.found is None else repr(self.found)
        return f"hunk #{self.hunk}: line {self.line}: expected {self.expected!r}, found {found}"


def split_lines(text: bytes) -> list[bytes]:
    """Lines with their endings (``\\n``, ``\\r\\n`` or ``\\r``); joining them gives ``text`` back."""
    return text.splitlines(keepends=True)


def eol_of(lines: Sequence[bytes]) -> bytes:
    """The line ending a text uses (its first line's): what inserted lines are given, so that a
    CRLF file stays CRLF."""
    for line in lines:
        for ending in (b"\r\n", b"\n", b"\r"):
            if line.endswith(ending):
                return ending
    return b"\n"


def _matches(stripped: Sequence[bytes], at: int, want: Sequence[Line]) -> bool:
    if at < 0 or at + len(want) > len(stripped):
        return False
    return all(stripped[at + i] == line.text for i, line in enumerate(want))


def _context_run(lines: Sequence[Line], from_end: bool) -> int:
    run = 0
    for line in reversed(lines) if from_end else lines:
        if line.kind != " ":
            break
        run += 1
    return run


def _search(
    stripped: Sequence[bytes], index: Mapping[bytes, Sequence[int]], want: Sequence[Line], expected: int, lowest: int
) -> int | None:
    """The matching position nearest to ``expected`` (later first on a tie), not before ``lowest``."""
    highest = len(stripped) - len(want)
    if not want:
        return max(lowest, min(expected, len(stripped)))
    # anchor on the hunk's rarest line: few candidates to check, whatever the hunk starts with
    anchor = min(range(len(want)), key=lambda i: len(index.get(want[i].text, ())))
    candidates = [at - anchor for at in index.get(want[anchor].text, ()) if lowest <= at - anchor <= highest]
    candidates.sort(key=lambda at: (abs(at - expected), at < expected))
    for at in candidates:
        if _matches(stripped, at, want):
            return at
    return None


@functools.lru_cache(maxsize=16)
def _prepare(text: bytes) -> tuple[list[bytes], dict[bytes, list[int]]]:
    """Lines without endings and where each line occurs: built once per text, searched often.

    ``bytes.splitlines()`` breaks where ``split_lines`` does, so numbers agree.
    """
    stripped = text.splitlines()
    index: dict[bytes, list[int]] = {}
    for number, line in enumerate(stripped):
        index.setdefault(line, []).append(number)
    return stripped, index


#: a line found more often than this in a text does not vote on where a hunk belongs
_COMMON = 8


def _mismatch(
    stripped: Sequence[bytes],
    positions: Mapping[bytes, Sequence[int]],
    hunk: Hunk,
    index: int,
    expected: int,
    lowest: int,
) -> Mismatch:
    """Explain a hunk that fits nowhere: its first differing line where it comes closest.

    "Closest" is the place (not before the previous hunk) where most of its lines match,
    nearest to the declared place on a tie, so that the message points at the real spot even
    when the copy's code moved. Places are found by voting through the line index, so this
    costs no more than the search did.
    """
    before = hunk.before
    votes: dict[int, int] = {}
    for i, line in enumerate(before):
        found_at = positions.get(line.text, ())
        if len(found_at) > _COMMON:
            continue  # blank lines, lone brackets: they say nothing about where the hunk belongs
        for at in found_at:
            start = at - i
            if start >= lowest:
                votes[start] = votes.get(start, 0) + 1
    best, best_score = expected, 0
    for start, score in votes.items():
        if score > best_score or (score == best_score and abs(start - expected) < abs(best - expected)):
            best, best_score = start, score
    for i, line in enumerate(before):
        at = best + i
        found = stripped[at] if 0 <= at < len(stripped) else None
        if found != line.text:
            text = None if found is None else found.decode("utf-8", "replace")
            return Mismatch(index + 1, at + 1, line.text.decode("utf-8", "replace"), text, best_score, len(before))
    # every line matches there, yet the hunk could not be placed: it overlaps the previous one
    return Mismatch(index + 1, best + 1, "(a place after the previous hunk)", None, best_score, len(before))


def place_hunks(text: bytes, hunks: Sequence[Hunk], fuzz: int = 0) -> list[Placement] | Mismatch:
    """Find where every hunk fits, in order and without overlapping; or say which does not."""
    stripped, positions = _prepare(text)
    placements: list[Placement] = []
    lowest = 0
    for index, hunk in enumerate(hunks):
        before = hunk.before
        expected = max(hunk.source_start - 1, 0) if before else hunk.source_start
        found: Placement | None = None
        head_ctx, tail_ctx = _context_run(hunk.lines, False), _context_run(hunk.lines, True)
        for level in range(fuzz + 1):
            head, tail = min(level, head_ctx), min(level, tail_ctx)
            if level and head == 0 and tail == 0:
                break
            want = before[head : len(before) - tail]
            at = _search(stripped, positions, want, expected + head, lowest)
            if at is not None:
                start = at - head
                found = Placement(index, start, start - expected, level, head, tail)
                break
        if found is None:
            return _mismatch(stripped, positions, hunk, index, expected, lowest)
        placements.append(found)
        lowest = found.start + found.trim_head + len(before) - found.trim_head - found.trim_tail
    return placements


def apply_hunks(text: bytes, hunks: Sequence[Hunk], placements: Sequence[Placement]) -> bytes:
    """Build the new text: unchanged and context lines are the file's own bytes."""
    lines = split_lines(text)
    eol = eol_of(lines)
    out: list[bytes] = []
    cursor = 0
    for placement in placements:
        hunk = hunks[placement.hunk]
        start = placement.start + placement.trim_head
        out.extend(lines[cursor:start])
        pos = start
        # with fuzz, the ignored outer context lines are neither checked nor taken from the hunk
        kept = hunk.lines[placement.trim_head : len(hunk.lines) - placement.trim_tail]
        for line in kept:
            if line.kind == " ":
                out.append(lines[pos])
                pos += 1
            elif line.kind == "-":
                pos += 1
            else:
                out.append(line.text + (eol if line.eol else b""))
        cursor = pos
    out.extend(lines[cursor:])
    return b"".join(out)
