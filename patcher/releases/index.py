"""Upstream releases through ``pip``: list versions, download archives into a cache, read copies.

The index is reached by running ``python -m pip`` (listing, and downloading wheels) or, for an
sdist, where that pip's configuration says (:mod:`patcher.releases.simple`: ``pip download``
would build it), so that the user's pip configuration (index URL, proxies, certificates,
find-links) applies; no host is named here. Only the ``pkg_resources`` source (and pip's
``_vendor/vendor.txt``) is read out of each wheel, egg or sdist; archives are never extracted,
and no code of a release is run. Pip processes run as :mod:`patcher.releases.workers`, which
Ctrl-C stops at once.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from patcher.errors import FetchError, reason
from patcher.releases import workers
from patcher.releases.simple import SDIST_SUFFIXES, NoSdist, fetch_sdist

__all__ = [
    "Index",
    "Memo",
    "Release",
    "Source",
    "archive_release",
    "fetch",
    "fetch_all",
    "fetch_wheel",
    "list_versions",
    "read_sources",
    "sdist_of",
]

_ARCHIVE_SUFFIXES = (".whl", ".egg", *SDIST_SUFFIXES)
# a copy inside an archive, once an sdist's "<name>-<version>/" and "src/" are stripped
_COPY = re.compile(r"^(?:[A-Za-z0-9_]+/_vendor/)?pkg_resources(?:/__init__)?\.py$")
_VENDOR_TXT = re.compile(r"^[A-Za-z0-9_]+/_vendor/vendor\.txt$")


@dataclass(frozen=True)
class Index:
    """How pip is asked: extra find-links directories, ``--no-index``, the interpreter running pip."""

    find_links: tuple[str, ...] = ()
    no_index: bool = False
    python: str = sys.executable

    def options(self) -> list[str]:
        args: list[str] = []
        if self.no_index:
            args.append("--no-index")
        for link in self.find_links:
            args += ["--find-links", link]
        return args

    def pip(self, *args: str) -> list[str]:
        """A pip command line; pip's own cache is not used (ours holds the files: a second copy
        would only take room, and in a sandbox pip would try to make ``~/.cache/pip``)."""
        return [self.python, "-m", "pip", *args, "--disable-pip-version-check", "--no-cache-dir", *self.options()]


@dataclass(frozen=True, order=True)
class Release:
    """One upstream release: ``project`` is the canonical name."""

    project: str
    version: Version

    @property
    def label(self) -> str:
        return f"{self.project} {self.version}"

    @property
    def requirement(self) -> str:
        return f"{self.project}=={self.version}"


@dataclass(frozen=True)
class Source:
    """One copy of pkg_resources read out of a release: its path (sdist prefix stripped) and bytes."""

    copy: str
    data: bytes
    sha256: str


# --- listing ---------------------------------------------------------------------------------


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    try:
        return workers.run(argv)
    except OSError as exc:
        raise FetchError(argv[0], reason(exc)) from None


def _last_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith("WARNING:")]
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    line = (errors or lines or ["pip failed without a message"])[-1]
    return line[len("ERROR:") :].strip() if line.startswith("ERROR:") else line


def _parse_versions(stdout: str) -> list[Version]:
    """The versions in ``pip index versions`` output (text: "Available versions: ..."; or JSON)."""
    text = stdout.strip()
    if text.startswith("{"):
        import json

        data = json.loads(text)
        raw: Iterable[str] = data.get("versions", [])
    else:
        raw = []
        for line in text.splitlines():
            if line.strip().lower().startswith("available versions:"):
                raw = line.split(":", 1)[1].split(",")
    versions = []
    for item in raw:
        try:
            versions.append(Version(item.strip()))
        except InvalidVersion:
            continue
    return sorted(set(versions))


def list_versions(project: str, index: Index) -> list[Version]:
    """Every release of ``project`` pip can see (pre-releases included), oldest first; [] when none."""
    proc = _run(index.pip("index", "versions", project, "--pre", "--ignore-requires-python"))
    if proc.returncode != 0:
        message = _last_error(proc.stderr)
        if "No matching distribution found" in message:
            return []
        raise FetchError(project, f"cannot list releases: {message}")
    return _parse_versions(proc.stdout)


# --- downloading -----------------------------------------------------------------------------


def archive_release(filename: str) -> Release | None:
    """The release an archive's file name says it is (a wheel's or an sdist's), else None."""
    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
        elif filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
        elif filename.endswith(SDIST_SUFFIXES):  # older sdists: .tar.bz2, .tgz, ...
            stem = filename[: -len(next(s for s in SDIST_SUFFIXES if filename.endswith(s)))]
            raw_name, _, raw_version = stem.rpartition("-")
            return Release(canonicalize_name(raw_name), Version(raw_version)) if raw_name else None
        else:
            return None
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return Release(canonicalize_name(name), version)


