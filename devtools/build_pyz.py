#!/usr/bin/env python3
"""Build ``pkgres-patcher.pyz``: the tool, its patch set and its dependencies in one file.

For builds that install pip and setuptools themselves, before any other package exists: the
file runs with any Python >= 3.9, in isolated mode, from the zip itself (nothing is unpacked,
no home directory is needed)::

    python3 -I pkgres-patcher.pyz apply PREFIX

Run it with the Python the tool is installed in. For each dependency it vendors the newest release
within ``setup.cfg``'s range, up to the one installed there, whose ``Requires-Python`` admits
Python 3.9 (a dependency may drop 3.9 in a release the venv installed), fetched by that Python's
pip as a wheel; or it refuses in one line naming the dependency and the Python. ``--find-links
DIR`` and ``--no-index`` are passed on to pip, so that it can run offline::

    .venv/bin/python devtools/build_pyz.py [--output FILE] [--find-links DIR] [--no-index]

The archive is the same byte for byte for the same sources (entries sorted, times fixed:
``$SOURCE_DATE_EPOCH``, else 1980-01-01).
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import io
import os
import re
import subprocess
import sys
import tempfile
import time
import zipapp
import zipfile
from collections.abc import Iterator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT = os.path.join("dist", "pkgres-patcher.pyz")
INTERPRETER = "/usr/bin/env python3"
#: the oldest Python the archive runs on: the dependencies are wheels for it
OLDEST = "3.9"
#: what runs the archive: a one-line refusal on a Python too old (2.7 must parse it too)
MAIN = f'''\
"""pkgres-patcher as one file: ``python3 -I pkgres-patcher.pyz COMMAND ...`` (README.rst)."""
import sys

if sys.version_info < ({OLDEST.replace(".", ", ")}):
    sys.stderr.write("pkgres-patcher: Python %d.%d: needs Python >= {OLDEST}\\n" % sys.version_info[:2])
    sys.exit(2)

from patcher.cli import entrypoint

entrypoint()
'''
#: files of the package besides its modules (setup.cfg's package_data)
PACKAGE_DATA = re.compile(r"^(py\.typed|schemas/[^/]+\.schema\.json|verification/probe_child\.py)$")
PATCHES_DATA = re.compile(r"^(series|known-states\.json|[^/]+/[^/]+\.patch)$")


class BuildError(Exception):
    """A one-line reason the archive cannot be built."""


def dependencies() -> list[tuple[str, str]]:
    """``(name, requirement)`` for each runtime dependency: ``setup.cfg``'s range, capped at the
    release installed here (the build vendors that one when it supports :data:`OLDEST`)."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"), encoding="utf-8")
    found = []
    for line in config.get("options", "install_requires").split("\n"):
        if not line.strip():
            continue
        requirement = Requirement(line.strip())
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            raise BuildError(
                f"{requirement.name} is not installed in {sys.executable}: run this with the tool's venv"
            ) from None
        specifier = ",".join(filter(None, [str(requirement.specifier), f"<={installed}"]))
        found.append((requirement.name, f"{requirement.name}{specifier}"))
    return found


def requires_python(target: str) -> dict[str, tuple[str, str]]:
    """Distribution name -> ``(version, Requires-Python)`` of what pip unpacked into ``target``."""
    from email.parser import HeaderParser

    found = {}
    for entry in os.listdir(target):
        if entry.endswith(".dist-info"):
            with open(os.path.join(target, entry, "METADATA"), encoding="utf-8") as f:
                metadata = HeaderParser().parse(f)
            found[metadata["Name"]] = (metadata["Version"], metadata.get("Requires-Python") or "")
    return found


def runs_on_oldest(requires: str) -> bool:
    from packaging.specifiers import SpecifierSet

    return SpecifierSet(requires).contains(f"{OLDEST}.0", prereleases=True)


#: how many releases that exclude :data:`OLDEST` are skipped before giving up (``--find-links``)
MAX_SKIPPED = 20


