"""Copies inside zipped eggs and wheels, read in place (never extracted).

:mod:`zipfile` is imported at the first archive met: a prefix without archives does without it.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from patcher.errors import ArchiveError, reason
from patcher.model import Container, Copy, Dist
from patcher.scan.metadata import parse_pkg_info, parse_vendor_txt
from patcher.scan.origin import upstream, vendoring_pip
from patcher.scan.rules import (
    INIT,
    MODULE,
    SIGNATURE_WITHIN,
    ZipIsPackage,
    import_root,
    looks_like_pkg_resources,
    nested_root,
)

if TYPE_CHECKING:
    import zipfile

__all__ = ["scan_archive"]


def scan_archive(path: str, container: Container) -> list[tuple[Copy, bytes]]:
    """Find copies inside a zipped egg or a wheel, reading it in place."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            is_package = ZipIsPackage(names)
            found = []
            for name in names:
                parts = name.split("/")
                if parts[-1] not in (INIT, MODULE):
                    # an egg built without sources: reported, so that it is known unpatchable
                    if parts[-1] not in (INIT + "c", MODULE + "c") or name[:-1] in is_package.names:
                        continue
                    parts = [*parts[:-1], parts[-1][:-1]]
                decided = import_root(parts, is_package)
                if decided is None and name.endswith(".py"):
                    # rejected by the path rules: a copy inside another package if its text says so
                    decided = nested_root(parts, is_package)
                    if decided is not None:
                        with zf.open(name) as member:
                            if not looks_like_pkg_resources(member.read(SIGNATURE_WITHIN)):
                                decided = None
                if decided is not None:
                    found.append((name, parts, decided))
            if not found:
                return []
            owner = _archive_owner(zf, names, container)
            copies = []
            for name, parts, (_root, vendored_by) in found:
                vendor = None
                if vendored_by is not None:
                    # beside the copy: pip's _vendor, or a tool's patched pip's (pipenv/patched/pip)
                    vendor_txt = "/".join([*parts[: -2 if parts[-1] == INIT else -1], "vendor.txt"])
                    if vendor_txt in names:
                        vendor = parse_vendor_txt(zf.read(vendor_txt))
                record, entry = (None, None)
                if container is Container.WHEEL:
                    record, entry = _wheel_record(names), name
                data = zf.read(name)
                copies.append(
                    (
                        Copy(
                            file=path,
                            member=name,
                            container=container,
                            vendored_by=vendored_by,
                            owner=owner,
                            upstream=upstream(owner, vendored_by, vendor),
                            sha256=hashlib.sha256(data).hexdigest(),
                            record=record,
                            record_entry=entry,
                            vendor_pip=vendoring_pip(owner, vendored_by),
                        ),
                        data,
                    )
                )
            return copies
    except FileNotFoundError:
        return []  # vanished during the scan: absent
    except (OSError, zipfile.BadZipFile, KeyError, EOFError, ValueError, zlib.error) as exc:
        raise ArchiveError(path, reason(exc)) from None


def _archive_owner(zf: zipfile.ZipFile, names: Sequence[str], container: Container) -> Dist | None:
    if container is Container.EGG_ZIP:
        if "EGG-INFO/PKG-INFO" in names:
            return parse_pkg_info(zf.read("EGG-INFO/PKG-INFO"))
        return None
    for name in names:
        parts = name.split("/")
        if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
            return parse_pkg_info(zf.read(name))
    return None


def _wheel_record(names: Sequence[str]) -> str | None:
    for name in names:
        parts = name.split("/")
        if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "RECORD":
            return name
    return None
