"""``upstream``: the fix as a ``git am``-able patch for a real upstream tree, whose regression
test fails on the unpatched tree and passes on the patched one under the upstream's own pytest
configuration."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ..conftest import cli, json_output, snapshot
from .test_export import export, gnu_patch, patch_files, unpack
from .test_sdist import real_sdist

GIT = ["git", "-c", "user.name=Test", "-c", "user.email=test@localhost", "-c", "init.defaultBranch=main"]


def git_checkout(tree: Path) -> None:
    """The unpacked sdist as a git checkout with one commit (what a contributor has)."""
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "upstream"]):
        subprocess.run([*GIT, *args], cwd=tree, check=True)


def run_regression_test(tree: Path, test: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The test under the sdist's pytest.ini, less its filter for coverage (not installed: an
    unimportable filter module is an error there); its conftest is not loaded (it needs
    setuptools' test plugins, not installable offline): ``--noconftest``."""
    ini = tmp_path / "pytest.ini"
    ini.write_text("".join(ln for ln in (tree / "pytest.ini").read_text().splitlines(True) if "coverage" not in ln))
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--noconftest", "-c", str(ini)]
    env = {**os.environ, "PYTHONPATH": str(tree), "GIT_AUTHOR_NAME": "Test"}
    return subprocess.run(
        [*argv, "--rootdir", str(tree), test, "-q"], cwd=tree, env=env, capture_output=True, text=True
    )


def committing_as_test(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("NAME", "Test"), ("EMAIL", "test@localhost")):  # git am commits as this user
        monkeypatch.setenv(f"GIT_COMMITTER_{name}", value)
        monkeypatch.setenv(f"GIT_AUTHOR_{name}", value)


def run_pytest(tree: Path, test: str, *config: str, pythonpath: str = "") -> subprocess.CompletedProcess[str]:
    """``test`` run by pytest in ``tree`` (its own rootdir) with ``config`` (-c and the like)."""
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *config, "--rootdir", str(tree), test, "-q"]
    env = {**os.environ, "PYTHONPATH": str(tree / pythonpath), "NO_COLOR": "1", "PY_COLORS": "0"}
    return subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True)


def fails_then_passes(tree: Path, copy: str, run: Callable[[], subprocess.CompletedProcess[str]]) -> None:
    """The committed regression test passes; with the copy as it was before the commit, all three fail
    the way the race fails (FileNotFoundError)."""
    passed = run()
    assert passed.returncode == 0 and "3 passed" in passed.stdout, passed.stdout + passed.stderr
    subprocess.run(["git", "checkout", "-q", "HEAD~1", "--", copy], cwd=tree, check=True)
    failed = run()
    assert "3 failed" in failed.stdout, failed.stdout + failed.stderr
    assert failed.stdout.count("FileNotFoundError") >= 3
    subprocess.run(["git", "checkout", "-q", "HEAD", "--", copy], cwd=tree, check=True)


def committed_files(tree: Path) -> set[str]:
    log = subprocess.run(["git", "log", "--format=", "--name-only", "-1"], cwd=tree, capture_output=True, text=True)
    return set(log.stdout.split())


# pip's tools/vendoring/patches/pkg_resources.patch (pypa/pip) makes these two changes to setuptools'
# pkg_resources/__init__.py; undone on the sdist's copy they give the text vendoring patches.
PIP_VENDORING_CHANGES = (
    ("from pkg_resources.extern.jaraco.text import (\n", "from pip._internal.utils._jaraco_text import (\n"),
    (
        "warnings.warn(\n"
        '    "pkg_resources is deprecated as an API. "\n'
        '    "See https://setuptools.pypa.io/en/latest/pkg_resources.html",\n'
        "    DeprecationWarning,\n"
        "    stacklevel=2,\n"
        ")\n",
        "\n"
        "# Patch: Remove deprecation warning from vendored pkg_resources.\n"
        "# Setting PYTHONWARNINGS=error to verify builds produce no warnings\n"
        "# causes immediate exceptions.\n"
        "# See https://github.com/pypa/pip/issues/12243\n",
    ),
)
PIP_COPY = "src/pip/_vendor/pkg_resources/__init__.py"
PIP_VENDORING_PATCH = "tools/vendoring/patches/pkg_resources.patch"


