"""Shared fixtures: real upstream wheels (cached ``pip download``), real venvs, real eggs.

Downloads go through ``pip`` (so the user's pip configuration applies) into a cache that
survives between runs: ``$PKGRES_PATCHER_TEST_CACHE`` or ``~/.cache/pkgres-patcher-tests``.
"""

from __future__ import annotations

import email.parser
import importlib.resources
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import jsonschema
import pytest

from patcher.cli import main

#: the order the tests run in: as written (default), ``reverse``, or ``shuffle:SEED``; every test
#: must pass in any order (each makes what it needs: no test leans on another's leftovers)
ORDER = os.environ.get("PKGRES_PATCHER_TEST_ORDER", "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ORDER == "reverse":
        items.reverse()
    elif ORDER.startswith("shuffle:"):
        import random

        random.Random(ORDER.split(":", 1)[1]).shuffle(items)
    elif ORDER:
        raise pytest.UsageError(f"PKGRES_PATCHER_TEST_ORDER={ORDER!r}: 'reverse' or 'shuffle:SEED'")


CACHE = Path(os.environ.get("PKGRES_PATCHER_TEST_CACHE", Path.home() / ".cache" / "pkgres-patcher-tests"))
WHEELS = CACHE / "wheels"


def _wheel_glob(name: str, version: str) -> str:
    return f"{re.sub(r'[-_.]+', '_', name)}-{version}-*.whl"  # a wheel's name escaped (zc.buildout: zc_buildout)


def download(name: str, version: str, *, any_python: bool = False) -> Path:
    """A real upstream wheel, from the cache or fetched once with ``pip download`` (``any_python``:
    whatever its ``Requires-Python`` says of the running one)."""
    WHEELS.mkdir(parents=True, exist_ok=True)
    pattern = _wheel_glob(name, version)
    found = sorted(WHEELS.glob(pattern)) or sorted(WHEELS.glob(pattern.replace("_", "-")))
    if not found:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary",
                ":all:",
                "--disable-pip-version-check",
                "--quiet",
                *(["--ignore-requires-python"] if any_python else []),
                "-d",
                str(WHEELS),
                f"{name}=={version}",
            ],
            check=True,
        )
        found = sorted(WHEELS.glob(pattern)) or sorted(WHEELS.glob(pattern.replace("_", "-")))
    assert found, f"pip download gave no wheel for {name}=={version}"
    return found[0]


def pip_install(*args: str) -> None:
    """Real pip, offline, with what every test install wants: no dependencies, no index, no
    byte-code, quiet. ``args`` start with pip's command (``install``), or with ``--python EXE``."""
    argv = [sys.executable, "-m", "pip", *args]
    at = argv.index("install") + 1
    argv[at:at] = ["--no-deps", "--no-index", "--no-compile", "--disable-pip-version-check", "--quiet"]
    subprocess.run(argv, check=True)


def byte_code_egg(directory: Path) -> Path:
    """An egg built without sources (``bdist_egg --exclude-source-files``): only byte-code."""
    import importlib.util
    import marshal

    egg = directory / "setuptools-44.1.1-py3.11.egg"
    with zipfile.ZipFile(download("setuptools", "44.1.1")) as src, zipfile.ZipFile(egg, "w") as out:
        for name in src.namelist():
            if ".dist-info/" in name:
                continue
            data = src.read(name)
            if name.endswith(".py"):
                code = compile(data, name, "exec")
                out.writestr(name + "c", importlib.util.MAGIC_NUMBER + b"\0" * 12 + marshal.dumps(code))
            else:
                out.writestr(name, data)
        out.writestr("EGG-INFO/PKG-INFO", "Metadata-Version: 1.1\nName: setuptools\nVersion: 44.1.1\n")
    return egg


def wheel_version(wheel: Path) -> str:
    return wheel.name.split("-")[1]


