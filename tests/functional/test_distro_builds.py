"""Issue #23: the patches through a distribution's real build.

Debian: bookworm's own source packages (``setuptools``, which builds ``python3-pkg-resources``
and ``python3-setuptools``; ``python-pip``, which builds ``python3-pip`` and its vendored
``pkg_resources``), fetched by ``apt-get source`` (the ``deb-src`` entries ``.ci/run`` adds),
unpacked by ``dpkg-source -x``, ``export --layout debian`` added, their Build-Depends installed
by ``apt-get build-dep`` (Build-Conflicts honoured: it removes python3-setuptools and python3-pip
for the setuptools build), built by ``dpkg-buildpackage -b`` (the packages' own test phase runs:
both override ``dh_auto_test`` to nothing), the built ``.deb`` s installed by ``dpkg -i`` and
checked (``dpkg --verify``, ``locate``, ``verify`` with ``/usr/bin/python3``, the race readers of
tests/lib/pip_races.py against that pip); then the machine is put back as it was: what the test
installed removed, what it replaced or removed reinstalled at the versions it had.

The setuptools orig tarball is not served beside its ``.dsc``: the release's sdist on the package
index is byte-identical (the ``.dsc`` lists its sha256), fetched as a file (never built) as
``drift`` fetches sdists, and named as the orig tarball.

rpm: a spec in Fedora's style (``%autosetup -p1`` over the ``PatchN:`` lines of ``export --layout
rpm``; ``%pyproject_wheel``/``%pyproject_install`` spelled out as pip commands, the machine has
no python-rpm-macros) built by ``rpmbuild`` from the setuptools sdist, installed by ``rpm`` into
a private database (``--dbpath``), relocated into the test's directory (``--relocate``), checked
by ``rpm -V`` and ``locate``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import CACHE, cli, snapshot
from .test_sdist import SDISTS, real_sdist

#: bookworm's source packages (suite as the machine's apt has it), and the upstream releases
SETUPTOOLS = ("setuptools", "66.1.1-1+deb12u2", "setuptools==66.1.1")
PIP = ("python-pip", "23.0.1+dfsg-1", "pip==23.0.1")
SOURCES = CACHE / "debian-sources"
#: the local version the rebuilt packages get (a new changelog entry, as ``dch --local`` adds)
LOCAL = "+pkgrespatcher1"
#: a build's environment: Debian's own tools first (no pyenv shim's python3), nothing of ours
BUILD_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
    "DEB_BUILD_OPTIONS": "parallel=2 nodoc",
    "DEB_BUILD_PROFILES": "nodoc",
}
PATCHES = [
    "zip-manifest-load",
    "zip-manifest-build",
    "path-scan-listdir",
    "egg-link-read",
    "metadata-read",
    "metadata-entry-scan",
    "resolve-requires",
]


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t, path=BUILD_ENV["PATH"]) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install dpkg-dev quilt rpm)")


def run(argv: list[str], cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        argv, cwd=cwd, env={**BUILD_ENV, **env}, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    assert proc.returncode == 0, f"{' '.join(argv)} ({proc.returncode}):\n{proc.stdout[-6000:]}{proc.stderr[-6000:]}"
    return proc


def source_package(name: str, version: str) -> Path:
    """The source package's ``.dsc`` with its files, from the cache or fetched once by apt."""
    need("apt-get", "dpkg-source")
    SOURCES.mkdir(parents=True, exist_ok=True)
    dsc = SOURCES / f"{name}_{version.split(':')[-1]}.dsc"
    if dsc.exists():
        return dsc
    if name == "setuptools":  # its orig tarball is not served: the sdist is the same file
        upstream = version.split("-")[0]
        orig = SOURCES / f"{name}_{upstream}.orig.tar.gz"
        if not orig.exists():
            shutil.copyfile(real_sdist("setuptools", upstream), orig)
    proc = subprocess.run(
        ["apt-get", "source", "--download-only", f"{name}={version}"],
        cwd=SOURCES,
        env=BUILD_ENV,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 and "deb-src" in proc.stderr:
        pytest.skip(f"apt has no deb-src entry for {name} (.ci/run adds one): {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0 and dsc.exists(), proc.stdout + proc.stderr
    return dsc


def unpack(dsc: Path, dest: Path) -> Path:
    """``dpkg-source -x``: the source tree with the package's own patches applied."""
    run(["dpkg-source", "-x", str(dsc), str(dest)])
    return dest


def export_debian(tree: Path, requirement: str, *extra: str) -> dict[str, object]:
    done = cli("export", "--for", requirement, "--layout", "debian", "--output", str(tree), "--json", *extra)
    assert (done.code, done.err) == (0, ""), done.err
    export = done.json["export"]
    assert isinstance(export, dict)
    return export


# --- the debian layout on the real source trees ---------------------------------------------------


@pytest.mark.parametrize(("package", "path"), [(SETUPTOOLS, "pkg_resources/__init__.py"), (PIP, "src/pip/_vendor/pkg_resources/__init__.py")], ids=["setuptools", "python-pip"])  # fmt: skip
def test_debian_layout_is_appended_to_the_series_and_idempotent(
    tmp_path: Path, package: tuple[str, str, str], path: str
) -> None:
    name, version, requirement = package
    tree = unpack(source_package(name, version), tmp_path / "tree")
    own = (tree / "debian" / "patches" / "series").read_text().splitlines()
    export = export_debian(tree, requirement)
    assert export["path"] == path and export["layout"] == "debian"
    names = [f"pkgres-patcher-{p}.patch" for p in PATCHES]
    assert (tree / "debian" / "patches" / "series").read_text().splitlines() == [*own, *names]
    assert export["changed"] == export["files"] == [*(f"debian/patches/{n}" for n in names), "debian/patches/series"]
    for n in names:
        text = (tree / "debian" / "patches" / n).read_text()
        assert text.startswith("Description: ") and "\nBug: " in text and "\nX-Pkgres-Patcher-Variant: " in text
        assert f"\n---\n--- a/{path}\n+++ b/{path}\n" in text
    before = snapshot(tree)
    again = export_debian(tree, requirement)
    assert again["changed"] == [] and again["replaced"] is True
    assert snapshot(tree) == before
    # dpkg-source pushes them after the package's own, with no fuzz (its patch runs with -F 0)
    pushed = run(["dpkg-source", "--before-build", "."], cwd=tree)
    assert [f"dpkg-source: info: applying {n}" for n in names] == re.findall(
        r"^dpkg-source: info: applying pkgres-patcher-.*$", pushed.stdout + pushed.stderr, re.M
    )
    applied = snapshot(tree)
    assert export_debian(tree, requirement)["changed"] == []  # read from quilt's backup in .pc/
    assert snapshot(tree) == applied
    located = cli("locate", "--json", str(tree / path))
    assert located.json["copies"][0]["state"] == "patched"


def test_a_name_taken_by_the_packages_own_file_is_not_reused(tmp_path: Path) -> None:
    tree = unpack(source_package(*PIP[:2]), tmp_path / "tree")
    mine = tree / "debian" / "patches" / "pkgres-patcher-zip-manifest-load.patch"
    mine.write_text("Description: the package's own\n")
    export = export_debian(tree, PIP[2])
    assert "debian/patches/pkgres-patcher-zip-manifest-load-2.patch" in export["files"]  # type: ignore[operator]
    assert mine.read_text() == "Description: the package's own\n"


@pytest.mark.parametrize(
    ("spoil", "requirement", "message"),
    [
        ("none", "pip==23.0.2", "{tree}/debian/changelog: is python-pip 23.0.1+dfsg-1, not pip 23.0.2"),
        ("none", "setuptools==66.1.1", "{tree}/debian/changelog: is python-pip 23.0.1+dfsg-1, not setuptools 66.1.1"),
        ("format", "pip==23.0.1", "{tree}/debian/source/format: says '1.0': only a 3.0 (quilt) source package has debian/patches/series"),
        ("unapplied", "pip==23.0.1", "{tree}/debian/patches/series: hands-off-system-packages.patch is not applied: unpack with dpkg-source -x (or quilt push -a) first"),
        ("no-copy", "pip==23.0.1", "{tree}: has no pip/_vendor/pkg_resources/__init__.py or pip/_vendor/pkg_resources.py (in the tree or under src/)"),
        ("no-debian", "pip==23.0.1", "{tree}: is not an unpacked Debian source package (no debian/ directory)"),
    ],
    ids=["other-version", "other-project", "format-1.0", "skip-patches", "repack-dropped-it", "not-debian"],
)  # fmt: skip
def test_a_bad_tree_is_refused_in_one_line_and_left_alone(
    tmp_path: Path, spoil: str, requirement: str, message: str
) -> None:
    dsc = source_package(*PIP[:2])
    tree = tmp_path / "tree"
    if spoil == "unapplied":
        run(["dpkg-source", "--skip-patches", "-x", str(dsc), str(tree)])
    else:
        unpack(dsc, tree)
    if spoil == "format":
        (tree / "debian" / "source" / "format").write_text("1.0\n")
    elif spoil == "no-copy":
        shutil.rmtree(tree / "src" / "pip" / "_vendor" / "pkg_resources")
    elif spoil == "no-debian":
        shutil.rmtree(tree / "debian")
    before = snapshot(tree)
    done = cli("export", "--for", requirement, "--layout", "debian", "--output", str(tree), "--json")
    assert done.code == 1
    assert done.err == f"pkgres-patcher: {message.format(tree=tree)}\n"
    assert done.json["export"] is None
    assert snapshot(tree) == before


# --- dpkg-buildpackage, dpkg -i ---------------------------------------------------------------------


def installed() -> dict[str, str]:
    out = run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Package} ${Version}\n"]).stdout
    return {p: v for s, p, v in (line.split() for line in out.splitlines()) if s.startswith("ii")}


def add_changelog_entry(tree: Path, local: str) -> str:
    """A new top entry in ``debian/changelog`` (as ``dch --local`` writes it): the new version."""
    changelog = tree / "debian" / "changelog"
    text = changelog.read_text()
    match = re.match(r"^(\S+) \(([^)]+)\) (\S+);", text)
    assert match
    source, version, suite = match.groups()
    new = version + local
    entry = (
        f"{source} ({new}) {suite}; urgency=medium\n\n"
        "  * Make pkg_resources survive distributions vanishing mid-scan (pkgres-patcher export).\n\n"
        " -- pkgres-patcher tests <pkgres-patcher@localhost>  Mon, 01 Jan 2024 00:00:00 +0000\n\n"
    )
    changelog.write_text(entry + text)
    return new


def build(tree: Path) -> float:
    """``apt-get build-dep`` of the tree, then ``dpkg-buildpackage -b -us -uc``: its seconds."""
    run(["apt-get", "build-dep", "-y", "-qq", "--no-install-recommends", "./"], cwd=tree)
    start = time.monotonic()
    run(["dpkg-buildpackage", "-b", "-us", "-uc"], cwd=tree)
    return time.monotonic() - start


@pytest.fixture
def machine_put_back() -> Iterator[None]:
    """Whatever the test installs, replaces or removes with apt and dpkg, put back afterwards."""
    if os.geteuid() != 0:
        pytest.skip("building and installing Debian packages needs root (apt-get build-dep, dpkg -i)")
    need("apt-get", "dpkg-source", "dpkg-buildpackage", "dpkg-query", "fakeroot")
    before = installed()
    yield
    after = installed()
    back = [f"{p}={v}" for p, v in before.items() if after.get(p) != v]
    if back:
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "--allow-downgrades", *back])
    extra = [p for p in installed() if p not in before]
    if extra:
        run(["apt-get", "purge", "-y", "-qq", *extra])
    assert installed() == before


