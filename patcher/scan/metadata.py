"""Reading what installers and vendors wrote: core metadata (``PKG-INFO``, ``METADATA``) and
pip's ``_vendor/vendor.txt``. Small files, read whole; unreadable ones say nothing."""

from __future__ import annotations

from collections.abc import Callable

from patcher.engine.headers import read_headers
from patcher.model import Dist

__all__ = ["parse_pkg_info", "parse_vendor_txt", "read_small"]


def parse_pkg_info(data: bytes) -> Dist | None:
    """Name and Version of core metadata (``PKG-INFO``, ``METADATA``); the first of each wins."""
    fields: dict[str, str] = {}
    for key, value in read_headers(data.decode("utf-8", "surrogateescape")):
        fields.setdefault(key.lower(), value.strip())
    name, version = fields.get("name"), fields.get("version")
    if not name or not version:
        return None
    return Dist(name, version)


def parse_vendor_txt(data: bytes) -> Dist | None:
    """The setuptools release a pip vendors its pkg_resources from (``_vendor/vendor.txt``)."""
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        name, sep, version = line.partition("==")
        if sep and name.strip().lower() == "setuptools":
            return Dist("setuptools", version.strip())
    return None


def read_small(path: str, parse: Callable[[bytes], Dist | None]) -> Dist | None:
    try:
        with open(path, "rb") as f:
            return parse(f.read())
    except OSError:
        return None