def pyenv_python(version: str) -> str | None:
    """The pyenv interpreter for ``version`` (e.g. ``2.7``), or None when pyenv lacks it."""
    from patcher.pythons import pyenv_python as find

    return find(version)


def require_python(version: str) -> str:
    exe = pyenv_python(version)
    if exe is None:
        pytest.skip(f"Python {version} is not installed (pyenv has no {version}.x)")
    return exe


def venv_python() -> str:
    """The interpreter test venvs are made with: this one, unless it is too old for the releases
    they install (setuptools 81 and pip 26.3 need Python >= 3.10; the patcher itself runs on 3.9)."""
    if sys.version_info >= (3, 10):
        return sys.executable
    return require_python("3.11")


class Venv:
    """A real virtual environment made with ``venv``; wheels installed into it by real pip."""

    def __init__(self, root: Path, python: str | None = None) -> None:
        self.root = root
        python = python or venv_python()
        subprocess.run([python, "-m", "venv", "--without-pip", str(root)], check=True)
        self.python = str(root / "bin" / "python")
        out = subprocess.run(
            [self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        )
        self.site = Path(out.stdout.strip())

    def install(self, *wheels: Path) -> None:
        pip_install("--python", self.python, "install", *map(str, wheels))

    def run(self, code: str, *, check: bool = False, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """``code`` run by the venv's interpreter, its output caught as text."""
        return subprocess.run([self.python, "-c", code], capture_output=True, text=True, check=check, timeout=timeout)


def make_egg(
    wheel: Path, dest_dir: Path, pyver: str = "2.7", zipped: bool = True, only: Callable[[str], bool] | None = None
) -> Path:
    """Lay out an egg from a wheel as easy_install did: the code plus ``EGG-INFO/PKG-INFO``."""
    with zipfile.ZipFile(wheel) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.BytesParser().parsebytes(zf.read(meta_name), headersonly=True)
        name, version = meta["Name"], meta["Version"]
        egg = dest_dir / f"{name.replace('-', '_')}-{version}-py{pyver}.egg"
        members = [
            n for n in zf.namelist() if ".dist-info/" not in n and not n.endswith("/") and (only is None or only(n))
        ]
        pkg_info = zf.read(meta_name)
        top_level = sorted({n.split("/")[0] for n in members if "/" in n})
        if zipped:
            with zipfile.ZipFile(egg, "w", zipfile.ZIP_DEFLATED) as out:
                for n in members:
                    out.writestr(zf.getinfo(n), zf.read(n))
                out.writestr("EGG-INFO/PKG-INFO", pkg_info)
                out.writestr("EGG-INFO/top_level.txt", "\n".join(top_level) + "\n")
        else:
            for n in members:
                target = egg / n
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(n))
            (egg / "EGG-INFO").mkdir(parents=True)
            (egg / "EGG-INFO" / "PKG-INFO").write_bytes(pkg_info)
            (egg / "EGG-INFO" / "top_level.txt").write_text("\n".join(top_level) + "\n")
    return egg


def add_to_easy_install_pth(site: Path, *eggs: Path) -> None:
    """List eggs in ``easy-install.pth``, the way easy_install put them on ``sys.path``."""
    pth = site / "easy-install.pth"
    lines = pth.read_text().splitlines() if pth.exists() else []
    lines += [f"./{egg.name}" for egg in eggs]
    pth.write_text("\n".join(lines) + "\n")


class CliRun(NamedTuple):
    """One run of the command line in this process: its exit status and what it wrote to each stream."""

    code: int
    out: str
    err: str

    @property
    def json(self) -> dict[str, Any]:
        """``out`` parsed: what ``--json`` / ``--format json`` print is one JSON object."""
        data: dict[str, Any] = json.loads(self.out)
        return data


#: the JSON Schemas shipped in ``patcher/schemas``, by name; ``apply`` describes ``revert`` too
SCHEMA_FILES = ("locate", "apply", "drift", "refresh", "verify", "export", "upstream")


def load_schema(name: str) -> dict[str, Any]:
    """A shipped JSON Schema, read as a user reads it: a data file of the installed package."""
    text = (importlib.resources.files("patcher") / "schemas" / f"{name}.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_json(document: Any) -> None:
    """Check a JSON output against the shipped schema its ``schema`` field names."""
    kind = document["schema"].split("/")[1]
    schema = load_schema("apply" if kind == "revert" else kind)
    jsonschema.Draft202012Validator(schema).validate(document)


def json_output(text: str) -> dict[str, Any]:
    """A JSON output (of a run in another process) parsed, and validated against its schema."""
    document: dict[str, Any] = json.loads(text)
    validate_json(document)
    return document


def _json_asked(argv: tuple[str, ...]) -> bool:
    return "--json" in argv or any(a == "--format" and b == "json" for a, b in zip(argv, argv[1:]))


def cli(*argv: str) -> CliRun:
    """Run ``pkgres-patcher *argv`` in this process, its output and errors caught in strings.

    Every JSON output is validated against its shipped schema: with ``--json`` (or
    ``--format json``) a run that is not a usage error prints one JSON document, on stdout or
    in the ``--output`` file.
    """
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    run = CliRun(code, out.getvalue(), err.getvalue())
    if _json_asked(argv) and code != 2:
        # drift's --output is the report's file; export's, apply's and revert's a directory they write
        output = Path(argv[argv.index("--output") + 1]) if "--output" in argv and argv[0] == "drift" else None
        if output is None:
            json_output(run.out)
        elif output.exists():  # a run that stopped writes no file
            json_output(output.read_text())
    return run


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file below ``root`` with its mode and bytes: to prove that nothing changed."""
    state = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                continue
            with open(path, "rb") as f:
                state[os.path.relpath(path, root)] = (os.stat(path).st_mode, f.read())
    return state


@pytest.fixture
def freeze(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[Path], None]]:
    """Make a file immutable for real (``chattr +i``: not even root may replace it), undone
    after the test; skips where chattr or the file system does not support it."""
    if shutil.which("chattr") is None or shutil.which("lsattr") is None:
        pytest.skip("chattr/lsattr not installed: no immutable files here")
    frozen: list[Path] = []

    def make_immutable(path: Path) -> None:
        run = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if run.returncode == 0:
            frozen.append(path)
        shown = subprocess.run(["lsattr", "-d", str(path)], capture_output=True, text=True).stdout.split()
        if run.returncode or not shown or "i" not in shown[0]:
            pytest.skip(f"chattr +i not supported for {path} ({run.stderr.strip() or 'not set'})")

    probe = tmp_path_factory.mktemp("chattr") / "probe"
    probe.touch()
    make_immutable(probe)  # skips before the test starts, not midway
    try:
        yield make_immutable
    finally:
        for path in frozen:
            subprocess.run(["chattr", "-i", str(path)], check=False)


@pytest.fixture(autouse=True)
def _private_lock_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep the tests' lock files out of the user's runtime directory, and give each test a
    cache of its own: a state one test's run remembers must not answer for another test."""
    monkeypatch.setenv("PKGRES_PATCHER_LOCK_DIR", str(tmp_path_factory.getbasetemp() / "locks"))
    monkeypatch.setenv("PKGRES_PATCHER_CACHE_DIR", str(tmp_path_factory.mktemp("user-cache")))
    yield


class VenvFactory(Protocol):
    """The ``venv_factory`` fixture: a new venv below the test's ``tmp_path`` at each call."""

    def __call__(self, python: str | None = None) -> Venv: ...


@pytest.fixture
def venv_factory(tmp_path: Path) -> VenvFactory:
    counter = iter(range(1000))

    def make(python: str | None = None) -> Venv:
        return Venv(tmp_path / f"venv{next(counter)}", python)

    return make


# --- drift / refresh: a small real patch set and made-up releases ----------------------------

#: the cache directory ``drift`` tests share between runs (``--cache-dir``): the releases it
#: fetches through pip are kept in its ``releases/``
RELEASES = CACHE

_DEP3 = """Description: {description}
Author: pkgres-patcher tests
Origin: vendor
Bug: https://trac.sagemath.org/ticket/21435
Forwarded: no
Applied-Upstream: no
Last-Update: 2024-01-01
Upstream-Releases: setuptools>=44
 pip>=10
---
"""

#: (patch, description, old text, new text): two spots of the real pkg_resources
DRIFT_PATCHES = (
    (
        "zip-manifest-load",
        "treat a zip that vanished while its manifest is loaded as empty",
        b"        path = os.path.normpath(path)\n        mtime = os.stat(path).st_mtime\n",
        b"        path = os.path.normpath(path)\n        try:\n            mtime = os.stat(path).st_mtime\n"
        b"        except OSError:\n            return {}\n",
    ),
    (
        "find-eggs-in-zip",
        "skip an egg that vanished while it is scanned",
        b"    metadata = EggMetadata(importer)\n    if metadata.has_metadata('PKG-INFO'):\n",
        b"    metadata = EggMetadata(importer)\n    try:\n        has_pkg_info = metadata.has_metadata('PKG-INFO')\n"
        b"    except OSError:\n        return\n    if has_pkg_info:\n",
    ),
)


def pkg_resources_of(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        return zf.read("pkg_resources/__init__.py")


def unified(old: bytes, new: bytes) -> str:
    import difflib

    lines = difflib.unified_diff(
        old.decode().splitlines(True), new.decode().splitlines(True), "a/__init__.py", "b/__init__.py"
    )
    return "".join(lines)


def make_patchset(dest: Path) -> Path:
    """A patch set of two real spots, diffs made against setuptools 60.0.0 (ranges setuptools>=44, pip>=10)."""
    base = pkg_resources_of(download("setuptools", "60.0.0"))
    series = []
    for name, description, old, new in DRIFT_PATCHES:
        assert base.count(old) == 1, name
        (dest / name).mkdir(parents=True)
        patched = base.replace(old, new)  # each variant is a diff against the pristine file
        (dest / name / "modern.patch").write_text(_DEP3.format(description=description) + unified(base, patched))
        series.append(f"{name}/modern.patch")
    (dest / "series").write_text("\n".join(series) + "\n")
    return dest


def remake_wheel(wheel: Path, dest_dir: Path, version: str, change: Callable[[bytes], bytes]) -> Path:
    """A copy of a real setuptools wheel re-versioned as ``version``, its pkg_resources changed by ``change``."""
    old_version = wheel_version(wheel)
    target = dest_dir / wheel.name.replace(f"-{old_version}-", f"-{version}-")
    with zipfile.ZipFile(wheel) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            name = info.filename.replace(f"setuptools-{old_version}.dist-info", f"setuptools-{version}.dist-info")
            if info.filename == "pkg_resources/__init__.py":
                data = change(data)
            elif name.endswith(".dist-info/METADATA"):
                data = data.replace(f"Version: {old_version}\n".encode(), f"Version: {version}\n".encode(), 1)
            zout.writestr(name, data)
    return target


# --- the single-file build (devtools/build_pyz.py), made once per session --------------------


def build_pyz(output: Path, *options: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``pkgres-patcher.pyz`` built by the documented command, as a user builds it: the
    dependencies resolved afresh through pip (its configuration, its index), or from ``options``
    (``--no-index --find-links DIR``); ``env`` added to the environment. A build that fails fails
    the test, with pip's and the build's words."""
    build = Path(__file__).resolve().parent.parent / "devtools" / "build_pyz.py"
    run = subprocess.run(
        [sys.executable, str(build), "--output", str(output), *options],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert run.returncode == 0, run.stderr
    return run


@pytest.fixture(scope="session")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The single file, built once per session (:func:`build_pyz`)."""
    output = tmp_path_factory.mktemp("pyz") / "pkgres-patcher.pyz"
    build_pyz(output)
    return output