@pytest.mark.slow
def test_debian_packages_built_with_the_export(tmp_path: Path, machine_put_back: None) -> None:
    times = {}
    trees = {}
    for name, version, requirement in (SETUPTOOLS, PIP):
        tree = unpack(source_package(name, version), tmp_path / name)
        export_debian(tree, requirement)
        trees[name] = (tree, add_changelog_entry(tree, LOCAL))
        times[name] = build(tree)
        # every binary package but the documentation, as an upgrade installs them; python-pip's
        # Build-Depends need python3-setuptools back before it is built
        built = sorted(str(p) for p in tmp_path.glob(f"*_{trees[name][1]}_all.deb") if "-doc_" not in p.name)
        assert len(built) == (3 if name == "setuptools" else 2), built
        run(["dpkg", "-i", *built])
    print(f"\ndpkg-buildpackage: setuptools {times['setuptools']:.0f} s, python-pip {times['python-pip']:.0f} s")
    packages = [
        "python3-setuptools",
        "python3-pkg-resources",
        "python3-setuptools-whl",
        "python3-pip",
        "python3-pip-whl",
    ]
    assert {p: installed()[p] for p in packages} == {
        p: trees["python-pip" if "pip" in p else "setuptools"][1] for p in packages
    }
    verified = run(["dpkg", "--verify", *packages])
    assert verified.stdout == ""

    dist = "/usr/lib/python3/dist-packages"
    located = cli("locate", "--json", f"{dist}/pkg_resources", f"{dist}/pip/_vendor/pkg_resources")
    found = {c["file"]: (c["state"], c["manager"]) for c in located.json["copies"]}
    assert found == {
        f"{dist}/pkg_resources/__init__.py": (
            "patched",
            {"kind": "dpkg", "name": "python3-pkg-resources", "version": trees["setuptools"][1]},
        ),
        f"{dist}/pip/_vendor/pkg_resources/__init__.py": (
            "patched",
            {"kind": "dpkg", "name": "python3-pip", "version": trees["python-pip"][1]},
        ),
    }
    verify = cli("verify", "--quick", f"{dist}/pkg_resources", f"{dist}/pip/_vendor/pkg_resources")
    assert verify.code == 0, verify.out + verify.err
    verify = cli("verify", "--python", "/usr/bin/python3", "--quick")
    assert verify.code == 0, verify.out + verify.err

    from ..lib.pip_races import REQUIRE_EARLIER, prepare_system, run_workloads

    stress = prepare_system("/usr/bin/python3", str(tmp_path / "races"))
    figures = run_workloads(stress, 1, str(tmp_path / "races"))
    print(f"Debian's pip {trees['python-pip'][1]}, python3-pkg-resources {trees['setuptools'][1]}:\n{figures.table()}")
    assert not figures.failures, figures.table()
    assert figures.workloads[REQUIRE_EARLIER].stale > 0, "no require() met a vanished distribution"


