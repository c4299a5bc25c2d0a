"""The library surface (``patcher``, ``patcher.api``) and the command table over it.

The command line is a thin layer: what the library returns is what ``locate --json`` prints,
and running one command imports no other command's code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import patcher
from patcher.commands.table import COMMANDS
from patcher.errors import PatcherError, ScanError
from patcher.model import Action, Container, Outcome, State, Status
from patcher.render import locate_json

from ..conftest import Venv, cli, download


@pytest.fixture
def venv(tmp_path: Path) -> Venv:
    env = Venv(tmp_path / "venv")
    env.install(download("setuptools", "81.0.0"), download("pip", "26.3"))
    return env


def test_every_exported_name_is_there() -> None:
    for name in patcher.__all__:
        assert getattr(patcher, name) is not None, name
    assert sorted(dir(patcher)) == sorted(patcher.__all__)
    with pytest.raises(AttributeError):
        patcher.no_such_name  # noqa: B018


def test_importing_the_package_imports_no_command() -> None:
    probe = "import sys, patcher; print(sorted(m for m in sys.modules if m.startswith('patcher')))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out == "['patcher']\n"


def test_inspect_is_what_locate_prints(venv: Venv) -> None:
    report = patcher.inspect([str(venv.site)])
    assert report.ok and report.errors == ()
    assert [r.state for r in report.results] == [State.UNPATCHED, State.UNPATCHED]
    assert {r.copy.container for r in report.results} == {Container.DIRECTORY}
    assert all(fit.action is Action.CHANGE for r in report.results for fit in r.fits)
    code, out, err = cli("locate", "--json", str(venv.site))
    assert (code, err) == (0, "")
    assert json.loads(out) == json.loads(locate_json(report))


def test_apply_and_revert_through_the_library(venv: Venv) -> None:
    applied = patcher.apply([str(venv.site)])
    assert applied.ok
    assert [r.outcome for r in applied.results] == [Outcome.PATCHED, Outcome.PATCHED]
    assert [r.state for r in patcher.inspect([str(venv.site)]).results] == [State.PATCHED, State.PATCHED]
    reverted = patcher.revert([str(venv.site)], dry_run=True)
    assert [r.outcome for r in reverted.results] == [Outcome.REVERTED, Outcome.REVERTED]
    assert [r.state for r in patcher.inspect([str(venv.site)]).results] == [State.PATCHED, State.PATCHED]


def test_errors_have_a_subject_and_a_reason(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    found = patcher.locate([str(missing)])
    assert found.copies == ()
    [error] = found.errors
    assert isinstance(error, ScanError) and isinstance(error, PatcherError)
    assert (error.subject, error.reason, str(error)) == (
        str(missing),
        "No such file or directory",
        f"{missing}: No such file or directory",
    )
    report = patcher.inspect([str(missing)])
    assert not report.ok
    assert [(type(e), e.subject, e.reason) for e in report.errors] == [(ScanError, str(missing), error.reason)]


def test_statuses_are_the_words_of_the_output() -> None:
    assert json.dumps([State.PATCHED, Outcome.ALREADY_PATCHED, Status.OUT_OF_RANGE]) == (
        '["patched", "already-patched", "out-of-range"]'
    )
    assert (str(Action.CHANGE), f"{Container.EGG_ZIP}", f"{Status.FAILS:>6}") == ("change", "egg-zip", " fails")
    assert State("drifted") is State.DRIFTED
    assert [s.value for s in Status if s.drift] == ["fails", "out-of-range", "fuzz"]


def _modules_after(*argv: str) -> list[str]:
    probe = (
        "import io, sys; from patcher.cli import main; "
        f"code = main({list(argv)!r}, io.StringIO(), io.StringIO()); "
        "print(sorted(m for m in sys.modules if m.startswith(('patcher.commands.', 'patcher.releases'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return list(json.loads(out.replace("'", '"')))


def test_a_command_imports_only_its_own_module(tmp_path: Path) -> None:
    assert _modules_after("locate", str(tmp_path)) == [
        "patcher.commands._options",
        "patcher.commands.locate",
        "patcher.commands.table",
        "patcher.commands.terminal",
    ]
    assert "patcher.commands.locate" not in _modules_after("drift", "--format", "pdf")


def test_help_lists_every_command_without_importing_them(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli("--help")  # argparse prints the help to sys.stdout itself, and exits
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for name, info in COMMANDS.items():
        assert name in out and info.summary in out
