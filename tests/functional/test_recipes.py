"""The recipes of the docs (``docs/how-to/recipes.rst``), run as written against real pip and
setuptools releases: each snippet is read from that page here, so that what a reader copies is
what is tested.

The build systems themselves are not installed: each recipe runs inside a stand-in that does
what the real one does around it -- Sage's ``sdh_*`` helpers, Spack's ``run_after`` and
``Executable``, conda-build's environment, GitHub Actions' ``run:`` shell -- with real bash, real
pip, real venvs and prefixes, real ``pre-commit`` and ``git``. Everything is offline: pip reads
wheels from a directory of the test cache (``--find-links``, as a build that has no network).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ..conftest import Venv, cli, download, make_patchset, pip_install, venv_python
from .test_sdist import real_sdist

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "docs" / "how-to" / "recipes.rst"
PIP, SETUPTOOLS = "24.0", "80.9.0"
#: what a checkout copy leaves out
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "*.pyz", ".coverage*"
)


def recipe(name: str) -> str:
    """The snippet the recipes page shows under ``.. code-block::`` with ``:name: recipe-<name>``."""
    lines = RECIPES.read_text(encoding="utf-8").splitlines()
    at = [n for n, line in enumerate(lines) if line.strip() == f":name: recipe-{name}"]
    assert len(at) == 1, f"{RECIPES.name} has {len(at)} recipes named {name}"
    body: list[str] = []
    for line in lines[at[0] + 1 :]:
        if line.strip() and not line.startswith("   "):
            break
        if body or line.strip():
            body.append(line)
    return textwrap.dedent("\n".join(body)).strip("\n") + "\n"


@pytest.fixture(scope="session")
def links(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The only place pip may take anything from: real wheels of the releases the recipes use,
    and of what installing this project needs (its build backend and its dependencies)."""
    found = tmp_path_factory.mktemp("links")
    wheels = [
        download("pip", PIP),
        download("setuptools", SETUPTOOLS),
        download("pkg-resources-backport", "1.0.1"),
        download("unidiff", version("unidiff")),
        download("packaging", version("packaging")),
    ]
    for wheel in wheels:
        shutil.copy(wheel, found / wheel.name)
    return found


def offline(links: Path, **extra: str) -> dict[str, str]:
    """This environment with pip confined to ``links``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(links), PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


def run(argv: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=str(cwd), timeout=600)


def states(*paths: Path, wheels: bool = False) -> dict[str, str]:
    """``owner version`` -> state of every copy below ``paths`` (locate, in this process)."""
    result = cli("locate", "--json", *(["--wheels"] if wheels else []), *map(str, paths))
    assert result.code == 0, result.err
    return {f"{c['owner']['name']} {c['owner']['version']}": c["state"] for c in result.json["copies"]}


def record_matches(site: Path, dist: str) -> None:
    """Every file the installed ``RECORD`` of ``dist`` lists has the hash and size listed."""
    [record] = site.glob(f"{dist}-*.dist-info/RECORD")
    rows = list(csv.reader(record.read_text().splitlines()))
    checked = 0
    for name, digest, size in rows:
        if not digest:
            continue
        data = (site / name).read_bytes()
        algorithm, _, expected = digest.partition("=")
        actual = base64.urlsafe_b64encode(hashlib.new(algorithm, data).digest()).rstrip(b"=").decode()
        assert (actual, len(data)) == (expected, int(size)), name
        checked += 1
    assert checked > 100


# --- Sage ------------------------------------------------------------------------------------

#: the ``sdh_*`` helpers a Sage ``spkg-install`` sees, reduced to what these recipes use and
#: written after their documentation (build/bin/sage-dist-helpers): a failure dies with a
#: message; the one wheel in ``dist/`` is stored in ``$SAGE_SPKG_WHEELS`` and installed from
#: there by ``python3 -m pip``, offline and without user configuration (``sage-pip-install``)
SAGE_HELPERS = """\
sdh_die() {
    echo "$*" >&2
    exit 1
}

