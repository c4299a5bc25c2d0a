#!/usr/bin/env python3
"""Build ``pkgres-patcher.pyz``: the tool, its patch set and its dependencies in one file.

For builds that install pip and setuptools themselves, before any other package exists: the
file runs with any Python >= 3.9, in isolated mode, from the zip itself (nothing is unpacked,
no home directory is needed)::

    python3 -I pkgres-patcher.pyz apply PREFIX

Run it with the Python the tool is installed in (it vendors the dependencies' installed
versions, fetched by that Python's pip as wheels for Python 3.9; ``--find-links DIR`` and
``--no-index`` are passed on to pip, so that it can run offline)::

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


def dependencies() -> list[str]:
    """The runtime dependencies as installed here, pinned: ``setup.cfg``'s ``install_requires``."""
    from importlib.metadata import PackageNotFoundError, version

    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"), encoding="utf-8")
    pinned = []
    for line in config.get("options", "install_requires").split("\n"):
        name = re.split(r"[\s<>=!~;\[]", line.strip(), maxsplit=1)[0]
        if not name:
            continue
        try:
            pinned.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            raise BuildError(f"{name} is not installed in {sys.executable}: run this with the tool's venv") from None
    return pinned


def vendor(target: str, pip_options: list[str]) -> None:
    """The dependencies' wheels unpacked into ``target`` by pip: pure Python, for :data:`OLDEST`."""
    argv = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--target", target]
    argv += ["--only-binary", ":all:", "--python-version", OLDEST, "--disable-pip-version-check", "--quiet"]
    proc = subprocess.run([*argv, *pip_options, *dependencies()], stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise BuildError(f"pip could not install the dependencies (exit status {proc.returncode})")
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