def pip_vendoring_input(vendored: str) -> str:
    for before, after in PIP_VENDORING_CHANGES:
        assert vendored.count(after) == 1
        vendored = vendored.replace(after, before)
    return vendored


def vendoring_applied(patch: Path, text: str, scratch: Path) -> str:
    """What pip's vendoring makes of ``text`` (setuptools' copy): ``git apply`` of its patch file."""
    copy = scratch / PIP_COPY
    copy.parent.mkdir(parents=True)
    copy.write_text(text)
    subprocess.run([*GIT, "init", "-q"], cwd=scratch, check=True)
    subprocess.run(["git", "apply", "--verbose", str(patch)], cwd=scratch, check=True, capture_output=True)
    return copy.read_text()


def pip_checkout(tmp_path: Path) -> Path:
    """A git repository of the pip 26.3 sdist laid out as pip's repository: ``tests/unit`` (packages,
    as there), ``news/`` (its .gitignore) and the vendoring patch of pkg_resources, made by
    ``git diff`` of setuptools' text (as the patch undoes) against the sdist's vendored copy."""
    tree = unpack(real_sdist("pip", "26.3"), tmp_path / "src")
    vendored = (tree / PIP_COPY).read_text()
    scratch = tmp_path / "vendoring"
    (scratch / PIP_COPY).parent.mkdir(parents=True)
    (scratch / PIP_COPY).write_text(pip_vendoring_input(vendored))
    git_checkout(scratch)
    (scratch / PIP_COPY).write_text(vendored)
    diff = subprocess.run(["git", "diff", "--abbrev=9"], cwd=scratch, check=True, capture_output=True, text=True)
    (tree / PIP_VENDORING_PATCH).parent.mkdir(parents=True)
    (tree / PIP_VENDORING_PATCH).write_text(diff.stdout)
    (tree / "tests" / "unit").mkdir(parents=True)
    (tree / "tests" / "__init__.py").write_text("")
    (tree / "tests" / "unit" / "__init__.py").write_text("")
    (tree / "news").mkdir()
    (tree / "news" / ".gitignore").write_text("!.gitignore\n")
    git_checkout(tree)
    return tree


def pip_config(tree: Path, tmp_path: Path) -> tuple[str, ...]:
    """pip's own pytest configuration (``[tool.pytest.ini_options]`` of its pyproject.toml) less the
    options of pytest-socket (not installable offline); the tree has no conftest.py (the sdist
    ships no tests/), and pip's own needs its tests/lib and plugins: ``--noconftest``."""
    config = tmp_path / "pyproject.toml"
    lines = (tree / "pyproject.toml").read_text().splitlines(True)
    config.write_text("".join(ln for ln in lines if "socket" not in ln and "allow-hosts" not in ln))
    return ("-c", str(config), "--noconftest")


def test_pip_patch_changes_the_copy_and_the_vendoring_patch_and_its_unit_test_fails_then_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    committing_as_test(monkeypatch)
    tree = pip_checkout(tmp_path)
    vendoring_input = pip_vendoring_input((tree / PIP_COPY).read_text())
    run = cli("upstream", "--target", "pip", "--source", str(tree), "--commit")
    assert run.code == 0, run.err
    assert "\nBug: https://github.com/pypa/pip/issues/8476\n" in run.out
    assert "Python 2" not in run.out and "This variant" not in run.out  # pip 26.3 runs on Python 3 only
    assert committed_files(tree) == {
        PIP_COPY,
        PIP_VENDORING_PATCH,
        "tests/unit/test_vanished_pkg_resources.py",
        "news/8476.bugfix.rst",
    }
    patched = (tree / PIP_COPY).read_text()
    assert "except OSError:" in patched and "IOError" not in patched
    # re-vendoring (git apply of the patch file on setuptools' text) makes the patched copy
    assert vendoring_applied(tree / PIP_VENDORING_PATCH, vendoring_input, tmp_path / "again") == patched
    test = "tests/unit/test_vanished_pkg_resources.py"
    assert "from pip._vendor import pkg_resources\n" in (tree / test).read_text()
    config = pip_config(tree, tmp_path)
    fails_then_passes(tree, PIP_COPY, lambda: run_pytest(tree, test, *config, pythonpath="src"))
    # and it passes pip's linters as its pyproject.toml configures ruff (line length 88)
    for lint in (["format", "--check"], ["check"]):
        ruff = subprocess.run([sys.executable, "-m", "ruff", *lint, test], cwd=tree, capture_output=True, text=True)
        assert ruff.returncode == 0, ruff.stdout + ruff.stderr