sdh_store_and_pip_install_wheel() {
    [ "$*" = . ] || sdh_die "Error: sdh_store_and_pip_install_wheel requires . as only argument"
    local wheels=(dist/*.whl)
    [ ${#wheels[@]} = 1 ] && [ -f "${wheels[0]}" ] || sdh_die "Error: no single wheel in dist/"
    mkdir -p "$SAGE_SPKG_WHEELS" && mv "${wheels[0]}" "$SAGE_SPKG_WHEELS/" || sdh_die "Error storing ${wheels[0]}"
    python3 -m pip install --no-index --find-links="$SAGE_SPKG_WHEELS" --isolated --no-cache-dir \\
        --no-deps "$SAGE_SPKG_WHEELS/${wheels[0]##*/}" || sdh_die "Error installing ${wheels[0]##*/}"
}

"""
#: what pip's own spkg-install does first: pip installs itself, run from (a copy of) its wheel
PIP_RUNS_FROM_ITS_WHEEL = 'cp dist/*.whl . && export PYTHONPATH="$PWD/$(cd dist && echo *.whl)"\n'


def sage_build_dir(build: Path, wheel: Path, pyz: Path) -> Path:
    """What ``sage-spkg`` makes of a wheel package: the package's directory (the recipe's
    ``pkgres-patcher.pyz`` beside its scripts) with the wheel in ``dist/``."""
    (build / "dist").mkdir(parents=True)
    shutil.copy(wheel, build / "dist" / wheel.name)
    shutil.copy(pyz, build / "pkgres-patcher.pyz")
    return build


def test_sage_spkg_install_of_pip_then_setuptools(pyz: Path, tmp_path: Path, links: Path) -> None:
    local = Venv(tmp_path / "local")  # Sage's venv: Python, and no pip yet
    wheels = tmp_path / "local" / "var" / "lib" / "sage" / "wheels"
    env = offline(links, PATH=f"{local.root / 'bin'}{os.pathsep}{os.environ['PATH']}", SAGE_SPKG_WHEELS=str(wheels))
    steps = [
        (
            "pip",
            download("pip", PIP),
            PIP_RUNS_FROM_ITS_WHEEL + recipe("sage-pip") + "sdh_store_and_pip_install_wheel .\n",
        ),
        ("setuptools", download("setuptools", SETUPTOOLS), recipe("sage-setuptools")),
    ]
    for name, wheel, script in steps:
        build = sage_build_dir(tmp_path / "build" / name, wheel, pyz)
        (build / "spkg-install").write_text(SAGE_HELPERS + script)
        done = run(["bash", "spkg-install"], env={**env, "PKG_NAME": f"{name}-{wheel.name.split('-')[1]}"}, cwd=build)
        assert done.returncode == 0, done.stdout + done.stderr

    assert states(local.site) == {f"pip {PIP}": "patched", f"setuptools {SETUPTOOLS}": "patched"}
    record_matches(local.site, "pip")
    record_matches(local.site, "setuptools")
    # the stored wheels, which later installs take, are the patched ones
    assert states(wheels, wheels=True) == {f"pip {PIP}": "patched", f"setuptools {SETUPTOOLS}": "patched"}
    imported = local.run("import pkg_resources, pip._vendor.pkg_resources")
    assert imported.returncode == 0, imported.stderr
    removed = run([local.python, "-m", "pip", "uninstall", "--yes", "setuptools"], env=env, cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert not [p for p in ("pkg_resources", "setuptools", "_distutils_hack") if (local.site / p).exists()]


# --- Spack -----------------------------------------------------------------------------------


class Executable:
    """Spack's ``Executable``: called with arguments, runs the program; a failure raises."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(self, *args: object) -> None:
        subprocess.run([self.path, *map(str, args)], check=True)


