"""``drift`` reads an sdist as an archive, fetched from the index pip is configured for: never
prepared (built) by pip, whose ``pip download`` of an sdist runs its build hooks. And it checks
only the projects whose copies it knows, refusing others before any pip process starts.
"""

from __future__ import annotations

import hashlib
import io
import socket
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..conftest import CACHE, RELEASES, cli, download, make_patchset, pkg_resources_of
from ..lib.simple_index import SimpleIndex, environ, pip_env, sha256_of

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


def real_sdist(project: str, version: str, suffix: str | None = None) -> Path:
    """A real upstream sdist, fetched once (as a file, never built) from the user's index: the
    one pip's finder takes, or the one ending in ``suffix`` (most releases of 2013-2019 have a
    ``.zip`` beside the ``.tar.gz``)."""
    SDISTS.mkdir(parents=True, exist_ok=True)
    found = sorted(p for p in SDISTS.glob(f"{project}-{version}{suffix or '.*'}") if not p.name.startswith("."))
    if found:
        return found[0]
    from packaging.version import Version

    from patcher.releases import simple

    if suffix is None:
        return Path(simple.fetch_sdist(project, Version(version), str(SDISTS)))
    settings = simple.pip_settings()
    [link] = [
        link for link in simple.find_sdists(project, Version(version), settings) if link.filename.endswith(suffix)
    ]
    return Path(simple._download(link, str(SDISTS), simple._Client(settings), f"{project} {version}"))


def _sdist_suffix(path: Path) -> str:
    return ".zip" if path.name.endswith(".zip") else ".tar.gz"


def trap_sdist(real: Path, dest: Path, version: str, marker: Path) -> Path:
    """The real sdist (``.tar.gz`` or ``.zip``) re-versioned as ``version``, its build hooks (and
    setup.py) a trap."""
    suffix = _sdist_suffix(real)
    old_top = real.name[: -len(suffix)]
    project, old_version = old_top.rsplit("-", 1)
    top = f"{project}-{version}"
    target = dest / f"{top}{suffix}"
    trap = TRAP_BACKEND.format(marker=str(marker)).encode()
    added = (("pyproject.toml", TRAP_PYPROJECT.encode()), ("trap.py", trap), ("setup.py", trap))

    def renamed(name: str, data: bytes | None) -> tuple[str, str, bytes | None]:
        rest = name.split("/", 1)[1] if "/" in name else ""
        if rest == "PKG-INFO" and data is not None:
            data = data.replace(f"Version: {old_version}".encode(), f"Version: {version}".encode(), 1)
        return rest, f"{top}/{rest}" if rest else top, data

    if suffix == ".zip":
        with zipfile.ZipFile(real) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                rest, name, data = renamed(info.filename, zin.read(info))
                if rest not in ("pyproject.toml", "setup.py"):
                    zout.writestr(name + ("/" if info.is_dir() and not name.endswith("/") else ""), data or b"")
            for name, text in added:
                zout.writestr(f"{top}/{name}", text)
        return target
    with tarfile.open(real) as tin, tarfile.open(target, "w:gz") as tout:
        for member in tin:
            rest, member.name, data = renamed(
                member.name,
                tin.extractfile(member).read() if member.isfile() else None,  # type: ignore[union-attr]
            )
            if rest in ("pyproject.toml", "setup.py"):
                continue
            member.pax_headers = {}  # a "path" there would still name the old top directory
            if data is not None:
                member.size = len(data)
            tout.addfile(member, io.BytesIO(data) if data is not None else None)
        for name, text in added:
            trap_info = tarfile.TarInfo(f"{top}/{name}")
            trap_info.size = len(text)
            tout.addfile(trap_info, io.BytesIO(text))
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


@pytest.fixture
def module_era_sdists(tmp_path: Path, marker: Path) -> list[Path]:
    """Real sdists of the module era -- setuptools 5.5.1 as its ``.zip``, pip 6.0 (vendoring the
    single module) as its ``.tar.gz`` -- and a trap made from each: setuptools 5.5.99, pip 6.0.99."""
    real = [real_sdist("setuptools", "5.5.1", ".zip"), real_sdist("pip", "6.0")]
    (tmp_path / "traps").mkdir()
    return real + [trap_sdist(r, tmp_path / "traps", v, marker) for r, v in zip(real, ("5.5.99", "6.0.99"))]