def test_backport_patch_has_no_changelog_and_its_test_fails_then_passes_under_plain_pytest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    committing_as_test(monkeypatch)
    tree = unpack(real_sdist("pkg-resources-backport", "1.0.1"), tmp_path / "src")
    git_checkout(tree)
    run = cli("upstream", "--target", "pkg-resources-backport", "--source", str(tree), "--commit", "--json")
    assert run.code == 0, run.err
    done = json_output(run.out)["upstream"]
    assert done["branch"] == "pkgres-patcher/vanished-distributions" and done["output"] is None
    assert done["python2"] is False and "Python 2" not in done["mbox"]
    assert done["files"] == ["pkg_resources/__init__.py", "pkg_resources/tests/test_vanished.py"]
    assert committed_files(tree) == set(done["files"])
    # the backport's tests are plain pytest with no configuration of their own (its pyproject has none)
    config = ("-c", str(tree / "pyproject.toml"))
    fails_then_passes(tree, "pkg_resources/__init__.py", lambda: run_pytest(tree, done["files"][1], *config))


def test_setuptools_patch_is_committed_and_its_regression_test_fails_then_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in (("NAME", "Test"), ("EMAIL", "test@localhost")):  # git am commits as this user
        monkeypatch.setenv(f"GIT_COMMITTER_{name}", value)
        monkeypatch.setenv(f"GIT_AUTHOR_{name}", value)
    tree = unpack(real_sdist("setuptools", "81.0.0"), tmp_path / "src")
    git_checkout(tree)
    mbox = tmp_path / "fix.mbox"
    run = cli("upstream", "--target", "setuptools", "--source", str(tree), "--output", str(mbox), "--commit")
    assert run.code == 0, run.err
    text = mbox.read_text()
    assert text.startswith("From 0000000000000000000000000000000000000000 ")
    assert "\nSubject: [PATCH] pkg_resources: " in text
    assert "Bug: https://github.com/pypa/pip/issues/8476\nBug: https://github.com/pypa/setuptools/issues/1003\n" in text
    log = subprocess.run(["git", "log", "--format=%s", "--name-only", "-1"], cwd=tree, capture_output=True, text=True)
    assert log.stdout.split()[0:2] == ["pkg_resources:", "treat"]
    assert {
        "newsfragments/1003.bugfix.rst",
        "pkg_resources/tests/test_vanished.py",
        "pkg_resources/__init__.py",
    } <= set(log.stdout.split())
    branch = subprocess.run(["git", "branch", "--show-current"], cwd=tree, capture_output=True, text=True)
    assert branch.stdout.strip() == "pkgres-patcher/vanished-distributions"
    test = "pkg_resources/tests/test_vanished.py"
    passed = run_regression_test(tree, test, tmp_path)
    assert passed.returncode == 0 and "3 passed" in passed.stdout, passed.stdout + passed.stderr
    subprocess.run(["git", "checkout", "-q", "HEAD~1", "--", "pkg_resources/__init__.py"], cwd=tree, check=True)
    failed = run_regression_test(tree, test, tmp_path)
    assert "3 failed" in failed.stdout, failed.stdout + failed.stderr
    assert failed.stdout.count("FileNotFoundError") >= 3


def test_a_tree_the_patch_does_not_apply_to_is_refused_and_nothing_written(tmp_path: Path) -> None:
    tree = unpack(real_sdist("setuptools", "81.0.0"), tmp_path / "src")
    (tree / "pkg_resources" / "tests" / "test_vanished.py").write_text("# taken\n")
    mbox = tmp_path / "fix.mbox"
    run = cli("upstream", "--target", "setuptools", "--source", str(tree), "--output", str(mbox))
    assert run.code == 1
    assert run.err.startswith(f"pkgres-patcher: {tree}: git apply --check: ")
    assert not mbox.exists()
    as_json = cli("upstream", "--target", "setuptools", "--source", str(tree), "--output", str(mbox), "--json")
    assert as_json.code == 1 and not mbox.exists()
    document = json_output(as_json.out)
    assert document["upstream"] is None
    assert [e["subject"] for e in document["errors"]] == [str(tree)]
    assert document["errors"][0]["reason"].startswith("git apply --check: ")


