"""A real upstream wheel for a benchmark: from the tests' cache, fetched with pip when missing.

pip runs with the user's own configuration (index, proxies, certificates), as in the tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: the tests' wheel cache (``tests/conftest.py``): benchmarks and tests share downloads
TEST_WHEELS = (
    Path(os.environ.get("PKGRES_PATCHER_TEST_CACHE", Path.home() / ".cache" / "pkgres-patcher-tests")) / "wheels"
)


def _found(directory: Path, name: str, version: str) -> list[Path]:
    """Wheels of the release in ``directory``, whichever spelling of the name the wheel uses."""
    names = {name, name.replace("-", "_")}
    return sorted(p for n in names for p in directory.glob(f"{n}-{version}-*.whl"))


def wheel(name: str, version: str, directory: Path = TEST_WHEELS) -> Path:
    """The wheel of ``name==version`` in ``directory``, downloaded there first when missing."""
    found = _found(directory, name, version)
    if not found:
        directory.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
            + ["--disable-pip-version-check", "--quiet", "-d", str(directory), f"{name}=={version}"],
            check=True,
        )
        found = _found(directory, name, version)
    if not found:
        sys.exit(f"no wheel for {name}=={version} in {directory}")
    return found[0]