@pytest.mark.parametrize(
    ("files", "requirement"),
    [("sdists", "setuptools==99.1.0"), ("module_era_sdists", "setuptools==5.5.99")],
    ids=["tar.gz", "legacy-zip"],
)
def test_the_trap_springs_when_pip_prepares_the_sdist(
    files: str, requirement: str, marker: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """What the trap proves: ``pip download`` of an sdist runs its build hooks."""
    with SimpleIndex(tmp_path / "index", request.getfixturevalue(files)) as index:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-d", str(tmp_path / "d")]
            + [requirement],
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


# --- the module era: real sdists -------------------------------------------------------------


def sdist_member(archive: Path, inner: str) -> bytes:
    """The file ``inner`` below an sdist's top directory, read without the code under test."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            [name] = [n for n in zf.namelist() if n.partition("/")[2] == inner]
            return zf.read(name)
    with tarfile.open(archive) as tf:
        [member] = [m for m in tf.getmembers() if m.isfile() and m.name.partition("/")[2] == inner]
        stream = tf.extractfile(member)
        assert stream is not None
        return stream.read()


def stored(cache: Path, project: str, version: str) -> Path:
    """The archive of a release drift keeps in its cache: an sdist, never a wheel."""
    [archive] = [
        p
        for p in (cache / "releases" / project).iterdir()
        if p.name in (f"{project}-{version}.tar.gz", f"{project}-{version}.zip")
    ]
    return archive


def patch_statuses(result: dict[str, Any]) -> dict[str, str]:
    return {p["patch"]: p["status"] for p in result["patches"]}


#: setuptools releases of 2013-2014 published only as sdists (a ``.tar.gz`` and a ``.zip``), from
#: the distribute merge on, a release of each era of variants; pip 1.5, an sdist vendoring none
SDIST_ONLY = ("setuptools==0.7.2", "setuptools==1.1.7", "setuptools==4.0.1", "pip==1.5")


def test_sdist_only_releases_through_the_configured_index() -> None:
    """What a user meets: the oldest releases exist only as sdists, found where pip looks (here
    fetched into the tests' cache once, then read from it)."""
    run = cli("drift", "--json", "--quiet", *SDIST_ONLY, "--cache-dir", str(RELEASES))
    assert (run.code, run.err) == (0, "")
    results = {(r["project"], r["version"]): r for r in run.json["results"]}
    assert sorted(results) == [
        ("pip", "1.5"),
        ("setuptools", "0.7.2"),
        ("setuptools", "1.1.7"),
        ("setuptools", "4.0.1"),
    ]
    pip15 = results.pop(("pip", "1.5"))
    assert (pip15["status"], pip15["detail"]) == ("absent", "pip 1.5 has no pkg_resources")
    assert stored(RELEASES, "pip", "1.5").name == "pip-1.5.tar.gz"
    for (project, version), result in results.items():
        archive = stored(RELEASES, project, version)
        assert result["copy"] == "pkg_resources.py"
        assert result["sha256"] == hashlib.sha256(sdist_member(archive, "pkg_resources.py")).hexdigest()
        statuses = patch_statuses(result)
        # before 5.4 the zip manifest is built in a provider's constructor, never stat'ed
        assert statuses.pop("zip-manifest-load") == "not-needed", result
        assert set(statuses.values()) <= {"clean", "offset"}, result
        assert result["status"] in ("clean", "offset")
    # kept as published: the digest the index lists for that file
    from packaging.version import Version

    from patcher.releases.simple import find_sdists, pip_settings

    archive = stored(RELEASES, "setuptools", "0.7.2")
    [link] = [
        link for link in find_sdists("setuptools", Version("0.7.2"), pip_settings()) if link.filename == archive.name
    ]
    assert link.hashes["sha256"] == sha256_of(archive)


def test_module_era_sdists_are_read_never_built(
    module_era_sdists: list[Path], marker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A legacy ``.zip`` (setuptools 5.5.1) and ``.tar.gz`` (pip 6.0, its ``_vendor/pkg_resources.py``),
    and their traps, from an index: each copy read out of the archive, none built."""
    cache = tmp_path / "cache"
    copies = {"setuptools": ("5.5.1", "pkg_resources.py"), "pip": ("6.0", "pip/_vendor/pkg_resources.py")}
    # each release's wheel, fetched before pip is pointed at this test's index (closed after the run)
    wheel_copies = {
        project: zipfile.ZipFile(download(project, real)).read(copy) for project, (real, copy) in copies.items()
    }
    with SimpleIndex(tmp_path / "index", module_era_sdists) as index:
        use_index(monkeypatch, index.url)
        run = cli(
            "drift",
            "--json",
            "--quiet",
            *("setuptools==5.5.1", "setuptools==5.5.99", "pip==6.0", "pip==6.0.99"),
            "--cache-dir",
            str(cache),
        )
    assert (run.code, run.err) == (0, "")
    assert not marker.exists()
    served = {p.name: p for p in module_era_sdists}
    assert sorted((r["project"], r["version"]) for r in run.json["results"]) == [
        ("pip", "6.0"),
        ("pip", "6.0.99"),
        ("setuptools", "5.5.1"),
        ("setuptools", "5.5.99"),
    ]
    for result in run.json["results"]:
        project, version = result["project"], result["version"]
        _, copy = copies[project]
        archive = stored(cache, project, version)
        assert sha256_of(archive) == sha256_of(served[archive.name])
        assert result["copy"] == copy
        # the sdist's copy is the release's wheel's
        wheel_copy = wheel_copies[project]
        assert result["sha256"] == hashlib.sha256(sdist_member(archive, copy)).hexdigest()
        assert result["sha256"] == hashlib.sha256(wheel_copy).hexdigest()
        assert set(patch_statuses(result).values()) <= {"clean", "offset"}, result
    assert [stored(cache, "setuptools", v).suffix for v in ("5.5.1", "5.5.99")] == [".zip", ".zip"]
    assert leftovers(cache) == []
