"""What the ``locate`` tests share: a one-line patch set that fits every copy, and the
expected JSON of a copy computed without the code under test."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from tests.conftest import (
    cli,
)

PKG = "pkg_resources/__init__.py"
PIP_VENDORED = "pip/_vendor/pkg_resources/__init__.py"

#: a one-line patch that fits every pkg_resources from 2014 to 2026 (each has exactly one
#: ``import zipfile`` line), so that ``state`` is computed by the real engine on every copy
MARKER = b"import zipfile  # pkgres-patcher test marker"
PATCH = """\
Description: test marker on the zipfile import
Author: pkgres-patcher tests
Origin: vendor
Bug: https://example.invalid/test
Forwarded: not-needed
Applied-Upstream: no
Last-Update: 2026-01-01
Upstream-Releases: setuptools>=0
---
--- a/__init__.py
+++ b/__init__.py
@@ -1,1 +1,1 @@
-import zipfile
+import zipfile  # pkgres-patcher test marker
"""


def write_patchset(directory: Path) -> Path:
    (directory / "marker").mkdir(parents=True)
    (directory / "series").write_text("marker/any.patch\n")
    (directory / "marker" / "any.patch").write_text(PATCH)
    return directory


def locate(patches: Path, *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    code, out, err = cli("locate", "--json", "--patches", str(patches), *argv)
    copies = json.loads(out)["copies"]
    for copy in copies:
        copy.pop("patches")  # the engine's plan: tested with the engine
    return code, copies, err


def keyed(copies: list[dict[str, Any]]) -> dict[tuple[str, str | None], dict[str, Any]]:
    result = {(c["file"], c["member"]): c for c in copies}
    assert len(result) == len(copies), f"a copy is listed twice: {copies}"
    return result


def sha_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sha_member(archive: Path, member: str) -> str:
    with zipfile.ZipFile(archive) as zf:
        return hashlib.sha256(zf.read(member)).hexdigest()


def dist(name: str, version: str) -> dict[str, str]:
    return {"name": name, "version": version}


def setuptools(version: str) -> dict[str, str]:
    return dist("setuptools", version)


def vendor_txt_setuptools(wheel: Path) -> str | None:
    """What a pip wheel's own ``_vendor/vendor.txt`` says, read without the code under test."""
    with zipfile.ZipFile(wheel) as zf:
        if "pip/_vendor/vendor.txt" not in zf.namelist():
            return None
        for line in zf.read("pip/_vendor/vendor.txt").decode().splitlines():
            if line.lower().startswith("setuptools=="):
                return line.split("==", 1)[1].split("#")[0].strip()
    return None


def copy_entry(
    file: Path,
    *,
    member: str | None = None,
    container: str = "directory",
    vendored_by: str | None = None,
    owner: dict[str, str] | None = None,
    upstream: dict[str, str] | None = None,
    sha256: str,
    state: str = "unpatched",
    conflicts: list[dict[str, str]] | None = None,
    via: Path | None = None,
) -> dict[str, Any]:
    return {
        "file": str(file),
        "member": member,
        "container": container,
        "vendored_by": vendored_by,
        "owner": owner,
        "upstream": upstream,
        "sha256": sha256,
        "state": state,
        "conflicts": conflicts or [],
        "bundled_by": None,
        "via": None if via is None else str(via),
        "manager": None,
    }


def console_command() -> list[str]:
    script = Path(sys.executable).parent / "pkgres-patcher"
    return [str(script)] if script.exists() else [sys.executable, "-m", "patcher"]


def console(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*console_command(), *argv], capture_output=True, text=True, check=False)


def deep_dir(root: Path) -> str:
    """A directory whose path is longer than PATH_MAX: unreadable by path, even for root."""
    fd = os.open(root, os.O_RDONLY)
    try:
        component = "d" * 200
        for _ in range(25):
            os.mkdir(component, dir_fd=fd)
            new = os.open(component, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = new
        os.mkdir("pkg_resources", dir_fd=fd)
    finally:
        os.close(fd)
    return os.path.join(str(root), *(["d" * 200] * 25))