def vendor_one(name: str, requirement: str, target: str, pip_options: list[str]) -> None:
    """The newest release of ``requirement`` whose ``Requires-Python`` admits :data:`OLDEST`,
    unpacked into ``target``. An index gives pip ``Requires-Python`` before it downloads; files
    from ``--find-links`` are read only once unpacked, so a release that excludes :data:`OLDEST`
    is struck off and pip asked again."""
    argv = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--only-binary", ":all:"]
    argv += ["--python-version", OLDEST, "--disable-pip-version-check", "--quiet", *pip_options]
    excluded: list[tuple[str, str]] = []
    for _ in range(MAX_SKIPPED):
        with tempfile.TemporaryDirectory(prefix="pkgres-patcher-pyz-", dir=target) as scratch:
            asked = ",".join([requirement, *(f"!={v}" for v, _ in excluded)])
            proc = subprocess.run(
                [*argv, "--target", scratch, asked], stdin=subprocess.DEVNULL, capture_output=True, text=True
            )
            if proc.returncode != 0:
                errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
                reason = errors[-1][len("ERROR: ") :] if errors else f"pip exited with status {proc.returncode}"
                needs = "".join(f"; {v} needs Python {r}" for v, r in excluded)
                raise BuildError(f"{name}: no release of {requirement} supports Python {OLDEST}{needs} (pip: {reason})")
            version, requires = requires_python(scratch).get(name, ("", ""))
            if runs_on_oldest(requires):
                for entry in os.listdir(scratch):
                    if entry != "bin":
                        os.replace(os.path.join(scratch, entry), os.path.join(target, entry))
                return
            excluded.append((version, requires))
    raise BuildError(
        f"{name}: the newest {MAX_SKIPPED} releases of {requirement} found need a newer Python than {OLDEST}"
    )


def vendor(target: str, pip_options: list[str]) -> None:
    """The dependencies' wheels unpacked into ``target`` by pip: pure Python, each a release that
    runs on :data:`OLDEST` (decided from its ``Requires-Python``), or a one-line refusal."""
    for name, requirement in dependencies():
        vendor_one(name, requirement, target, pip_options)
    for name in walk(target):
        if name.endswith((".so", ".pyd", ".dylib")):
            raise BuildError(f"{name}: not pure Python; a zip cannot import it")


def walk(top: str) -> Iterator[str]:
    """Every file below ``top``, relative, ``/``-separated, without byte-code or scripts."""
    for directory, dirs, names in os.walk(top):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not (directory == top and d == "bin")]
        for name in names:
            if not name.endswith((".pyc", ".pyo")):
                yield os.path.relpath(os.path.join(directory, name), top).replace(os.sep, "/")


def members(deps: str) -> dict[str, str]:
    """Archive name -> file on disk: the package, its patch set as ``patcher/patches``, the dependencies."""
    found: dict[str, str] = {}
    package = os.path.join(ROOT, "patcher")
    for name in walk(package):
        if name.endswith(".py") or PACKAGE_DATA.match(name):
            found[f"patcher/{name}"] = os.path.join(package, name)
    patches = os.path.join(ROOT, "patches")
    for name in walk(patches):
        if PATCHES_DATA.match(name):
            found[f"patcher/patches/{name}"] = os.path.join(patches, name)
    if "patcher/patches/series" not in found:
        raise BuildError(f"{patches}: no patch set (missing series file)")
    for name in walk(deps):
        found[name] = os.path.join(deps, name)
    return found


def _date_time() -> tuple[int, int, int, int, int, int]:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return (1980, 1, 1, 0, 0, 0)
    return time.gmtime(max(int(epoch), 315532800))[:6]


def archive(files: dict[str, str]) -> bytes:
    """The zip: entries sorted, fixed times and modes, so that the same sources give the same bytes."""
    buffer = io.BytesIO()
    stamp = _date_time()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with open(files[name], "rb") as f:
                zf.writestr(info, f.read())
        info = zipfile.ZipInfo("__main__.py", stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        zf.writestr(info, MAIN)
    return buffer.getvalue()


def write(output: str, data: bytes) -> None:
    """``output``: the shebang line and the zip (:mod:`zipapp`), executable, written atomically."""
    directory = os.path.dirname(os.path.abspath(output))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(output)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            zipapp.create_archive(io.BytesIO(data), f, interpreter=INTERPRETER)
            mask = os.umask(0)
            os.umask(mask)
            os.fchmod(f.fileno(), 0o777 & ~mask)
        os.replace(tmp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--output", "-o", default=DEFAULT_OUTPUT, help=f"the archive (default: {DEFAULT_OUTPUT})")
    parser.add_argument("--find-links", action="append", default=[], metavar="DIR", help="passed on to pip")
    parser.add_argument("--no-index", action="store_true", help="passed on to pip")
    args = parser.parse_args(argv)
    pip_options = [f"--find-links={d}" for d in args.find_links] + (["--no-index"] if args.no_index else [])
    try:
        with tempfile.TemporaryDirectory(prefix="pkgres-patcher-pyz-") as deps:
            vendor(deps, pip_options)
            data = archive(members(deps))
        write(args.output, data)
    except BuildError as exc:
        sys.stderr.write(f"build_pyz: {exc}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"build_pyz: {exc.filename or args.output}: {exc.strerror or exc}\n")
        return 1
    print(f"{args.output}: {len(data) // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
