"""Sharing a walk between processes: dealing work out, and carrying findings back.

Findings cross the pipe as plain tuples through :mod:`marshal` (no pickle: faster, and
nothing but data can come back).
"""

from __future__ import annotations

import marshal
import os
from typing import Any, NamedTuple

from patcher.errors import ArchiveError, ScanError
from patcher.model import Container, Copy, Dist, Manager, Package

__all__ = ["Findings", "decode", "encode", "split", "split_by_size"]


class Findings(NamedTuple):
    """What a child found in its share."""

    copies: list[Copy]
    texts: dict[str, bytes]
    errors: list[ScanError]
    visited: list[tuple[int, int]]
    #: symlinked directories met, left to the parent
    deferred: list[str]
    #: archives met and put aside, left to the parent
    archives: list[str]


def encode(findings: Findings) -> bytes:
    return marshal.dumps(
        (
            [_flatten(copy) for copy in findings.copies],
            findings.texts,
            [(isinstance(e, ArchiveError), e.subject, e.reason) for e in findings.errors],
            findings.visited,
            findings.deferred,
            findings.archives,
        )
    )


def decode(data: bytes) -> Findings | None:
    """A child's findings; None when they cannot be read."""
    try:
        copies, texts, errors, visited, deferred, archives = marshal.loads(data)
        return Findings(
            [_unflatten(c) for c in copies],
            dict(texts),
            [(ArchiveError if archive else ScanError)(subject, why) for archive, subject, why in errors],
            [tuple(key) for key in visited],
            list(deferred),
            list(archives),
        )
    except (ValueError, TypeError, EOFError):
        return None


def split(items: list[str], parts: int) -> list[list[str]]:
    """Deal ``items`` out like cards: neighbours (often alike in size) go to different shares."""
    return [share for share in (items[k::parts] for k in range(parts)) if share]


def split_by_size(paths: list[str], parts: int) -> list[list[str]]:
    """Share archives so that each share has about as many bytes (largest first, each to the
    lightest share): reading an archive costs about its size."""
    sizes = []
    for path in paths:
        try:
            sizes.append((os.stat(path).st_size, path))
        except OSError:
            sizes.append((0, path))  # vanished or unreadable: its scan will say
    shares: list[list[str]] = [[] for _ in range(parts)]
    loads = [0] * parts
    for size, path in sorted(sizes, reverse=True):
        lightest = loads.index(min(loads))
        shares[lightest].append(path)
        loads[lightest] += size
    return [share for share in shares if share]


def _flatten(copy: Copy) -> tuple[Any, ...]:
    """A copy as plain tuples, which :mod:`marshal` carries between processes."""
    dist = _plain_dist
    return (
        copy.file,
        copy.member,
        copy.container.value,
        copy.vendored_by,
        dist(copy.owner),
        dist(copy.upstream),
        copy.sha256,
        tuple(dist(d) for d in copy.conflicts),
        copy.record,
        copy.record_entry,
        dist(copy.vendor_pip),
        copy.bundled_by,
        copy.via,
        None if copy.package is None else (copy.package.manager.value, *copy.package[1:]),
        copy.view_records,
    )


def _plain_dist(dist: Dist | None) -> tuple[str, str] | None:
    return None if dist is None else (dist.name, dist.version)


def _unflatten(flat: Any) -> Copy:
    (
        file,
        member,
        container,
        vendored_by,
        owner,
        upstream,
        sha256,
        conflicts,
        record,
        entry,
        vendor_pip,
        bundled,
        via,
        package,
        view_records,
    ) = flat
    dist = _dist_of
    return Copy(
        file,
        member,
        Container(container),
        vendored_by,
        dist(owner),
        dist(upstream),
        sha256,
        tuple(Dist(*d) for d in conflicts),
        record,
        entry,
        dist(vendor_pip),
        bundled,
        via,
        None if package is None else Package(Manager(package[0]), *package[1:]),
        tuple(tuple(r) for r in view_records),
    )


def _dist_of(flat: Any) -> Dist | None:
    return None if flat is None else Dist(*flat)