def test_a_tree_of_another_target_is_a_usage_error_naming_the_file_it_lacks(tmp_path: Path) -> None:
    tree = unpack(real_sdist("pkg-resources-backport", "1.0.1"), tmp_path / "src")
    run = cli("upstream", "--target", "pip", "--source", str(tree), "--json")
    assert (run.code, run.out) == (2, "")
    assert run.err.endswith(
        f"\npkgres-patcher upstream: {tree}: not a pip tree: it has no src/pip/_vendor/pkg_resources/__init__.py\n"
    )


def test_the_schema_speaks_the_models_words() -> None:
    from patcher.handoff.upstream import Target

    from ..conftest import load_schema

    schema = load_schema("upstream")
    assert [w["const"] for w in schema["$defs"]["target"]["oneOf"]] == [t.value for t in Target]


def test_a_tree_that_still_runs_on_python2_keeps_ioerror_and_the_notes_on_python2(tmp_path: Path) -> None:
    tree = unpack(real_sdist("setuptools", "44.1.1"), tmp_path / "src")
    run = cli("upstream", "--target", "setuptools", "--source", str(tree), "--json")
    assert run.code == 0, run.err
    done = json_output(run.out)["upstream"]
    assert done["python2"] is True
    added = [ln for ln in done["mbox"].splitlines() if ln.startswith("+") and "except" in ln]
    assert added and all("IOError, OSError" in ln for ln in added)
    assert 'This variant uses "except (IOError, OSError)" because its code also runs' in " ".join(done["mbox"].split())


def only_this_git_config(monkeypatch: pytest.MonkeyPatch, home: Path, **config: str) -> None:
    """git sees no identity but ``config`` (written to a fresh ``~/.gitconfig``): no system
    configuration, no identity in the environment."""
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    for key, value in config.items():
        subprocess.run(["git", "config", "--global", f"user.{key}", value], check=True)


def message_body(mbox: str) -> list[str]:
    """The lines of the commit message's body: after the headers, up to ``---``."""
    return mbox.split("\n\n", 1)[1].split("\n---\n", 1)[0].splitlines()