# --- rpmbuild -----------------------------------------------------------------------------------------

SPEC = """\
# Fedora's python-setuptools, as far as a machine without python-rpm-macros follows it:
# %%pyproject_wheel and %%pyproject_install spelled out as the pip commands those macros run.
%global python3 /usr/bin/python3
%global pypi_name setuptools
%global debug_package %{nil}

Name:           python-setuptools
Version:        66.1.1
Release:        1.pkgres1
Summary:        Easily build and distribute Python packages
License:        MIT
BuildArch:      noarch
Prefix:         /usr
Source0:        %{pypi_name}-%{version}.tar.gz
@PATCHES@

%description
Setuptools, its pkg_resources made to survive distributions vanishing mid-scan.

%package -n python3-setuptools
Summary:        %{summary}

%description -n python3-setuptools
Setuptools, its pkg_resources made to survive distributions vanishing mid-scan.

%prep
%autosetup -p1 -n %{pypi_name}-%{version}

%build
%{python3} -m pip wheel --no-deps --no-build-isolation --disable-pip-version-check --no-clean \\
    --progress-bar off --no-index --wheel-dir pyproject-wheeldir .

%install
%{python3} -m pip install --root %{buildroot} --prefix /usr --no-deps --disable-pip-version-check \\
    --progress-bar off --ignore-installed --no-warn-script-location --no-index --no-cache-dir \\
    --no-compile pyproject-wheeldir/*.whl
cd %{buildroot} && find . -type f -o -type l | sed 's|^\\.||' | sort | sed 's/.*/"&"/' > %{_builddir}/files.list

%files -n python3-setuptools -f %{_builddir}/files.list
"""


