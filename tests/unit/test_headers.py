"""Header blocks read by hand (``patcher.engine.headers``), checked against :mod:`email.parser`."""

from __future__ import annotations

import email.parser

from hypothesis import given
from hypothesis import strategies as st

from patcher.engine.headers import read_headers


def normalized(fields: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    return [(name, [line.strip() for line in value.splitlines() if line.strip()]) for name, value in fields]


def by_email(text: str) -> list[tuple[str, str]]:
    return [(k, str(v)) for k, v in email.parser.Parser().parsestr(text, headersonly=True).items()]


NAMES = st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,15}\Z")
WORDS = st.text(st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters=":"), min_size=1, max_size=12)
LINES = st.lists(WORDS, min_size=1, max_size=4).map(" ".join)
FIELDS = st.lists(st.tuples(NAMES, st.lists(LINES, min_size=1, max_size=3)), min_size=1, max_size=8)


@given(FIELDS, st.sampled_from(["\n", "\r\n"]), st.sampled_from(["", "\nbody: not a header\n more\n"]))
def test_the_same_fields_as_email(fields: list[tuple[str, list[str]]], eol: str, body: str) -> None:
    text = "".join(
        f"{name}: {lines[0]}{eol}" + "".join(f" {line}{eol}" for line in lines[1:]) for name, lines in fields
    )
    text += body.replace("\n", eol)
    assert normalized(read_headers(text)) == normalized(by_email(text)) == [(n, ls) for n, ls in fields]


def test_pkg_info_with_a_description_body() -> None:
    text = (
        "Metadata-Version: 2.1\nName: pip\nVersion: 26.3\nSummary: The PyPA\n  recommended tool\n\nName: not-a-header\n"
    )
    assert read_headers(text) == [
        ("Metadata-Version", "2.1"),
        ("Name", "pip"),
        ("Version", "26.3"),
        ("Summary", "The PyPA\n  recommended tool"),
    ]


def test_a_line_that_is_no_header_ends_the_block() -> None:
    text = "Name: a\nthis line has no colon\nVersion: 1\n"
    assert read_headers(text) == [("Name", "a")] == by_email(text)[:1]
    text = " a first line that continues nothing\nName: a\n"
    assert read_headers(text) == [("Name", "a")] == by_email(text)