def test_the_mbox_is_the_users_and_its_body_wrapped_at_72(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Like ``git format-patch``: the author is the user's git identity (issue #20), the body
    wrapped at 72 columns; ``git am`` still applies it and records both."""
    only_this_git_config(monkeypatch, tmp_path / "home", name="Ada Lövelace", email="ada@example.org")
    tree = unpack(real_sdist("setuptools", "81.0.0"), tmp_path / "src")
    git_checkout(tree)
    mbox = tmp_path / "fix.mbox"
    run = cli("upstream", "--target", "setuptools", "--source", str(tree), "--output", str(mbox), "--commit")
    assert run.code == 0, run.err
    text = mbox.read_text()
    assert "\nFrom: =?utf-8?q?Ada_L=C3=B6velace?= <ada@example.org>\n" in text
    body = message_body(text)
    assert body[0].startswith("A distribution removed while pkg_resources scans")
    assert [line for line in body if len(line) > 72] == []
    assert body[-2:] == [
        "Bug: https://github.com/pypa/pip/issues/8476",
        "Bug: https://github.com/pypa/setuptools/issues/1003",
    ]
    log = subprocess.run(["git", "log", "-1", "--format=%an <%ae>%n%b"], cwd=tree, capture_output=True, text=True)
    author, *committed = log.stdout.splitlines()
    assert author == "Ada Lövelace <ada@example.org>"
    assert [line for line in committed if len(line) > 72] == []
    assert "Bug: https://github.com/pypa/setuptools/issues/1003" in committed


def test_without_a_git_identity_the_mbox_is_the_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    only_this_git_config(monkeypatch, tmp_path / "home")
    tree = unpack(real_sdist("setuptools", "81.0.0"), tmp_path / "src")
    run = cli("upstream", "--target", "setuptools", "--source", str(tree), "--json")
    assert run.code == 0, run.err
    mbox = json_output(run.out)["upstream"]["mbox"]
    assert "\nFrom: pkgres-patcher <pkgres-patcher@localhost>\n" in mbox
    assert [line for line in message_body(mbox) if len(line) > 72] == []


#: the copy of each target's tree, and how the round trip's tree is made (a git checkout, as upstream has)
ROUND_TRIP = {
    "setuptools": ("setuptools", "81.0.0", "pkg_resources/__init__.py"),
    "pkg-resources-backport": ("pkg-resources-backport", "1.0.1", "pkg_resources/__init__.py"),
    "pip": ("pip", "26.3", PIP_COPY),
}


def upstream_tree(target: str, tmp_path: Path) -> Path:
    if target == "pip":
        return pip_checkout(tmp_path)
    project, version, _copy = ROUND_TRIP[target]
    tree = unpack(real_sdist(project, version), tmp_path / "src")
    git_checkout(tree)
    return tree


def reads_as_carrying_the_fix(target: str, tree: Path, copy: Path, tmp_path: Path) -> None:
    """``locate``: patched (``--check`` passes); ``apply``: already patched; ``upstream`` again:
    nothing to do (exit 0, a line saying so), nothing written, the tree left as it is."""
    located = cli("locate", "--json", str(copy))
    assert located.code == 0, located.err
    [found] = json_output(located.out)["copies"]
    assert found["state"] == "patched", found["patches"]
    assert cli("locate", "--check", str(copy)).code == 0
    checked = cli("apply", "--check", "--json", str(copy))
    assert checked.code == 0, checked.out + checked.err
    assert [c["outcome"] for c in json_output(checked.out)["copies"]] == ["already-patched"]
    before = snapshot(tree)
    again = tmp_path / "again.mbox"
    run = cli("upstream", "--target", target, "--source", str(tree), "--output", str(again))
    assert (run.code, run.out) == (0, ""), run.err
    assert (
        run.err
        == f"pkgres-patcher: {tree}: already carries the fix (every patch): nothing to hand upstream, nothing written\n"
    )
    as_json = cli("upstream", "--target", target, "--source", str(tree), "--commit", "--json")
    assert as_json.code == 0, as_json.err
    done = json_output(as_json.out)["upstream"]
    assert (done["variants"], done["files"], done["mbox"], done["output"], done["branch"]) == ([], [], None, None, None)
    assert not again.exists() and snapshot(tree) == before


@pytest.mark.parametrize("target", list(ROUND_TRIP))
def test_a_tree_that_merged_the_mbox_carries_the_fix(
    target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #22: the day upstream merges the pull request (``git am`` of the mbox, its copy in
    the Python-3 form: ``except OSError``), the tree reads as patched, not drifted."""
    committing_as_test(monkeypatch)
    tree = upstream_tree(target, tmp_path)
    mbox = tmp_path / "fix.mbox"
    made = cli("upstream", "--target", target, "--source", str(tree), "--output", str(mbox))
    assert made.code == 0, made.err
    subprocess.run(["git", "am", "--keep-cr", str(mbox)], cwd=tree, check=True, capture_output=True)
    copy = tree / ROUND_TRIP[target][2]
    merged = copy.read_text()
    assert "except OSError:" in merged and "IOError" not in merged  # the Python-3 form
    reads_as_carrying_the_fix(target, tree, copy, tmp_path)
    assert copy.read_text() == merged


@pytest.mark.parametrize("target", list(ROUND_TRIP))
def test_a_tree_with_exports_series_applied_carries_the_fix(target: str, tmp_path: Path) -> None:
    """The other form the fix is handed on in: ``export``'s files, pushed by quilt (setuptools)
    or applied by ``patch -p1`` in series order, make a tree that reads as patched too."""
    project, version, path = ROUND_TRIP[target]
    layout = "quilt" if target == "setuptools" and shutil.which("quilt") else "sdist"
    sdist = real_sdist(project, version)  # into the tests' cache first: export reads it from there, offline
    output = export(tmp_path, f"{project}=={version}", layout)
    tree = unpack(sdist, tmp_path / "src")
    if layout == "quilt":
        env = {**os.environ, "QUILT_PATCHES": str(output), "QUILTRC": os.devnull}
        pushed = subprocess.run(["quilt", "push", "-a"], cwd=tree, env=env, capture_output=True, text=True)
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    else:
        for patch in patch_files(output):
            gnu_patch(tree, patch)
    reads_as_carrying_the_fix(target, tree, tree / path, tmp_path)
