"""``drift`` reads an sdist as an archive, fetched from the index pip is configured for: never
prepared (built) by pip, whose ``pip download`` of an sdist runs its build hooks. And it checks
only the projects whose copies it knows, refusing others before any pip process starts.
"""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import CACHE, cli, download, make_patchset, pkg_resources_of
from .simple_index import SimpleIndex, environ, pip_env, sha256_of

SDISTS = CACHE / "sdists"

#: a PEP 517 backend that springs when anything prepares the sdist: writes the marker, fails
TRAP_BACKEND = """\
import pathlib
pathlib.Path({marker!r}).write_text("built")
raise SystemExit("this sdist was built")
"""
TRAP_PYPROJECT = """\
[build-system]
requires = []
build-backend = "trap"
backend-path = ["."]
"""


def real_sdist(project: str, version: str) -> Path:
    """A real upstream sdist, fetched once (as a file, never built) from the user's index."""
    SDISTS.mkdir(parents=True, exist_ok=True)
    found = sorted(p for p in SDISTS.glob(f"{project}-{version}.*") if not p.name.startswith("."))
    if found:
        return found[0]
    from packaging.version import Version

    from patcher.releases.simple import fetch_sdist

    return Path(fetch_sdist(project, Version(version), str(SDISTS)))


def trap_sdist(real: Path, dest: Path, version: str, marker: Path) -> Path:
    """The real sdist re-versioned as ``version``, its build hooks (and setup.py) a trap."""
    old_top = real.name[: -len(".tar.gz")]
    top = f"setuptools-{version}"
    target = dest / f"{top}.tar.gz"
    trap = TRAP_BACKEND.format(marker=str(marker)).encode()
    with tarfile.open(real) as tin, tarfile.open(target, "w:gz") as tout:
        for member in tin:
            data = tin.extractfile(member).read() if member.isfile() else None  # type: ignore[union-attr]
            rest = member.name.split("/", 1)[1] if "/" in member.name else ""
            if rest in ("pyproject.toml", "setup.py"):
                continue
            member.name = f"{top}/{rest}" if rest else top
            member.pax_headers = {}  # a "path" there would still name the old top directory
            if rest == "PKG-INFO" and data is not None:
                data = data.replace(f"Version: {old_top.split('-')[1]}".encode(), f"Version: {version}".encode(), 1)
            if data is not None:
                member.size = len(data)
            tout.addfile(member, io.BytesIO(data) if data is not None else None)
        for name, text in (("pyproject.toml", TRAP_PYPROJECT.encode()), ("trap.py", trap), ("setup.py", trap)):
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(text)
            tout.addfile(info, io.BytesIO(text))
    return target


@pytest.fixture
def patches(tmp_path: Path) -> Path:
    return make_patchset(tmp_path / "patches")


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "built-marker"


@pytest.fixture
def sdists(tmp_path: Path, marker: Path) -> list[Path]:
    """The real setuptools 60.0.0 sdist, and a trap: setuptools 99.1.0 made from it."""
    real = real_sdist("setuptools", "60.0.0")
    (tmp_path / "sdists").mkdir()
    return [real, trap_sdist(real, tmp_path / "sdists", "99.1.0", marker)]


def use_index(monkeypatch: pytest.MonkeyPatch, url: str | None) -> None:
    for name, value in pip_env(url).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def leftovers(cache: Path) -> list[str]:
    return [str(p) for p in cache.rglob("*") if p.name.startswith(".")]


def test_the_trap_springs_when_pip_prepares_the_sdist(sdists: list[Path], marker: Path, tmp_path: Path) -> None:
    """What the trap proves: ``pip download`` of an sdist runs its build hooks."""
    with SimpleIndex(tmp_path / "index", sdists) as index:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-d", str(tmp_path / "d")]
            + ["setuptools==99.1.0"],
            capture_output=True,
            text=True,
            env=environ(pip_env(index.url)),
        )
    assert proc.returncode != 0
    assert marker.read_text() == "built"


