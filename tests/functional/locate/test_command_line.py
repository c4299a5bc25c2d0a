"""``locate`` on the command line: exit statuses, JSON, errors, --check."""

import stat
import subprocess
from pathlib import Path

import pytest

from ...conftest import (
    VenvFactory,
    cli,
)
from ...lib.locating import (
    console,
    console_command,
)


def test_python_that_does_not_exist(tmp_path: Path, patches: Path) -> None:
    missing = tmp_path / "no" / "python"
    proc = console("locate", "--patches", str(patches), "--python", str(missing))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == f"pkgres-patcher: {missing}: cannot run (No such file or directory)\n"


def script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_python_that_is_not_python(tmp_path: Path, venv_factory: VenvFactory, patches: Path) -> None:
    fake = script(tmp_path / "python", "#!/bin/sh\necho 'not python' >&2\nexit 3\n")
    proc = console("locate", "--patches", str(patches), "--python", str(fake))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"pkgres-patcher: {fake}: not a Python interpreter (exited with status 3: not python)\n"
    # a real interpreter whose site processing ends it (a .pth line that exits) is a Python (it
    # runs code without its site): its failure is said as it is
    venv = venv_factory()
    (venv.site / "exits.pth").write_text("import os; os._exit(7)\n")
    proc = console("locate", "--patches", str(patches), "--python", venv.python)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"pkgres-patcher: {venv.python}: exited with status 7 (no output)\n"


@pytest.mark.parametrize(
    ("program", "reason"),
    [
        # ls takes the probe's code for a file name: the code is not repeated back to the user
        ("/bin/ls", "exited with status 2"),
        ("/bin/echo", "printed something other than JSON"),
        ("/bin/true", "printed nothing"),
    ],
)
@pytest.mark.parametrize("command", ["locate", "apply", "pip"])
def test_a_program_that_is_not_python_is_named_in_one_line(
    tmp_path: Path, patches: Path, program: str, reason: str, command: str
) -> None:
    argv = ["--patches", str(patches)] if command != "pip" else []
    proc = console(command, *argv, "--python", program, *(["--", "list"] if command == "pip" else []))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"pkgres-patcher: {program}: not a Python interpreter ({reason})\n"


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie no reaper collected is dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def ended(pids: list[int], within: float = 10.0) -> bool:
    import time

    deadline = time.monotonic() + within
    while any(alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def pids_in(path: Path) -> list[int]:
    import time

    deadline = time.monotonic() + 10
    while not path.exists() or len(path.read_text().split()) < 2:
        assert time.monotonic() < deadline, f"{path} was not written"
        time.sleep(0.05)
    return [int(pid) for pid in path.read_text().split()]


@pytest.mark.parametrize("command", ["locate", "apply", "revert", "verify", "pip"])
def test_a_python_that_never_answers_is_ended_with_what_it_started(tmp_path: Path, patches: Path, command: str) -> None:
    """A program that never answers (it waits on a child of its own, which waits forever): the
    wait is bounded by --python-timeout, one line says so, both processes are ended."""
    record = tmp_path / "pids"
    hang = script(tmp_path / "python", f"#!/bin/sh\nsleep 1000 &\necho $$ $! > {record}\nwait\n")
    argv = ["--patches", str(patches)] if command != "pip" else []
    after = ["--", "list"] if command == "pip" else []
    proc = subprocess.run(
        [*console_command(), command, *argv, "--python", str(hang), "--python-timeout", "1.5", *after],
        capture_output=True,
        text=True,
        timeout=50,  # the default timeout is 60 seconds: not waited for
    )
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (
        f"pkgres-patcher: {hang}: did not answer within 1.5 seconds, ended (--python-timeout SECONDS waits longer)\n"
    )
    assert ended(pids_in(record))


def test_a_real_python_hanging_in_its_site_is_ended(venv_factory: VenvFactory, patches: Path, tmp_path: Path) -> None:
    """A real interpreter that hangs while processing its site (a ``.pth`` line that sleeps)."""
    venv = venv_factory()
    record = tmp_path / "pid"
    line = f"import os, time; open({str(record)!r}, 'w').write('%d 0' % os.getpid()); time.sleep(1000)\n"
    (venv.site / "hangs.pth").write_text(line)
    code, out, err = cli("locate", "--patches", str(patches), "--python", venv.python, "--python-timeout", "1")
    assert (code, out) == (1, "")
    assert (
        err
        == f"pkgres-patcher: {venv.python}: did not answer within 1 second, ended (--python-timeout SECONDS waits longer)\n"
    )
    assert ended(pids_in(record)[:1])


def test_a_named_path_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-prefix"
    code, out, err = cli("locate", str(missing))
    assert code == 1
    assert err == f"pkgres-patcher: {missing}: No such file or directory\n"
    assert out == "no copy of pkg_resources found\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["locate", "--bogus"], "pkgres-patcher locate: unrecognized arguments: --bogus"),
        ([], "pkgres-patcher: the following arguments are required: COMMAND"),
        (["locate", "--python"], "pkgres-patcher locate: argument --python: expected one argument"),
        (
            ["locate", "--python-timeout", "0"],
            "pkgres-patcher locate: argument --python-timeout: must be a number of seconds more than 0, got 0",
        ),
        (
            ["apply", "--python-timeout", "soon"],
            "pkgres-patcher apply: argument --python-timeout: not a number of seconds: 'soon'",
        ),
        (
            ["pip", "--python-timeout", "inf"],
            "pkgres-patcher pip: argument --python-timeout: must be a number of seconds more than 0, got inf",
        ),
        (["locate", "--fuzz=1"], "pkgres-patcher locate: unrecognized arguments: --fuzz=1"),
        (["find"], "pkgres-patcher: argument COMMAND: invalid choice: 'find' (choose from "),
    ],
)
def test_usage_errors(argv: list[str], message: str) -> None:
    proc = console(*argv)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[-1] == message if not message.endswith(" ") else lines[-1].startswith(message)
    assert "Traceback" not in proc.stderr
    command = argv[0] if argv and not argv[0].startswith("-") and argv[0] != "find" else None
    assert lines[0].startswith(f"usage: pkgres-patcher {command} " if command else "usage: pkgres-patcher [")
    assert all(line.startswith(" ") for line in lines[1:-1])  # the usage, wrapped, then the one line
