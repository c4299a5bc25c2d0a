"""The pure engine: hunk placement, application and reversal on texts (no file system)."""

from __future__ import annotations

import difflib

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from patcher.engine.hunks import Mismatch, apply_hunks, place_hunks
from patcher.engine.patchset import FilePatch, parse_diff


def make_diff(old: bytes, new: bytes, context: int = 3) -> FilePatch:
    """A real unified diff (difflib) of two texts, parsed back as the engine parses patch files."""
    old_lines = old.decode().splitlines(keepends=True)
    new_lines = new.decode().splitlines(keepends=True)
    out = []
    for line in difflib.unified_diff(old_lines, new_lines, "a/__init__.py", "b/__init__.py", n=context):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return parse_diff("".join(out), "generated")[0]


def patch(text: bytes, fp: FilePatch, fuzz: int = 0) -> bytes:
    placements = place_hunks(text, fp.hunks, fuzz)
    assert not isinstance(placements, Mismatch), placements
    return apply_hunks(text, fp.hunks, placements)


BASE = b"".join(b"line %d\n" % i for i in range(1, 21))


def test_exact_fit_applies_and_reverses() -> None:
    new = BASE.replace(b"line 10\n", b"try:\n    line 10\nexcept OSError:\n    pass\n")
    fp = make_diff(BASE, new)
    assert patch(BASE, fp) == new
    assert patch(new, fp.reversed()) == BASE


def test_offset_is_found_and_reported() -> None:
    new = BASE.replace(b"line 10\n", b"LINE TEN\n")
    fp = make_diff(BASE, new)
    shifted = b"extra 1\nextra 2\nextra 3\n" + BASE
    placements = place_hunks(shifted, fp.hunks)
    assert not isinstance(placements, Mismatch)
    assert [p.offset for p in placements] == [3]
    assert [p.fuzz for p in placements] == [0]
    assert apply_hunks(shifted, fp.hunks, placements) == b"extra 1\nextra 2\nextra 3\n" + new


def test_mismatch_names_hunk_and_first_differing_line() -> None:
    new = BASE.replace(b"line 10\n", b"LINE TEN\n")
    fp = make_diff(BASE, new)
    edited = BASE.replace(b"line 9\n", b"line nine\n")
    result = place_hunks(edited, fp.hunks)
    assert isinstance(result, Mismatch)
    assert str(result) == "hunk #1: line 9: expected 'line 9', found 'line nine'"


def test_fuzz_only_when_asked() -> None:
    new = BASE.replace(b"line 10\n", b"LINE TEN\n")
    fp = make_diff(BASE, new)
    edited = BASE.replace(b"line 7\n", b"line seven\n")  # first context line differs
    assert isinstance(place_hunks(edited, fp.hunks), Mismatch)
    placements = place_hunks(edited, fp.hunks, fuzz=1)
    assert not isinstance(placements, Mismatch)
    assert placements[0].fuzz == 1
    assert apply_hunks(edited, fp.hunks, placements) == edited.replace(b"line 10\n", b"LINE TEN\n")


def test_crlf_text_takes_lf_patch_and_keeps_its_endings() -> None:
    new = BASE.replace(b"line 10\n", b"try:\n    line 10\nexcept OSError:\n    pass\n")
    fp = make_diff(BASE, new)
    crlf = BASE.replace(b"\n", b"\r\n")
    patched = patch(crlf, fp)
    assert patched == new.replace(b"\n", b"\r\n")
    assert patch(patched, fp.reversed()) == crlf


def test_no_newline_at_end_of_file() -> None:
    old = b"a\nb\nc"
    new = b"a\nb\nc\nd"
    fp = make_diff(old, new)
    assert patch(old, fp) == new
    assert patch(new, fp.reversed()) == old


def test_nearest_match_wins_when_context_repeats() -> None:
    block = b"x = 1\ny = 2\nz = 3\n"
    text = block + b"sep\n" * 10 + block
    new_second = block + b"sep\n" * 10 + b"x = 1\ny = 20\nz = 3\n"
    fp = make_diff(text, new_second, context=1)
    assert patch(text, fp) == new_second


lines_strategy = st.lists(
    st.sampled_from(["alpha", "beta", "gamma", "delta", "os.stat(path)", "", "    pass"]), min_size=1, max_size=40
)


@settings(max_examples=300, deadline=None)
@given(old=lines_strategy, new=lines_strategy, context=st.integers(min_value=1, max_value=4))
def test_apply_then_reverse_gives_the_original(old: list[str], new: list[str], context: int) -> None:
    old_text = ("\n".join(old) + "\n").encode()
    new_text = ("\n".join(new) + "\n").encode()
    assume(old_text != new_text)
    fp = make_diff(old_text, new_text, context)
    patched = patch(old_text, fp)
    assert patched == new_text
    assert patch(patched, fp.reversed()) == old_text


@settings(max_examples=300, deadline=None)
@given(
    old=lines_strategy,
    new=lines_strategy,
    noise=st.lists(st.sampled_from(["alpha", "beta", "noise", ""]), max_size=30),
    cut=st.integers(min_value=0, max_value=40),
)
def test_a_hunk_never_applies_at_a_wrong_place(old: list[str], new: list[str], noise: list[str], cut: int) -> None:
    """Wherever a hunk lands, the lines it expects are exactly the lines found there."""
    old_text = ("\n".join(old) + "\n").encode()
    new_text = ("\n".join(new) + "\n").encode()
    assume(old_text != new_text)
    fp = make_diff(old_text, new_text)
    lines = old_text.splitlines(keepends=True)
    cut = min(cut, len(lines))
    target = b"".join(lines[:cut]) + "".join(n + "\n" for n in noise).encode() + b"".join(lines[cut:])
    result = place_hunks(target, fp.hunks)
    if isinstance(result, Mismatch):
        return
    target_lines = [ln.rstrip(b"\n") for ln in target.splitlines(keepends=True)]
    previous_end = 0
    for placement in result:
        before = fp.hunks[placement.hunk].before
        assert placement.start >= previous_end
        assert target_lines[placement.start : placement.start + len(before)] == [ln.text for ln in before]
        previous_end = placement.start + len(before)
