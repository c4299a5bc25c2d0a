"""RFC 822-style header blocks, as core metadata (``PKG-INFO``) and DEP-3 patch headers use them.

Read here rather than with :mod:`email.parser`, whose import alone costs more than reading
every ``PKG-INFO`` of a prefix (``locate`` is timed against ``find``). A block is ``Name: value``
lines; a line that starts with white space continues the value before it; the block ends at
the first blank line, or at a line that is neither (as email's parser ends it).
"""

from __future__ import annotations

__all__ = ["read_headers"]


def read_headers(text: str) -> list[tuple[str, str]]:
    """The ``(name, value)`` fields of the header block that starts ``text``, in order.

    A folded value keeps its continuation lines (after a newline, indentation included).
    """
    fields: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            break
        if line[0] in " \t":
            if fields:
                name, value = fields[-1]
                fields[-1] = (name, f"{value}\n{line}")
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            break  # not a header: the block ends
        fields.append((name, value.strip()))
    return fields
