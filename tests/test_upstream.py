"""``upstream``: the fix as a ``git am``-able patch for a real upstream tree, whose regression
test fails on the unpatched tree and passes on the patched one under the upstream's own pytest
configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import cli
from .test_export import unpack
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