def spack_package(package_dir: Path, class_body: str) -> type[Any]:
    """A ``package.py`` in ``package_dir`` whose class holds ``class_body``, loaded as Spack
    loads it (its module's ``__file__`` the file, ``run_after`` registering a phase's hook)."""
    source = "import os\n\n\nclass PyPackage:\n" + textwrap.indent(class_body, "    ")
    path = package_dir / "package.py"
    path.write_text(source)

    def run_after(phase: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
        def register(hook: Callable[..., None]) -> Callable[..., None]:
            hook.run_after = phase  # type: ignore[attr-defined]
            return hook

        return register

    namespace: dict[str, Any] = {"__file__": str(path), "__name__": "package", "run_after": run_after}
    exec(compile(source, str(path), "exec"), namespace)
    package: type[Any] = namespace["PyPackage"]
    return package


def test_spack_post_install_hook(pyz: Path, tmp_path: Path) -> None:
    python = venv_python()
    for name, wheel in (("py-pip", download("pip", PIP)), ("py-setuptools", download("setuptools", SETUPTOOLS))):
        package_dir = tmp_path / "repo" / "packages" / name
        package_dir.mkdir(parents=True)
        shutil.copy(pyz, package_dir / "pkgres-patcher.pyz")
        package = spack_package(package_dir, recipe("spack"))
        [hook] = [f for f in vars(package).values() if getattr(f, "run_after", None) == "install"]
        prefix = tmp_path / "opt" / f"{name}-{wheel.name.split('-')[1]}"
        # the install phase, with the options Spack's pip builder gives
        pip_install("--python", python, "install", "--ignore-installed", "--prefix", str(prefix), str(wheel))
        self = SimpleNamespace(spec={"python": SimpleNamespace(command=Executable(python))}, prefix=str(prefix))

        hook(self)
        hook(self)  # a rebuild runs it again: nothing left to do

        [site] = prefix.glob("lib/python*/site-packages")
        assert set(states(prefix).values()) == {"patched"}
        record_matches(site, name.removeprefix("py-"))


# --- conda-build -----------------------------------------------------------------------------


def test_conda_build_script(pyz: Path, tmp_path: Path, links: Path) -> None:
    host = Venv(tmp_path / "host")  # the host prefix: Python and pip (a conda package, not ours to touch)
    host.install(download("pip", PIP))
    with tarfile.open(real_sdist("setuptools", SETUPTOOLS)) as sdist:
        if hasattr(tarfile, "data_filter"):
            sdist.extractall(tmp_path / "work", filter="data")
        else:  # a Python without extraction filters (before 3.9.17)
            sdist.extractall(tmp_path / "work")
    src = tmp_path / "work" / f"setuptools-{SETUPTOOLS}"
    recipe_dir = tmp_path / "recipe"
    recipe_dir.mkdir()
    (recipe_dir / "build.sh").write_text(recipe("conda-build"))
    shutil.copy(pyz, recipe_dir / "pkgres-patcher.pyz")
    pip_before = (host.site / "pip" / "_vendor" / "pkg_resources" / "__init__.py").read_bytes()
    # what conda-build sets for build.sh (conda_build/environ.py), pip confined to the links
    env = offline(
        links,
        PREFIX=str(host.root),
        PYTHON=host.python,
        SP_DIR=str(host.site),
        SRC_DIR=str(src),
        RECIPE_DIR=str(recipe_dir),
        PIP_NO_DEPENDENCIES="True",
        PIP_IGNORE_INSTALLED="True",
        PIP_CACHE_DIR=str(tmp_path / "pip-cache"),
        PATH=f"{host.root / 'bin'}{os.pathsep}{os.environ['PATH']}",
    )

    done = run(["bash", "-x", "-o", "errexit", str(recipe_dir / "build.sh")], env=env, cwd=src)

    assert done.returncode == 0, done.stdout + done.stderr
    assert states(host.site) == {f"pip {PIP}": "unpatched", f"setuptools {SETUPTOOLS}": "patched"}
    assert (host.site / "pip" / "_vendor" / "pkg_resources" / "__init__.py").read_bytes() == pip_before
    record_matches(host.site, "setuptools")


# --- pre-commit ------------------------------------------------------------------------------


def git(*argv: str, cwd: Path) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid"}
    env.update(GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid", GIT_CONFIG_GLOBAL=os.devnull)
    subprocess.run(["git", *argv], cwd=str(cwd), env=env, check=True, capture_output=True)


def checkout_copy(dest: Path) -> Path:
    """This project's sources as a fresh repository of their own (committed: pre-commit clones it)."""
    shutil.copytree(ROOT, dest, ignore=NOT_SOURCES)
    git("init", "-q", cwd=dest)
    git("add", "-A", cwd=dest)
    git("commit", "-q", "-m", "pkgres-patcher", cwd=dest)
    return dest


def test_pre_commit_hook_with_try_repo(tmp_path: Path, links: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("pre-commit needs git, which is not installed")
    pre_commit = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or shutil.which("pre-commit")
    if pre_commit is None:
        pytest.skip("pre-commit is not installed (it is in the test extra: pip install '.[test]')")
    hooks = checkout_copy(tmp_path / "pkgres-patcher")
    target = tmp_path / "target"  # a repository that carries wheels of its own
    (target / "wheels").mkdir(parents=True)
    git("init", "-q", cwd=target)
    wheel = target / "wheels" / download("pip", PIP).name
    shutil.copy(download("pip", PIP), wheel)
    git("add", "-A", cwd=target)
    env = offline(
        links,
        HOME=str(tmp_path / "home"),
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit"),
        PKGRES_PATCHER_REPO=str(hooks),
        PATH=f"{Path(pre_commit).parent}{os.pathsep}{os.environ['PATH']}",
    )
    env = {k: v for k, v in env.items() if not k.startswith(("XDG_", "VIRTUALENV_"))}

    unpatched = run(["bash", "-c", recipe("pre-commit")], env=env, cwd=target)

    assert unpatched.returncode == 1, unpatched.stdout + unpatched.stderr
    assert f"pkgres-patcher: {wheel}!pip/_vendor/pkg_resources/__init__.py: unpatched" in unpatched.stdout

    assert cli("apply", str(wheel)).code == 0
    git("add", "-A", cwd=target)
    patched = run(["bash", "-c", recipe("pre-commit")], env=env, cwd=target)

    assert patched.returncode == 0, patched.stdout + patched.stderr
    assert "every copy of pkg_resources is patched" in patched.stdout


# --- CI --------------------------------------------------------------------------------------


def test_ci_drift_job_runs_and_reports_junit(tmp_path: Path, links: Path) -> None:
    """The workflow's ``run:`` steps, as GitHub Actions runs them (``bash --noprofile --norc
    -eo pipefail``), in a checkout of a repository carrying a patch set: here a small one (a real
    spot, written against setuptools 60.0.0) whose declared ranges the releases pip sees cover,
    so that the default run -- every covered release, and the newest -- is a handful."""
    import yaml

    workflow = yaml.safe_load(recipe("ci-drift"))
    steps = [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]
    assert steps
    checkout = Path(shutil.copytree(ROOT, tmp_path / "checkout", ignore=NOT_SOURCES))
    shutil.rmtree(checkout / "patches")
    patches = make_patchset(checkout / "patches")
    first = (patches / "series").read_text().splitlines()[0]  # the spot every release here has
    (patches / "series").write_text(first + "\n")
    for other in {p.parent for p in patches.glob("*/*.patch")} - {patches / first.split("/")[0]}:
        shutil.rmtree(other)
    releases = Path(shutil.copytree(links, tmp_path / "links"))
    shutil.copy(download("setuptools", "60.0.0"), releases)
    bin_dir = tmp_path / "setup-python"  # what actions/setup-python puts first on PATH
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = offline(releases, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", HOME=str(tmp_path / "home"))
    env = {k: v for k, v in env.items() if not k.startswith(("PKGRES_PATCHER_", "XDG_"))}

    for script in steps:
        done = run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], env=env, cwd=checkout)
        assert done.returncode == 0, done.stdout + done.stderr

    report = ET.parse(checkout / "drift.xml").getroot()
    suites = {suite.get("name"): suite for suite in report.iter("testsuite")}
    assert set(suites) == {"setuptools", "pip", "pkg-resources-backport"}
    cases = [case.get("name") for case in report.iter("testcase")]
    assert (
        f"{SETUPTOOLS} pkg_resources/__init__.py" in cases and f"{PIP} pip/_vendor/pkg_resources/__init__.py" in cases
    )
    assert [s.get("failures") for s in suites.values()] == ["0"] * 3
    assert [s.get("errors") for s in suites.values()] == ["0"] * 3
