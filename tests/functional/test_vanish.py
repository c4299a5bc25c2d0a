"""The point of it all: a distribution vanishing under a real interpreter's pkg_resources.

Each case extracts a real upstream release into a site directory, puts a victim distribution
next to it (zipped egg, directory egg, ``.egg-info`` or ``.dist-info``), starts a real
interpreter of a Python that release supported, lets the import system see the victim, deletes
it at the moment pkg_resources would trip over it, and then imports pkg_resources and builds a
``WorkingSet``/``Environment``, resolves a requirement and lists entry points. Unpatched copies
crash with ``OSError``/``IOError`` (the 2016 report); patched copies must not, and the victim
must simply be absent.
"""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest
from packaging.version import Version

from patcher.verification import scratch

from ..conftest import cli, download, require_python

DRIVER = r"""
import os, shutil, sys, json
clean = list(sys.path)
import site
sys.path[:] = clean
SITE, VICTIM, WHEN, MODULE, REQUIRE = sys.argv[1:6]

busy = []

def remove():
    if busy:
        return
    busy.append(1)
    if os.path.isdir(VICTIM):
        shutil.rmtree(VICTIM)
    elif os.path.exists(VICTIM):
        os.unlink(VICTIM)

site.addsitedir(SITE)
# A running program has already searched every path entry: the import system holds an
# importer (a zipimporter for an egg) for each, as in the 2016 report.
try:
    import pkgres_patcher_no_such_module
except ImportError:
    pass

if WHEN == "before-import":
    remove()
elif WHEN == "before-read":  # vanish after has_metadata() said yes, right before the file is read
    def read_hook(event, args):
        if event == "open" and args and isinstance(args[0], str) and args[0].startswith(os.path.abspath(VICTIM) + os.sep):
            remove()
    sys.addaudithook(read_hook)
else:  # "inside-scan": vanish right before pkg_resources looks inside the victim
    target = os.path.abspath(VICTIM)
    if hasattr(sys, "addaudithook"):
        def hook(event, args):
            if event == "os.listdir" and args and isinstance(args[0], str) and os.path.abspath(args[0]) == target:
                remove()
        sys.addaudithook(hook)
    else:  # Python < 3.8 has no audit hooks: intercept the call itself
        real_listdir = os.listdir
        def listdir(path="."):
            if isinstance(path, str) and os.path.abspath(path) == target:
                remove()
            return real_listdir(path)
        os.listdir = listdir

__import__(MODULE)
pr = sys.modules[MODULE]
ws = pr.WorkingSet()
env = pr.Environment()
for entry in list(sys.path):
    list(pr.find_distributions(entry))
names = sorted(set([d.project_name for d in ws] + [name for name in env]))
required = [d.project_name for d in pr.require(REQUIRE)]
eps = [ep.name for ep in ws.iter_entry_points("console_scripts")]
sys.stdout.write("RESULT " + json.dumps({"names": names, "required": required}) + "\n")
"""

VICTIM_NAME = "victim"


def extract(wheel: Path, site: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)


def make_victim(site: Path, kind: str, pyver: str) -> Path:
    """A small distribution of the given kind, installed the way its tool did (the victims
    ``verify`` builds: :func:`patcher.verification.scratch.make_victim`)."""
    victim = scratch.make_victim(str(site), _KIND.get(kind, kind), VICTIM_NAME, pyver, entry_points=False)
    return Path(victim.roots[0])


#: this module's names for the kinds of :mod:`patcher.verification.scratch`
_KIND = {"egg-info": "egg-info-dir"}