def _cache_listing(directory: str) -> dict[Release, str]:
    """Every archive in one cache directory by release (a wheel preferred over an sdist)."""
    try:
        names = sorted(os.listdir(directory), key=lambda n: (not n.endswith(".whl"), n))
    except OSError:
        return {}  # nothing cached (or no cache: fetching says why)
    listing: dict[Release, str] = {}
    for name in names:
        release = archive_release(name)
        if release is not None:
            listing.setdefault(release, os.path.join(directory, name))
    return listing


def _download_wheel(release: Release, directory: str, index: Index) -> str | FetchError:
    """A wheel of ``release`` through ``pip download`` (a wheel is only unpacked, never run)."""
    with workers.scratch_dir(directory) as scratch:
        argv = index.pip(
            "download", "--no-deps", "--ignore-requires-python", "--quiet", "--only-binary", ":all:", "-d", scratch
        )
        proc = _run([*argv, release.requirement])
        got = [n for n in os.listdir(scratch) if archive_release(n) == release]
        if proc.returncode != 0 or not got:
            return FetchError(
                release.label, _last_error(proc.stderr) if proc.returncode else "pip downloaded no archive of it"
            )
        target = os.path.join(directory, got[0])
        os.replace(os.path.join(scratch, got[0]), target)
        return target


def fetch(release: Release, cache_dir: str, index: Index) -> str:
    """The archive of ``release``: from the cache, else a wheel through ``pip download``, else the
    sdist as a file (:func:`patcher.releases.simple.fetch_sdist`: never prepared by pip)."""
    directory = os.path.join(cache_dir, release.project)
    cached = _cache_listing(directory).get(release)
    if cached is not None:
        return cached
    got = _wheel(release, directory, index)
    if not isinstance(got, FetchError):
        return got
    try:
        return sdist_of(release, directory, index)
    except NoSdist:
        raise got from None


def fetch_wheel(release: Release, cache_dir: str, index: Index) -> str:
    """A wheel of ``release`` (from the cache, else through ``pip download``); no sdist instead."""
    directory = os.path.join(cache_dir, release.project)
    cached = _cache_listing(directory).get(release)
    if cached is not None and cached.endswith(".whl"):
        return cached
    got = _wheel(release, directory, index)
    if isinstance(got, FetchError):
        raise got
    return got


def _wheel(release: Release, directory: str, index: Index) -> str | FetchError:
    """A wheel downloaded into ``directory``, or why there is none (a directory that cannot be
    made is raised: no other way would get the release there)."""
    try:
        os.makedirs(directory, exist_ok=True)
        return _download_wheel(release, directory, index)
    except OSError as exc:
        raise FetchError(release.label, f"{exc.filename or directory}: {reason(exc)}") from None


def sdist_of(release: Release, directory: str, index: Index) -> str:
    """The sdist of ``release`` fetched as a file into ``directory``, through the index the
    user's pip configuration names (never built); :class:`NoSdist` when it has none."""
    return fetch_sdist(
        release.project,
        release.version,
        directory,
        find_links=index.find_links,
        no_index=index.no_index,
        python=index.python,
    )


