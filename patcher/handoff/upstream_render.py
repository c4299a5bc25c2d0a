"""Rendering what ``upstream`` made: a line for people, JSON (``pkgres-patcher/upstream/1``) for programs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from patcher.errors import PatcherError
from patcher.handoff.upstream import Upstreamed
from patcher.render import display, error_json, schema_name

__all__ = ["upstream_json", "upstream_text"]


def _upstreamed(done: Upstreamed, mbox: bytes) -> dict[str, Any]:
    written = done.output != "-"
    return {
        "target": done.target.value,
        "source": display(done.source),
        "output": display(done.output) if written else None,
        "branch": done.branch,
        "python2": done.python2,
        "variants": list(done.variants),
        "files": list(done.files),
        "mbox": None if written else mbox.decode("utf-8", "surrogateescape"),
    }


def upstream_json(done: Upstreamed | None, mbox: bytes = b"", errors: Sequence[PatcherError] = ()) -> str:
    """``{"schema", "upstream", "errors"}``; ``upstream`` is null when nothing was made."""
    data = {
        "schema": schema_name("upstream"),
        "upstream": None if done is None else _upstreamed(done, mbox),
        "errors": [error_json(e) for e in errors],
    }
    return json.dumps(data, indent=2) + "\n"


def upstream_text(done: Upstreamed, mbox: bytes) -> str:
    """The mbox itself when it went nowhere else, else where it was written."""
    if done.output == "-":
        return mbox.decode("utf-8", "surrogateescape")
    return f"wrote {display(done.output)}: {', '.join(done.files)}\n"