#: (project, version, Python it runs on, module, requirement to resolve)
SETUPTOOLS = [
    # the module era (a single module pkg_resources.py before 8.3), on Python 2.7
    ("setuptools", "0.9.8", "2.7"),
    ("setuptools", "1.4.2", "2.7"),
    ("setuptools", "3.4.4", "2.7"),
    ("setuptools", "3.5.1", "2.7"),
    ("setuptools", "5.5.1", "2.7"),
    ("setuptools", "8.0", "2.7"),
    ("setuptools", "17.1.1", "2.7"),
    ("setuptools", "18.0", "2.7"),
    ("setuptools", "24.0.2", "2.7"),
    ("setuptools", "28.8.0", "2.7"),
    ("setuptools", "36.0.1", "2.7"),
    ("setuptools", "39.0.1", "2.7"),
    ("setuptools", "40.8.0", "2.7"),
    ("setuptools", "44.1.1", "2.7"),
    ("setuptools", "50.3.2", "3.6"),
    ("setuptools", "58.5.3", "3.6"),
    ("setuptools", "65.5.0", "3.8"),
    ("setuptools", "68.0.0", "3.8"),
    ("setuptools", "70.3.0", "3.11"),
    ("setuptools", "75.8.0", "3.11"),
    ("setuptools", "81.0.0", "3.11"),
    ("pkg-resources-backport", "1.0.1", "3.11"),
]
PIP = [
    ("pip", "1.5.6", "2.7"),  # pip/_vendor/pkg_resources.py
    ("pip", "6.0.8", "2.7"),
    ("pip", "7.1.2", "2.7"),
    ("pip", "8.1.2", "2.7"),
    ("pip", "9.0.3", "2.7"),
    ("pip", "10.0.1", "2.7"),
    ("pip", "19.3.1", "2.7"),
    ("pip", "20.3.4", "2.7"),
    ("pip", "23.0.1", "3.11"),
    ("pip", "24.0", "3.11"),
    ("pip", "26.3", "3.11"),
]
KINDS = ["egg-zip", "egg-dir", "egg-info", "dist-info"]
CORE = {
    ("setuptools", "0.9.8"),
    ("setuptools", "24.0.2"),
    ("setuptools", "81.0.0"),
    ("pip", "1.5.6"),
    ("pip", "8.1.2"),
    ("pip", "26.3"),
}


def _cases() -> list[pytest.ParameterSet]:
    cases: list[pytest.ParameterSet] = []
    for project, version, python in SETUPTOOLS + PIP:
        marks = [] if (project, version) in CORE else [pytest.mark.slow]
        cases.append(pytest.param(project, version, python, marks=marks, id=f"{project}-{version}-py{python}"))
    return cases


def run_driver(
    python: str, site: Path, victim: Path, when: str, module: str, require: str, tmp: Path
) -> subprocess.CompletedProcess[str]:
    driver = tmp / "driver.py"
    driver.write_text(DRIVER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [python, "-S", str(driver), str(site), str(victim), when, module, require],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp),
        timeout=120,
        check=False,
    )


#: when each kind of victim vanishes: before the import, while the scan lists it, or after
#: has_metadata() said yes and right before its metadata file is read
WHEN = {
    "egg-zip": "before-import",
    "egg-dir": "before-import",
    "egg-info": "inside-scan",
    "dist-info": "inside-scan",
    "egg-info-read": "before-read",
}


def scenario(
    tmp: Path, project: str, version: str, python: str, kind: str, patched: bool
) -> subprocess.CompletedProcess[str]:
    exe = require_python(python)
    site = tmp / "site"
    site.mkdir()
    extract(download(project, version), site)
    if project == "pkg-resources-backport":
        extract(download("setuptools", "82.0.0"), site)  # what it requires; has no pkg_resources
    victim = make_victim(site, kind.replace("-read", ""), python)
    if kind == "egg-info-read":
        (victim / "namespace_packages.txt").write_text("")  # activate() reads it during the import
    if patched:
        assert cli("apply", str(site)).code == 0
    module = "pip._vendor.pkg_resources" if project == "pip" else "pkg_resources"
    require = "pip" if project == "pip" else project.replace("pkg-resources-backport", "pkg_resources_backport")
    return run_driver(exe, site, victim, WHEN[kind], module, require, tmp)


def result_of(proc: subprocess.CompletedProcess[str]) -> dict[str, list[str]]:
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, list[str]] = json.loads(line[len("RESULT ") :])
            return result
    raise AssertionError(f"no result (exit {proc.returncode}):\n{proc.stderr}")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("project", "version", "python"), _cases())
