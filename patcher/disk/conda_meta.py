"""conda-meta upkeep: a conda package's record of its files, kept true to what is on disk.

``<prefix>/conda-meta/<name>-<version>-<build>.json`` lists each file under
``paths_data.paths[]`` with ``_path`` (prefix-relative), ``sha256``, ``sha256_in_prefix`` (newer
conda) and ``size_in_bytes``: ``conda doctor`` and the like compare them with the file. Only
those values of the file's entry are rewritten, in the text as written -- every other byte of
the record stays, whatever its formatting -- so that a revert, which gives the file its
original bytes, gives the record its original bytes too.
"""

from __future__ import annotations

import hashlib
import json
import re

from patcher.disk.atomic import edit_text

__all__ = ["rewrite_paths_data_entries", "rewrite_paths_data_text", "update_conda_meta", "update_conda_meta_entries"]

#: JSON tokens: strings, brackets, separators and bare scalars (numbers, true/false/null)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')
#: the values of an entry that describe the file's bytes
_HASHES = ("sha256", "sha256_in_prefix")
_SIZE = "size_in_bytes"


def rewrite_paths_data_text(text: str, entry: str, data: bytes) -> str | None:
    """The record's text with the hash and size of ``entry`` set for ``data``; None when
    nothing changes (or the record does not list it)."""
    spans = _entry_values(text, entry)
    if spans is None:
        return None
    digest = json.dumps(hashlib.sha256(data).hexdigest())
    wanted = {key: digest for key in _HASHES} | {_SIZE: str(len(data))}
    edits = sorted(
        ((start, end, wanted[key]) for key, (start, end) in spans.items() if key in wanted),
        reverse=True,
    )
    new = text
    for start, end, value in edits:
        if new[start:end] != value:
            new = new[:start] + value + new[end:]
    return None if new == text else new


def _entry_values(text: str, entry: str) -> dict[str, tuple[int, int]] | None:
    """Where the scalar values of the object whose ``_path`` is ``entry`` lie in ``text``."""
    # one frame per open object (its values' spans) or array (None); objects alternate key, value
    frames: list[dict[str, tuple[int, int]] | None] = []
    keys: list[str | None] = []
    expect_key: list[bool] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        first = token[0]
        if first == "{" or first == "[":
            frames.append({} if first == "{" else None)
            keys.append(None)
            expect_key.append(first == "{")
        elif first == "}" or first == "]":
            if not frames:
                return None
            frame = frames.pop()
            keys.pop()
            expect_key.pop()
            if frame is not None and "_path" in frame:
                start, end = frame["_path"]
                try:
                    if json.loads(text[start:end]) == entry:
                        return frame
                except ValueError:
                    return None
        elif first == ":":
            if expect_key:
                expect_key[-1] = False
        elif first == ",":
            if frames and frames[-1] is not None:
                expect_key[-1] = True
        elif frames and frames[-1] is not None:
            values = frames[-1]
            if expect_key[-1]:
                try:
                    keys[-1] = json.loads(token)
                except ValueError:
                    return None
            elif keys[-1] is not None:
                values[str(keys[-1])] = (match.start(), match.end())
    return None


def update_conda_meta(meta: str, entry: str, data: bytes) -> None:
    """Keep a ``conda-meta`` record true to ``entry``'s bytes now on disk (hash and size)."""
    update_conda_meta_entries(meta, {entry: data})


def update_conda_meta_entries(meta: str, entries: dict[str, bytes]) -> None:
    """Keep a ``conda-meta`` record true to several files now on disk (a source and its
    byte-code), in one rewrite."""
    edit_text(meta, lambda text: rewrite_paths_data_entries(text, entries))


def rewrite_paths_data_entries(text: str, entries: dict[str, bytes]) -> str | None:
    """The record's text with each entry's hash and size set for its bytes; None when nothing
    changes (also tells, before anything is written, whether the record will be)."""
    new = text
    for entry, data in entries.items():
        new = rewrite_paths_data_text(new, entry, data) or new
    return None if new == text else new