def fetch_all(
    releases: Sequence[Release],
    cache_dir: str,
    index: Index,
    jobs: int,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[Release, str], list[FetchError]]:
    """Fetch releases in parallel (``jobs`` pip processes); what failed is returned, not raised.

    The cache is listed once per project, so a warm run starts no pip process at all.
    """
    archives: dict[Release, str] = {}
    for project in {r.project for r in releases}:
        listing = _cache_listing(os.path.join(cache_dir, project))
        archives.update((r, listing[r]) for r in releases if r in listing)
    missing = [r for r in releases if r not in archives]
    errors: list[FetchError] = []
    done = len(archives)
    if progress is not None and done:
        progress(done, len(releases))

    def one(release: Release) -> str | FetchError:
        try:
            return fetch(release, cache_dir, index)
        except FetchError as exc:
            return exc

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, len(releases))

    for release, got in zip(missing, workers.parallel_map(one, missing, jobs, tick)):
        if isinstance(got, FetchError):
            errors.append(got)
        else:
            archives[release] = got
    return archives, errors


# --- reading ---------------------------------------------------------------------------------


def _inner(name: str, sdist: bool) -> str:
    """The member path as in a wheel: an sdist's top directory and ``src/`` removed."""
    if sdist:
        name = name.split("/", 1)[1] if "/" in name else name
        if name.startswith("src/"):
            name = name[len("src/") :]
    return name


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


#: (CRC-32, size) of a zip member -> its bytes and sha256: identical members are inflated once
Memo = dict[tuple[int, int], tuple[bytes, str]]


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, memo: Memo | None) -> tuple[bytes, str]:
    key = (info.CRC, info.file_size)
    if memo is not None and key in memo:
        return memo[key]
    data = zf.read(info)
    found = (data, _sha256(data))
    if memo is not None:
        memo[key] = found
    return found


def _read_zip(path: str, sdist: bool, memo: Memo | None = None) -> tuple[list[Source], bytes | None]:
    sources: list[Source] = []
    vendor: bytes | None = None
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = info.filename
            inner = _inner(name, sdist)
            if _COPY.match(inner):
                data, digest = _read_member(zf, info, memo)
                sources.append(Source(inner, data, digest))
            elif vendor is None and _VENDOR_TXT.match(inner):
                vendor = zf.read(name)
    return sources, vendor


def _read_tar(path: str) -> tuple[list[Source], bytes | None]:
    sources: list[Source] = []
    vendor: bytes | None = None
    with tarfile.open(path) as tf:
        for member in tf:
            if not member.isfile():
                continue
            inner = _inner(member.name, True)
            wanted = _COPY.match(inner) or (vendor is None and _VENDOR_TXT.match(inner))
            stream = tf.extractfile(member) if wanted else None
            if stream is None:
                continue
            data = stream.read()
            if _COPY.match(inner):
                sources.append(Source(inner, data, _sha256(data)))
            else:
                vendor = data
    return sources, vendor


def _vendored_setuptools(vendor: bytes | None) -> str | None:
    if vendor is None:
        return None
    for raw in vendor.decode("utf-8", "replace").splitlines():
        name, sep, version = raw.split("#", 1)[0].strip().partition("==")
        if sep and canonicalize_name(name.strip()) == "setuptools":
            return version.strip()
    return None


def read_sources(archive: str, memo: Memo | None = None) -> tuple[list[Source], str | None]:
    """Every pkg_resources copy in a wheel/egg/sdist, and the setuptools release pip vendors (if said).

    With ``memo`` shared between calls, a zip member whose CRC-32 and size were seen before is
    not inflated again (most releases do not touch pkg_resources).
    """
    try:
        if archive.endswith((".whl", ".egg")):
            sources, vendor = _read_zip(archive, False, memo)
        elif archive.endswith(".zip"):
            sources, vendor = _read_zip(archive, True, memo)
        else:
            sources, vendor = _read_tar(archive)
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise FetchError(archive, f"cannot read archive: {reason(exc)}") from None
    sources.sort(key=lambda s: (s.copy.count("/_vendor/"), s.copy))
    return sources, _vendored_setuptools(vendor)


def is_archive(filename: str) -> bool:
    return filename.endswith(_ARCHIVE_SUFFIXES)