def test_patched_copy_treats_vanished_distribution_as_absent(
    tmp_path: Path, project: str, version: str, python: str, kind: str
) -> None:
    proc = scenario(tmp_path, project, version, python, kind, patched=True)
    assert proc.returncode == 0, proc.stderr
    names = result_of(proc)["names"]
    assert names, "nothing found at all: the scan did not run"
    if kind.startswith("egg-") and kind != "egg-info":
        assert VICTIM_NAME not in names
    elif (tmp_path / "site" / VICTIM_NAME).exists() or list((tmp_path / "site").glob(f"{VICTIM_NAME}-*")):
        # this release never looks inside metadata directories while scanning: nothing vanished
        assert VICTIM_NAME in names
    else:
        assert VICTIM_NAME not in names


@pytest.mark.parametrize(("project", "version", "python"), _cases())
def test_unpatched_copy_crashes_on_vanished_zipped_egg(tmp_path: Path, project: str, version: str, python: str) -> None:
    """The 2016 report, reproduced: this is what the patch set is for."""
    proc = scenario(tmp_path, project, version, python, "egg-zip", patched=False)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(("OSError", "IOError", "FileNotFoundError")), proc.stderr
    assert "No such file or directory" in last


@pytest.mark.parametrize(
    ("project", "version", "python"), [c for c in _cases() if c.values[1] in ("81.0.0", "26.3", "44.1.1", "40.8.0")]
)
def test_unpatched_copy_crashes_on_vanished_dist_info(tmp_path: Path, project: str, version: str, python: str) -> None:
    proc = scenario(tmp_path, project, version, python, "dist-info", patched=False)
    assert proc.returncode != 0
    assert "No such file or directory" in proc.stderr.strip().splitlines()[-1], proc.stderr


@pytest.mark.parametrize(("project", "version", "python"), [c for c in _cases() if c.values[1] in ("81.0.0", "24.0.2")])
def test_patched_and_unpatched_list_the_same_when_nothing_vanishes(
    tmp_path: Path, project: str, version: str, python: str
) -> None:
    exe = require_python(python)
    results = []
    for patched in (False, True):
        site = tmp_path / f"site{int(patched)}"
        site.mkdir()
        extract(download(project, version), site)
        for kind in KINDS:
            sub = site / kind
            sub.mkdir()
        make_victim(site, "dist-info", python)
        make_victim(site, "egg-zip", python)
        if patched:
            assert cli("apply", str(site)).code == 0
        proc = run_driver(exe, site, site / "nothing-vanishes", "before-import", "pkg_resources", project, tmp_path)
        assert proc.returncode == 0, proc.stderr
        results.append(result_of(proc))
    assert results[0] == results[1]
    assert VICTIM_NAME in results[0]["names"]


SCRIPT_2016 = r"""
import os, sys
clean = list(sys.path)
import site  # on Python 2 this adds the interpreter's own site-packages even under -S
sys.path[:] = clean
SITE, VICTIM = sys.argv[1:3]
site.addsitedir(SITE)
try:
    import pkgres_patcher_no_such_module
except ImportError:
    pass
os.unlink(VICTIM)  # "Successfully uninstalled backports-abc-0.4", in another process
# what the pip 8.1.2 console script did, under setuptools 24.0.2's pkg_resources:
from pkg_resources import load_entry_point
main = load_entry_point("pip==8.1.2", "console_scripts", "pip")
from pip._vendor import pkg_resources as vendored
names = sorted(d.project_name for d in vendored.WorkingSet())
sys.stdout.write("RESULT " + " ".join(names) + "\n")
"""


