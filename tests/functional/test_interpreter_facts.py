"""The interpreter's answer that ``pkgres-patcher pip`` keeps (:mod:`patcher.envlock.facts`): used
while nothing it depends on has changed, asked again when something has, and a cache that is
corrupt or cannot be written changes no answer. Real venvs, real interpreters, no mocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from patcher.envlock import facts, policy

from ..conftest import venv_python


def age(root: Path, seconds: int = 3600) -> None:
    """Everything under ``root`` last changed ``seconds`` ago (links themselves, not their targets)."""
    then = time.time() - seconds
    for directory, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            os.utime(os.path.join(directory, name), (then, then), follow_symlinks=False)
    os.utime(root, (then, then))


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A venv without pip, as old as an hour: its answer may be kept."""
    root = tmp_path / "env"
    subprocess.run([venv_python(), "-m", "venv", "--without-pip", str(root)], check=True)
    age(root)
    return root / "bin" / "python"


def asked(python: Path) -> tuple[str, list[str]]:
    """What the interpreter says itself, now."""
    out = subprocess.run([str(python), "-c", policy._PROBE], capture_output=True, check=True).stdout
    answer = json.loads(out)
    return answer["prefix"], answer["path"]


def cache_dir() -> str:
    return os.path.join(os.environ["PKGRES_PATCHER_CACHE_DIR"], "interpreters")


def kept(python: Path) -> dict[str, object] | None:
    try:
        with open(facts.cache_file(str(python), cache_dir()), encoding="utf-8") as f:
            document: dict[str, object] = json.load(f)
            return document
    except FileNotFoundError:
        return None


def probed(python: Path) -> tuple[str, list[str]]:
    environment = policy.probe(str(python))
    return environment.prefix, environment.path


def test_an_answer_is_kept_and_used_while_nothing_changed(venv: Path) -> None:
    assert kept(venv) is None
    assert probed(venv) == asked(venv)
    document = kept(venv)
    assert document is not None and (document["prefix"], document["path"]) == asked(venv)
    assert facts.recall(str(venv), cache_dir()) == asked(venv)
    assert probed(venv) == asked(venv)


def test_a_changed_pyvenv_cfg_is_asked_again(venv: Path) -> None:
    prefix, path = probed(venv)
    assert kept(venv) is not None
    cfg = venv.parent.parent / "pyvenv.cfg"
    cfg.write_text(
        cfg.read_text().replace("include-system-site-packages = false", "include-system-site-packages = true")
    )
    assert facts.recall(str(venv), cache_dir()) is None
    now = asked(venv)
    assert now[1] != path  # the system's site-packages joined it
    assert probed(venv) == now


def test_a_new_pth_file_is_asked_again(venv: Path, tmp_path: Path) -> None:
    probed(venv)
    assert kept(venv) is not None
    extra = tmp_path / "extra"
    extra.mkdir()
    [site] = (venv.parent.parent / "lib").glob("python*/site-packages")
    (site / "extra.pth").write_text(f"{extra}\n")
    _, path = probed(venv)
    assert str(extra) in path
    assert (_, path) == asked(venv)


def test_a_replaced_interpreter_is_asked_again(tmp_path: Path) -> None:
    """The file at the path names another interpreter now (same size, same old mtime): its
    answer, not the one kept."""
    envs = [tmp_path / "aa", tmp_path / "bb"]
    for root in envs:
        subprocess.run([venv_python(), "-m", "venv", "--without-pip", str(root)], check=True)
        age(root)
    script = tmp_path / "python"
    then = time.time() - 3600
    answers = []
    for root in envs:
        script.write_text(f'#!/bin/sh\nexec {root / "bin" / "python"} "$@"\n')
        script.chmod(0o755)
        os.utime(script, (then, then))
        answers.append(probed(script))
        assert answers[-1] == asked(script)
        assert kept(script) is not None
    assert answers[0][0] != answers[1][0]


def test_a_changed_variable_is_asked_again(venv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probed(venv)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    _, path = probed(venv)
    assert str(tmp_path) in path


@pytest.mark.parametrize("garbage", [b"", b"{not json", b"[1, 2]", b'{"format": 1, "python": 3}', b"\xff\xfe"])
def test_a_corrupt_cache_file_is_ignored_and_written_anew(venv: Path, garbage: bytes) -> None:
    probed(venv)
    target = Path(facts.cache_file(str(venv), cache_dir()))
    target.write_bytes(garbage)
    assert probed(venv) == asked(venv)
    assert kept(venv) is not None


def test_a_kept_answer_of_another_shape_is_ignored(venv: Path) -> None:
    probed(venv)
    target = Path(facts.cache_file(str(venv), cache_dir()))
    document = json.loads(target.read_text())
    document["prefix"] = ["not", "a", "prefix"]
    target.write_text(json.dumps(document))
    assert probed(venv) == asked(venv)


def test_a_cache_that_cannot_be_written_only_means_asking(
    venv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("PKGRES_PATCHER_CACHE_DIR", str(blocker / "cache"))
    assert probed(venv) == asked(venv)
    assert probed(venv) == asked(venv)


def test_an_interpreter_changed_just_now_is_not_kept(tmp_path: Path) -> None:
    """Its files may change again within the same tick of the clock, unseen: asked each time."""
    root = tmp_path / "env"
    subprocess.run([venv_python(), "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    assert probed(python) == asked(python)
    assert kept(python) is None


def test_the_pip_command_runs_with_a_kept_answer(venv: Path) -> None:
    """``pkgres-patcher pip`` twice: the second from the kept answer, the same lock, pip's output."""
    command = [sys.executable, "-m", "patcher", "pip", "-v", "--python", str(venv), "--", "--version"]
    runs = [subprocess.run(command, capture_output=True, text=True) for _ in range(2)]
    assert kept(venv) is not None
    assert runs[0].stderr.startswith("pkgres-patcher: shared lock on ")
    assert [(r.returncode, r.stdout, r.stderr) for r in runs] == [
        (runs[0].returncode, runs[0].stdout, runs[0].stderr)
    ] * 2
