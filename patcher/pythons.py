"""Which interpreters can run a copy: the ones asked for (``--run-with``), else the one whose
``sys.path`` holds it (a ``--python`` target), the prefix's own,
the ``pythonX.Y`` an egg's name or a ``lib/pythonX.Y`` directory names (on ``PATH`` or through
pyenv), and, for a copy too old for those, the Pythons its release said it supported."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from functools import cache

from patcher.model import Container, Copy
from patcher.scan.syspath import Interpreter

__all__ = [
    "candidates",
    "find_python",
    "holders",
    "named_versions",
    "pyenv_python",
    "supported_pythons",
    "supported_versions",
    "version_of",
]

_LIB_PYTHON = re.compile(r"^python(\d+\.\d+)$")
_EGG_TAG = re.compile(r"-py(\d+\.\d+)(?:-[^/]*)?\.egg$")
_CLASSIFIER = re.compile(r"^Classifier:\s*Programming Language :: Python :: (\d+\.\d+)\s*$", re.MULTILINE)


@cache
def version_of(python: str) -> str | None:
    """``X.Y`` of an interpreter, asked; None when it does not run."""
    try:
        proc = subprocess.run(
            [python, "-S", "-c", "import sys; sys.stdout.write('%d.%d' % sys.version_info[:2])"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    answer = proc.stdout.strip()
    return answer if proc.returncode == 0 and re.fullmatch(r"\d+\.\d+", answer) else None


def pyenv_python(version: str) -> str | None:
    """pyenv's interpreter of ``version`` (``2.7``: the newest 2.7.z), or None."""
    roots = []
    pyenv = shutil.which("pyenv")
    if pyenv:
        proc = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
        if proc.returncode == 0 and proc.stdout.strip():
            roots.append(proc.stdout.strip())
    roots.append(os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv"))
    for root in roots:
        found = glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", "python"))
        found.sort(key=lambda p: [int(x) for x in re.findall(r"\d+", p.split(os.sep)[-3])])
        for candidate in reversed(found):
            if os.access(candidate, os.X_OK):
                return candidate
    return None


@cache
def find_python(version: str) -> str | None:
    """An interpreter of Python ``version``: ``pythonX.Y`` on PATH when it runs as that version
    (a pyenv shim may not), else pyenv's."""
    on_path = shutil.which(f"python{version}")
    if on_path and version_of(on_path) == version:
        return on_path
    found = pyenv_python(version)
    return found if found and version_of(found) == version else None


def _prefix_pythons(path: str) -> list[str]:
    """The interpreters of the prefix a path lies in (``<prefix>/lib/pythonX.Y/...``), and the
    versions named by ``lib/pythonX.Y`` or an egg's ``-pyX.Y`` tag, found elsewhere."""
    parts = os.path.abspath(path).split(os.sep)
    found: list[str] = []
    for i, part in enumerate(parts):
        match = _LIB_PYTHON.match(part)
        if match and i >= 1 and parts[i - 1] in ("lib", "lib64"):
            prefix = os.sep.join(parts[: i - 1]) or os.sep
            version = match.group(1)
            for name in (f"python{version}", "python3" if version.startswith("3") else "python2", "python"):
                exe = os.path.join(prefix, "bin", name)
                if os.access(exe, os.X_OK) and version_of(exe) == version:
                    found.append(exe)
                    break
            other = find_python(version)
            if other:
                found.append(other)
    egg = _EGG_TAG.search(path)
    if egg:
        other = find_python(egg.group(1))
        if other:
            found.append(other)
    return found


def holders(copy: Copy, interpreters: Iterable[Interpreter]) -> list[str]:
    """The interpreters (of those scanned) that import ``copy``: an entry of their ``sys.path``
    holds it, or their ensurepip bundles its wheel."""
    places = {os.path.realpath(p) for p in (copy.file, copy.via) if p is not None}
    found = []
    for interpreter in interpreters:
        entries = [os.path.realpath(entry) for entry in interpreter.path]
        if copy.bundled_by == interpreter.python or any(
            place == entry or place.startswith(entry.rstrip(os.sep) + os.sep) for place in places for entry in entries
        ):
            found.append(interpreter.python)
    return found


def candidates(copy: Copy, pythons: Sequence[str], holding: Sequence[str] = ()) -> list[str]:
    """The interpreters to try for ``copy``, best first: those asked for (``pythons``); else
    those that import it (``holding``, see :func:`holders`), its prefix's own and the version
    its path names; else the running interpreter."""
    if pythons:
        return list(dict.fromkeys(pythons))
    where = copy.file if copy.container is not Container.EGG_DIR else copy.file.split(".egg" + os.sep)[0] + ".egg"
    found = [*holding, *_prefix_pythons(where)]
    found.append(sys.executable)
    return list(dict.fromkeys(found))


def supported_versions(metadata: Iterable[str]) -> list[str]:
    """The Pythons (``X.Y``, newest first) a release's metadata lists in its classifiers."""
    versions: set[str] = set()
    for text in metadata:
        versions.update(_CLASSIFIER.findall(text))
    return sorted(versions, key=lambda v: tuple(int(x) for x in v.split(".")), reverse=True)


def supported_pythons(metadata: Iterable[str]) -> list[str]:
    """The interpreters found of the Pythons a release's classifiers list, newest first."""
    return [exe for exe in (find_python(v) for v in supported_versions(metadata)) if exe]


def named_versions(copy: Copy) -> list[str]:
    """The Pythons (``X.Y``) the copy's path names: ``lib/pythonX.Y``, an egg's ``-pyX.Y``."""
    where = copy.file if copy.container is not Container.EGG_DIR else copy.file.split(".egg" + os.sep)[0] + ".egg"
    parts = os.path.abspath(where).split(os.sep)
    found = [m.group(1) for lib, p in zip(parts, parts[1:]) if lib in ("lib", "lib64") and (m := _LIB_PYTHON.match(p))]
    egg = _EGG_TAG.search(where)
    return list(dict.fromkeys(found + ([egg.group(1)] if egg else [])))