@pytest.mark.parametrize("patched", [False, True], ids=["unpatched", "patched"])
def test_2016_layout_on_python_2_7(tmp_path: Path, patched: bool) -> None:
    """Sage trac 21435 as reported: setuptools 24.0.2 zipped egg, pip 8.1.2 directory egg."""
    from ..conftest import make_egg

    exe = require_python("2.7")
    site = tmp_path / "site-packages"
    site.mkdir()
    setuptools_egg = make_egg(download("setuptools", "24.0.2"), site, zipped=True)
    pip_egg = make_egg(download("pip", "8.1.2"), site, zipped=False)
    (pip_egg / "EGG-INFO" / "entry_points.txt").write_text("[console_scripts]\npip = pip:main\n")
    victim = site / "backports_abc-0.4-py2.7.egg"
    with zipfile.ZipFile(victim, "w") as zf:
        zf.writestr("backports_abc.py", "")
        zf.writestr("EGG-INFO/PKG-INFO", "Metadata-Version: 1.1\nName: backports-abc\nVersion: 0.4\n")
    (site / "easy-install.pth").write_text("".join(f"./{e.name}\n" for e in (setuptools_egg, pip_egg, victim)))
    if patched:
        code, out, _ = cli("apply", str(site))
        assert code == 0
        assert out.count("patched ") == 2
    script = tmp_path / "pip-script.py"
    script.write_text(SCRIPT_2016)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = subprocess.run(
        [exe, "-S", str(script), str(site), str(victim)],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        timeout=120,
        check=False,
    )
    if patched:
        assert proc.returncode == 0, proc.stderr
        names = proc.stdout.split("RESULT ", 1)[1].split()
        assert "pip" in names and "setuptools" in names and "backports-abc" not in names
    else:
        assert proc.returncode == 1
        frames = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip().startswith("File ")]
        assert frames[-1].endswith(", in load"), proc.stderr  # MemoizedZipManifests.load, as in 2016
        assert "find_eggs_in_zip" in proc.stderr
        assert proc.stderr.strip().splitlines()[-1].startswith("OSError: [Errno 2] No such file or directory:")


#: releases whose interpreter has audit hooks (Python >= 3.8), to vanish right before a read
READ_CASES = [c for c in _cases() if c.values[2] not in ("2.7", "3.6")]


@pytest.mark.parametrize(("project", "version", "python"), READ_CASES)
def test_patched_copy_survives_metadata_vanishing_before_its_read(
    tmp_path: Path, project: str, version: str, python: str
) -> None:
    proc = scenario(tmp_path, project, version, python, "egg-info-read", patched=True)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "site" / f"{VICTIM_NAME}-1.0-py{python}.egg-info").exists(), "the victim never vanished"


@pytest.mark.parametrize(("project", "version", "python"), [c for c in READ_CASES if c.values[1] in ("81.0.0", "26.3")])
def test_unpatched_copy_crashes_on_metadata_vanishing_before_its_read(
    tmp_path: Path, project: str, version: str, python: str
) -> None:
    proc = scenario(tmp_path, project, version, python, "egg-info-read", patched=False)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("FileNotFoundError: [Errno 2] No such file or directory:"), (
        proc.stderr
    )


#: releases before the ones the patch set first covered (setuptools 18.0, pip 8.0)
FIRST_COVERED = {"setuptools": Version("18.0"), "pip": Version("8.0")}
MODULE_ERA = [
    c
    for c in _cases()
    if str(c.values[0]) in FIRST_COVERED and Version(str(c.values[1])) < FIRST_COVERED[str(c.values[0])]
]


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("project", "version", "python"), MODULE_ERA)
def test_module_era_copy_and_its_byte_code_come_back_byte_for_byte(
    tmp_path: Path, project: str, version: str, python: str
) -> None:
    """apply, then revert, on a release of 2013-2015 byte-compiled by its Python (``.pyc`` beside)."""
    exe = require_python(python)
    site = tmp_path / "site"
    site.mkdir()
    extract(download(project, version), site)
    subprocess.run([exe, "-m", "compileall", "-q", str(site)], check=True, capture_output=True)
    before = snapshot(site)
    module = next(name for name in before if name.endswith(("pkg_resources.py", "pkg_resources/__init__.py")))
    assert (module + "c") in before, "no byte-code beside the module"
    assert cli("apply", str(site)).code == 0
    after = snapshot(site)
    assert after[module] != before[module]
    assert after[module + "c"] != before[module + "c"]  # refreshed, not dropped
    assert cli("locate", "--check", str(site)).code == 0
    assert cli("revert", str(site)).code == 0
    assert snapshot(site) == before
