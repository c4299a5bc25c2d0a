"""What many tests' runs share: a user's environment, the options of an offline run, the states a
JSON document lists."""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["offline", "states", "writing_byte_code"]


def writing_byte_code() -> dict[str, str]:
    """The environment of a user whose interpreter writes byte-code (the tests' own says not to)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def offline(links: Path, cache: Path, patches: Path) -> tuple[str, ...]:
    """``drift``/``refresh``/``export`` options of a run that takes releases only from ``links``."""
    return ("--no-index", "--find-links", str(links), "--cache-dir", str(cache), "--patches", str(patches))


def states(out: str) -> list[str]:
    """The state of each copy a ``--json`` document lists, in its order."""
    return [c["state"] for c in json.loads(out)["copies"]]
