"""A seeding tool's table of its wheels' digests, kept true to the wheels it lists.

virtualenv (21) keeps the sha256 of each wheel in ``seed/wheels/embed/`` in ``BUNDLE_SHA256``,
a dict literal of ``seed/wheels/embed/__init__.py``, and refuses a wheel whose digest differs:
no environment is created at all. So a wheel of its is rewritten together with that table's
string for it -- only those 64 characters of the module change, every other byte stays, so
that a revert, which gives the wheel its original bytes, gives the module its original text --
with the module's byte-code compiled anew and virtualenv's ``RECORD`` kept true to both files.

Where no such table is found (another version of the tool, a module that does not parse), the
wheel is left alone (:func:`why_not`), as a wheel whose change the tool would refuse.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
from typing import NamedTuple

from patcher.errors import ScanError, reason
from patcher.model import Container, Copy, Dist
from patcher.scan.rules import DIGEST_CHECKING_SEEDERS, INIT

__all__ = [
    "TABLE",
    "Bundle",
    "bundle",
    "checked",
    "digest_span",
    "read_text",
    "rewrite_digest",
    "wheel_digest",
    "why_not",
]

#: the name of the table, in the seeding wheels' package's ``__init__.py``
TABLE = "BUNDLE_SHA256"
_HEX = re.compile(r"[0-9a-f]{64}")


class Bundle(NamedTuple):
    """The module holding a seeding wheel's digest, as a loose copy would be written (its
    byte-code, the ``RECORD`` that lists it), and the wheel's entry in that ``RECORD``."""

    wheel: str
    module: Copy
    wheel_entry: str | None


def checked(copy: Copy) -> bool:
    """Whether ``copy`` lies in a seeding wheel whose digest its tool checks."""
    return copy.container is Container.WHEEL and copy.bundled_by in DIGEST_CHECKING_SEEDERS


def digest_span(text: str, name: str) -> tuple[int, int] | str:
    """Where, in the module's ``text``, the digest of the wheel ``name`` is written (the 64 hex
    characters inside its string literal); else why it cannot be found."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError) as exc:
        return f"does not parse ({exc})"
    table: ast.expr | None = None
    for node in tree.body:  # the last assignment at module level is the one virtualenv reads
        value: ast.expr | None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == TABLE for t in targets):
            table = value
    if not isinstance(table, ast.Dict):
        return f"has no {TABLE} dict literal"
    for key, value in zip(table.keys, table.values):
        if not (isinstance(key, ast.Constant) and key.value == name):
            continue
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str) and _HEX.fullmatch(value.value)):
            return f"{TABLE}[{name!r}] is not a sha256 string"
        assert value.end_lineno is not None and value.end_col_offset is not None
        start = _offset(text, value.lineno, value.col_offset)
        end = _offset(text, value.end_lineno, value.end_col_offset)
        literal = text[start:end]
        if len(literal) != 66 or literal[0] != literal[-1] or literal[0] not in "'\"":
            return f"{TABLE}[{name!r}] is not a plain string literal"
        return start + 1, end - 1
    return f"{TABLE} has no entry for {name}"


def _offset(text: str, lineno: int, col: int) -> int:
    """The index in ``text`` of ``ast``'s (line, UTF-8 byte column)."""
    lines = text.splitlines(keepends=True)
    start = sum(len(line) for line in lines[: lineno - 1])
    return start + len(lines[lineno - 1].encode("utf-8")[:col].decode("utf-8", "replace"))


def rewrite_digest(text: str, name: str, digest: str) -> str | None:
    """The module's text with the digest of the wheel ``name`` set to ``digest``; None when it
    says so already. Raises :class:`ValueError` when the table cannot be found."""
    span = digest_span(text, name)
    if isinstance(span, str):
        raise ValueError(span)
    start, end = span
    if text[start:end] == digest:
        return None
    return text[:start] + digest + text[end:]


def _module_path(copy: Copy) -> str:
    return os.path.join(os.path.dirname(copy.file), INIT)


def read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ScanError(path, reason(exc)) from None


def why_not(copy: Copy) -> str | None:
    """Why the digest of ``copy``'s seeding wheel cannot be kept true, if it cannot: the tool
    would refuse the wheel changed. None when it can (or the tool checks none)."""
    if not checked(copy):
        return None
    module = _module_path(copy)
    try:
        found = digest_span(read_text(module), os.path.basename(copy.file))
    except ScanError as exc:
        found = str(exc)
        module = ""
    if isinstance(found, str):
        where = f"{module} " if module else ""
        return f"{copy.bundled_by} checks the sha256 of its seeding wheels, and {where}{found}"
    return None


def bundle(copy: Copy) -> Bundle | None:
    """The module (and records) to rewrite with ``copy``'s seeding wheel; None when its tool
    checks no digest, or the table cannot be found (:func:`why_not`). Who installed the tool is
    read now: its ``RECORD`` lists both files."""
    if not checked(copy) or why_not(copy) is not None:
        return None
    from patcher.scan.owners import Owners

    module = _module_path(copy)
    site = _site(copy.file)
    record = entry = wheel_entry = None
    owner: Dist | None = None
    if site is not None:
        owner, _others, record, entry = Owners().claim(site, module)
        if record is not None and entry is not None and record.endswith("RECORD"):
            wheel_entry = "/".join([*entry.split("/")[:-1], os.path.basename(copy.file)])
        else:
            record = entry = None
    loose = Copy(
        file=module,
        member=None,
        container=Container.DIRECTORY,
        vendored_by=None,
        owner=owner,
        upstream=None,
        sha256="",
        record=record,
        record_entry=entry,
    )
    return Bundle(copy.file, loose, wheel_entry)


def _site(wheel: str) -> str | None:
    """The directory the tool's top-level package lies in (where its dist-info is)."""
    from patcher.scan.rules import SEEDERS

    directory = os.path.dirname(wheel)
    for _tool, tail in SEEDERS:
        if directory.endswith(tail):
            return directory[: -len(tail)] or os.sep
    return None


def wheel_digest(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError as exc:
        raise ScanError(path, reason(exc)) from None