@pytest.mark.parametrize("formats", [("html",), ("json",)], ids=["pep503-html", "pep691-json"])
def test_sdists_are_read_never_built(
    sdists: list[Path],
    marker: Path,
    patches: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    formats: tuple[str, ...],
) -> None:
    cache = tmp_path / "cache"
    with SimpleIndex(tmp_path / "index", sdists, formats=formats) as index:
        use_index(monkeypatch, index.url)
        run = cli(
            "drift",
            "--format",
            "json",
            "--quiet",
            "setuptools==60.0.0",
            "setuptools==99.1.0",
            "--patches",
            str(patches),
            "--cache-dir",
            str(cache),
        )
    assert (run.code, run.err) == (0, "")
    assert not marker.exists()
    wheel_copy = pkg_resources_of(download("setuptools", "60.0.0"))
    import hashlib

    results = {r["version"]: r for r in run.json["results"]}
    assert sorted(results) == ["60.0.0", "99.1.0"]
    for result in results.values():
        assert result["status"] == "clean"
        assert result["sha256"] == hashlib.sha256(wheel_copy).hexdigest()  # the sdist's copy is the wheel's
    stored = sorted(p.name for p in (cache / "releases" / "setuptools").iterdir())
    assert stored == ["setuptools-60.0.0.tar.gz", "setuptools-99.1.0.tar.gz"]
    assert sha256_of(cache / "releases" / "setuptools" / "setuptools-99.1.0.tar.gz") == sha256_of(sdists[1])
    assert leftovers(cache) == []


def test_pip_configuration_file_names_the_index(
    sdists: list[Path], marker: Path, patches: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SimpleIndex(tmp_path / "index", sdists) as index:
        use_index(monkeypatch, None)
        config = tmp_path / "pip.conf"
        config.write_text(f"[global]\nindex-url = {index.url}\n")
        monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
        run = cli(
            "drift", "--quiet", "setuptools==99.1.0", "--patches", str(patches), "--cache-dir", str(tmp_path / "c")
        )
    assert (run.code, run.err) == (0, "")
    assert not marker.exists()


def test_an_sdist_in_a_find_links_directory_is_copied(
    sdists: list[Path], marker: Path, patches: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    run = cli(
        "drift",
        "--quiet",
        "setuptools==99.1.0",
        "--no-index",
        "--find-links",
        str(sdists[1].parent),
        "--patches",
        str(patches),
        "--cache-dir",
        str(cache),
    )
    assert (run.code, run.err) == (0, "")
    assert not marker.exists()
    assert sha256_of(cache / "releases" / "setuptools" / "setuptools-99.1.0.tar.gz") == sha256_of(sdists[1])


def test_an_sdist_whose_hash_does_not_match_is_refused(
    sdists: list[Path], marker: Path, patches: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    with SimpleIndex(tmp_path / "index", sdists[1:], hashes={sdists[1].name: "0" * 64}) as index:
        use_index(monkeypatch, index.url)
        run = cli("drift", "--quiet", "setuptools==99.1.0", "--patches", str(patches), "--cache-dir", str(cache))
    assert run.code == 3
    [line] = run.err.splitlines()
    assert line.startswith("pkgres-patcher: cannot fetch setuptools 99.1.0: ")
    assert "sha256" in line and "0" * 64 in line
    assert not marker.exists()
    assert not (cache / "releases" / "setuptools").exists() or list((cache / "releases" / "setuptools").iterdir()) == []


@pytest.fixture
def dead_index() -> Iterator[tuple[str, socket.socket]]:
    """An index URL on a port that listens but never answers: any connection attempt shows."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/simple/", listener
    finally:
        listener.close()


def attempted(listener: socket.socket) -> bool:
    try:
        conn, _ = listener.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


@pytest.mark.parametrize("requirement", ["six==1.16.0", "numpy>=1", "Cython"])
def test_drift_refuses_projects_it_has_no_copy_of(
    requirement: str,
    patches: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dead_index: tuple[str, socket.socket],
) -> None:
    url, listener = dead_index
    use_index(monkeypatch, url)
    # were pip asked, it would give up at once (and the connection would show)
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "1")
    monkeypatch.setenv("PIP_RETRIES", "0")
    run = cli("drift", requirement, "setuptools==60.0.0", "--patches", str(patches), "--cache-dir", str(tmp_path / "c"))
    assert (run.code, run.out) == (2, "")
    name = requirement.split("=")[0].split(">")[0]
    assert run.err.splitlines()[-1].endswith(
        f"{name}: no known copy of pkg_resources in it (only setuptools, pip and pkg-resources-backport are checked)"
    )
    assert not attempted(listener)
    assert not (tmp_path / "c").exists()
    run = cli("refresh", "zip-manifest-load", "--for", requirement, "--patches", str(patches))
    assert run.code == 2
    assert f"{name}: no known copy of pkg_resources in it" in run.err.splitlines()[-1]
    assert not attempted(listener)
