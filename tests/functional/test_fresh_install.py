"""The project installed as a new user installs it, on the oldest and the newest Python it supports:
its dependencies resolved afresh by real pip (no cache, whatever was released since), then the tool
run. A dependency release that drops a Python the tool claims, or breaks it there, fails here
before it fails a user (the weekly workflow in ``.github/workflows`` runs the same on a clean
runner)."""

from __future__ import annotations

import configparser
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import require_python

ROOT = Path(__file__).resolve().parents[2]


def supported_pythons() -> tuple[str, str]:
    """The oldest and the newest Python ``setup.cfg``'s classifiers name."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    prefix = "Programming Language :: Python :: 3."
    minors = [
        int(c.strip()[len(prefix) :])
        for c in config.get("metadata", "classifiers").splitlines()
        if c.strip().startswith(prefix)
    ]
    assert config.get("options", "python_requires").strip() == f">=3.{min(minors)}"
    return f"3.{min(minors)}", f"3.{max(minors)}"


@pytest.mark.parametrize("which", ["oldest", "newest"])
def test_a_fresh_install_resolves_and_runs(tmp_path: Path, which: str) -> None:
    oldest, newest = supported_pythons()
    version = oldest if which == "oldest" else newest
    python = sys.executable if "{}.{}".format(*sys.version_info[:2]) == version else require_python(version)
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--no-cache-dir", "--disable-pip-version-check", "--quiet", str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    report = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "inspect"], capture_output=True, text=True, check=False
    )
    if report.returncode == 0:  # pip >= 22.2: what was resolved, for the failure message
        resolved = {
            d["metadata"]["name"].lower(): d["metadata"]["version"] for d in json.loads(report.stdout)["installed"]
        }
    else:
        resolved = {}
    run = subprocess.run(
        [str(venv / "bin" / "pkgres-patcher"), "locate", "--json", str(venv)], capture_output=True, text=True
    )
    assert run.returncode == 0, f"Python {version}, {resolved}: {run.stderr}"
    located = json.loads(run.stdout)
    # the venv's own pip vendors pkg_resources: found, planned against the patch set (packaging used)
    assert [c["state"] for c in located["copies"] if c["vendored_by"] == "pip"] == ["unpatched"], resolved
    assert "Traceback" not in run.stderr


def readme_commands() -> list[str]:
    """The set-up commands README.rst gives (the literal lines that make ``.venv``)."""
    text = (ROOT / "README.rst").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.startswith("    python3 -m venv .venv")]


def test_the_weekly_workflow_runs_the_readme_commands_and_the_single_file_uncached() -> None:
    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "weekly.yml").read_text(encoding="utf-8"))
    assert workflow[True]["schedule"]  # YAML 1.1 reads the key "on" as True
    [job] = workflow["jobs"].values()
    assert job["strategy"]["matrix"]["python"] == list(supported_pythons())
    assert job["env"]["PIP_NO_CACHE_DIR"] == "1"
    assert not [s for s in job["steps"] if "cache" in str(s.get("uses", "")) or "cache" in s.get("with", {})]
    runs = "\n".join(s.get("run", "") for s in job["steps"])
    commands = readme_commands()
    assert len(commands) == 2 and all(c in runs for c in commands), commands
    assert "devtools/build_pyz.py --output pkgres-patcher.pyz" in runs