@pytest.mark.slow
def test_rpm_built_with_the_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need("rpm", "rpmbuild", "patch")
    if subprocess.run(["/usr/bin/python3", "-c", "import pip, wheel"], capture_output=True).returncode != 0:
        pytest.skip("/usr/bin/python3 has no pip or wheel (apt-get install python3-pip python3-wheel)")
    sdist = real_sdist("setuptools", "66.1.1")
    exported = tmp_path / "export"
    done = cli(
        "export", "--for", "setuptools==66.1.1", "--layout", "rpm", "--output", str(exported), "--json",
        "--find-links", str(SDISTS), "--no-index", "--cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    assert (done.code, done.err) == (0, ""), done.err
    snippet = (exported / "pkgres-patcher.spec").read_text()
    lines = re.findall(r"^Patch(\d+): (\S+)$", snippet, re.M)
    assert lines == [(str(9001 + i), f"pkgres-patcher-{i + 1:04d}-{p}.patch") for i, p in enumerate(PATCHES)]
    top = tmp_path / "rpmbuild"
    for sub in ("SOURCES", "SPECS"):
        (top / sub).mkdir(parents=True)
    shutil.copy(sdist, top / "SOURCES")
    for _, name in lines:
        shutil.copy(exported / name, top / "SOURCES")
    spec = top / "SPECS" / "python-setuptools.spec"
    spec.write_text(SPEC.replace("@PATCHES@", snippet.rstrip("\n")))  # pasted whole, comments too
    start = time.monotonic()
    built = run(["rpmbuild", "-bb", "--define", f"_topdir {top}", str(spec)])
    print(f"\nrpmbuild: {time.monotonic() - start:.0f} s")
    assert "--fuzz=0" in built.stdout + built.stderr  # %autosetup -p1 refuses fuzz: the files apply exactly
    [package] = (top / "RPMS").rglob("python3-setuptools-66.1.1-1.pkgres1.noarch.rpm")
    db, root = tmp_path / "rpmdb", tmp_path / "root"
    db.mkdir()
    run(["rpm", "--dbpath", str(db), "--initdb"])
    run(["rpm", "--dbpath", str(db), "-i", "--nodeps", "--relocate", f"/usr={root}/usr", str(package)])
    assert run(["rpm", "--dbpath", str(db), "-V", "python3-setuptools"]).stdout == ""
    [copy] = root.rglob("pkg_resources/__init__.py")
    owned = run(["rpm", "--dbpath", str(db), "-qf", str(copy)]).stdout.strip()
    assert owned == "python3-setuptools-66.1.1-1.pkgres1.noarch"

    monkeypatch.setenv("PKGRES_PATCHER_RPM_DBPATH", str(db))
    located = cli("locate", "--json", str(root))
    [found] = located.json["copies"]
    assert (found["file"], found["state"], found["manager"]) == (
        str(copy),
        "patched",
        {"kind": "rpm", "name": "python3-setuptools", "version": "66.1.1-1.pkgres1"},
    )
    pristine = (tmp_path / "pristine").resolve()
    pristine.mkdir()
    run(["tar", "-xzf", str(sdist), "-C", str(pristine)])
    by_apply = pristine / "setuptools-66.1.1"
    assert cli("apply", "--quiet", str(by_apply), "--cache-dir", str(tmp_path / "c")).code == 0
    assert copy.read_bytes() == (by_apply / "pkg_resources" / "__init__.py").read_bytes()
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == found["sha256"]
