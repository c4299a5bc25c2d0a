"""``pkgres-patcher lock``: real processes holding and waiting for real ``flock(2)`` locks, next
to util-linux ``flock(1)`` and Sage's ``sage-flock``.

Nothing here is timed: a holder's command says on its stdout that it is in (the test reads the
line) and stays in until the test writes a line to its stdin; a process that has to wait says
so on stderr before it blocks. Where an order matters, each command appends ``NAME in`` and
``NAME out`` to one log file, and the log is read at the end.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

OURS = (sys.executable, "-m", "patcher", "lock")
FLOCK = shutil.which("flock")
#: a command that logs its entry, says "in" on stdout, waits for a line on stdin, logs its exit
HOLD = 'echo "$0 in" >> "$1"; echo in; read line; echo "$0 out" >> "$1"'

needs_flock = pytest.mark.skipif(
    FLOCK is None, reason="util-linux flock(1) is not installed (apt-get install util-linux)"
)


def read_line(stream: object, what: str, limit: float = 120.0, end: str = "\n") -> str:
    """The next line (up to ``end``) of a child's pipe; the limit only keeps a broken run from
    hanging the suite."""
    fd = stream.fileno()  # type: ignore[attr-defined]
    data = b""
    while not data.endswith(end.encode()):
        ready, _, _ = select.select([fd], [], [], limit)
        assert ready, f"no line from {what} after {limit} s"
        chunk = os.read(fd, 1)
        if not chunk:
            break
        data += chunk
    return data.decode()


class Run:
    """One locking process (ours, flock(1), a Sage-like one) around the :data:`HOLD` command."""

    def __init__(self, prefix: Sequence[str], name: str, log: Path, command: Sequence[str] | None = None) -> None:
        self.name = name
        argv = [*prefix, *(command if command is not None else ("sh", "-c", HOLD, name, str(log)))]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def entered(self) -> None:
        assert read_line(self.proc.stdout, self.name) == "in\n", self.finish()

    def waiting(self) -> str:
        return read_line(self.proc.stderr, f"{self.name}'s stderr")

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def finish(self) -> tuple[int, str]:
        """Its exit status (once it has ended by itself: its stdin stays open, a command that
        read EOF would end before a signal sent to it arrives) and the rest of its stderr."""
        self.proc.wait(timeout=120)
        _, err = self.proc.communicate(timeout=120)  # a command left behind would keep the pipes open
        return self.proc.returncode, err.decode()


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "log"


@pytest.fixture
def lockfile(tmp_path: Path) -> Path:
    return tmp_path / "pip.lock"


def ours(mode: str, lockfile: Path, *options: str) -> list[str]:
    return [*OURS, mode, str(lockfile), *options, "--"]


def nonblocking_probe(lockfile: Path) -> dict[str, bool]:
    """Whether a shared and an exclusive lock could be taken right now, asked of ours and of flock(1)."""
    found = {}
    for mode in ("--shared", "--exclusive"):
        ran = subprocess.run([*ours(mode, lockfile, "--timeout", "0"), "true"], capture_output=True, text=True)
        found[f"ours {mode}"] = ran.returncode == 0
        if FLOCK is not None:
            found[f"flock {mode}"] = subprocess.run([FLOCK, "-n", mode, str(lockfile), "true"]).returncode == 0
    return found


def blocked_in_kernel(pid: int, limit: float = 120.0) -> None:
    """Wait until ``pid`` waits for a lock: ``/proc/locks`` lists a blocked request (``->``) of it."""
    import time

    deadline = time.monotonic() + limit
    while not any(
        line.split()[1] == "->" and line.split()[5] == str(pid) for line in Path("/proc/locks").read_text().splitlines()
    ):
        assert time.monotonic() < deadline, f"process {pid} never waited for a lock"
        time.sleep(0.01)


def every(probes: dict[str, bool], mode: str) -> set[bool]:
    return {ok for name, ok in probes.items() if name.endswith(mode)}


# --- shared and exclusive ------------------------------------------------------------------


def test_shared_holders_overlap_and_an_exclusive_one_must_wait(lockfile: Path, log: Path) -> None:
    first = Run(ours("--shared", lockfile), "first", log)
    first.entered()
    second = Run(ours("--shared", lockfile), "second", log)
    second.entered()  # while the first is still in: they overlap
    writer = Run(ours("--exclusive", lockfile), "writer", log)
    assert writer.waiting() == f"pkgres-patcher: waiting for exclusive lock on {lockfile}\n"
    first.release()
    second.release()
    writer.entered()
    writer.release()
    assert [r.finish() for r in (first, second, writer)] == [(0, ""), (0, ""), (0, "")]
    lines = log.read_text().splitlines()
    assert lines[:2] == ["first in", "second in"]
    assert lines[-2:] == ["writer in", "writer out"]


def test_a_waiting_writer_holds_back_later_readers(lockfile: Path, log: Path) -> None:
    """flock(2) alone would let the second reader in beside the first while the writer waits."""
    first = Run(ours("--shared", lockfile), "first", log)
    first.entered()
    writer = Run(ours("--exclusive", lockfile), "writer", log)
    assert writer.waiting() == f"pkgres-patcher: waiting for exclusive lock on {lockfile}\n"
    second = Run(ours("--shared", lockfile), "second", log)
    assert second.waiting() == f"pkgres-patcher: waiting for shared lock on {lockfile}\n"
    first.release()
    writer.entered()
    writer.release()
    second.entered()
    second.release()
    assert [r.finish() for r in (first, writer, second)] == [(0, ""), (0, ""), (0, "")]
    assert log.read_text().splitlines() == [
        "first in",
        "first out",
        "writer in",
        "writer out",
        "second in",
        "second out",
    ]


@needs_flock
def test_an_exclusive_holder_excludes_every_other_ours_and_flock1(lockfile: Path, log: Path) -> None:
    holder = Run(ours("--exclusive", lockfile), "holder", log)
    holder.entered()
    probes = nonblocking_probe(lockfile)
    holder.release()
    assert holder.finish() == (0, "")
    assert probes == dict.fromkeys(probes, False) and len(probes) == 4
    assert nonblocking_probe(lockfile) == dict.fromkeys(probes, True)  # released when the command ended


@needs_flock
def test_a_shared_holder_admits_shared_ours_and_flock1_and_excludes_exclusive(lockfile: Path, log: Path) -> None:
    holder = Run(ours("--shared", lockfile), "holder", log)
    holder.entered()
    probes = nonblocking_probe(lockfile)
    holder.release()
    assert holder.finish() == (0, "")
    assert every(probes, "--shared") == {True} and every(probes, "--exclusive") == {False}


@needs_flock
@pytest.mark.parametrize("mode", ["--shared", "--exclusive"])
def test_flock1_holder_is_seen_by_ours(mode: str, lockfile: Path, log: Path) -> None:
    holder = Run([str(FLOCK), mode, str(lockfile)], "flock", log)
    holder.entered()
    probes = nonblocking_probe(lockfile)
    holder.release()
    assert holder.finish() == (0, "")
    assert every(probes, "--exclusive") == {False}
    assert every(probes, "--shared") == {mode == "--shared"}


@needs_flock
def test_flock1_waits_for_ours_and_ours_waits_for_flock1(lockfile: Path, log: Path) -> None:
    ours_holder = Run(ours("--exclusive", lockfile), "ours", log)
    ours_holder.entered()
    flock_waiter = Run([str(FLOCK), "--exclusive", str(lockfile)], "flock", log)
    blocked_in_kernel(flock_waiter.proc.pid)
    ours_holder.release()
    flock_waiter.entered()
    ours_waiter = Run(ours("--shared", lockfile), "ours-again", log)
    assert ours_waiter.waiting() == f"pkgres-patcher: waiting for shared lock on {lockfile}\n"
    flock_waiter.release()
    ours_waiter.entered()
    ours_waiter.release()
    assert [r.finish()[0] for r in (ours_holder, flock_waiter, ours_waiter)] == [0, 0, 0]
    assert log.read_text().splitlines() == [
        "ours in",
        "ours out",
        "flock in",
        "flock out",
        "ours-again in",
        "ours-again out",
    ]


# --- waiting, timeout ---------------------------------------------------------------------


def test_a_waiter_says_so_once_and_runs_after_the_holder(lockfile: Path, log: Path) -> None:
    holder = Run(ours("--exclusive", lockfile), "holder", log)
    holder.entered()
    waiter = Run(ours("--shared", lockfile), "waiter", log)
    assert waiter.waiting() == f"pkgres-patcher: waiting for shared lock on {lockfile}\n"
    holder.release()
    waiter.entered()
    waiter.release()
    assert holder.finish() == (0, "")
    assert waiter.finish() == (0, "")  # nothing more on stderr
    assert log.read_text().splitlines() == ["holder in", "holder out", "waiter in", "waiter out"]


def test_timeout_gives_up_with_one_line_and_status_1_and_never_runs_the_command(lockfile: Path, log: Path) -> None:
    holder = Run(ours("--exclusive", lockfile), "holder", log)
    holder.entered()
    marker = lockfile.parent / "ran"
    late = subprocess.run(
        [*ours("--shared", lockfile, "--timeout", "0.3"), "touch", str(marker)], capture_output=True, text=True
    )
    at_once = subprocess.run(
        [*OURS, "-x", str(lockfile), "-w", "0", "touch", str(marker)], capture_output=True, text=True
    )
    holder.release()
    assert holder.finish() == (0, "")
    assert (late.returncode, late.stdout) == (1, "")
    assert late.stderr.splitlines() == [
        f"pkgres-patcher: waiting for shared lock on {lockfile}",
        f"pkgres-patcher: {lockfile}: no shared lock within 0.3 s",
    ]
    assert at_once.returncode == 1
    assert at_once.stderr.splitlines()[-1] == f"pkgres-patcher: {lockfile}: no exclusive lock within 0 s"
    assert not marker.exists()


# --- signals ------------------------------------------------------------------------------

#: logs the signal it is sent, then leaves with status 7
CATCH = """
import signal, sys
def caught(signum, frame):
    with open(sys.argv[1], "a") as f:
        f.write(signal.Signals(signum).name + "\\n")
    sys.exit(7)
for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(signum, caught)
print("in", flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signals_reach_the_command_and_its_status_comes_back(signum: int, lockfile: Path, log: Path) -> None:
    catcher = Run(ours("--exclusive", lockfile), "catcher", log, [sys.executable, "-c", CATCH, str(log)])
    catcher.entered()
    catcher.proc.send_signal(signum)
    assert catcher.finish() == (7, "")
    assert log.read_text() == signal.Signals(signum).name + "\n"
    dies = Run(ours("--exclusive", lockfile), "dies", log)  # sh does not catch it: killed by it
    dies.entered()
    dies.proc.send_signal(signum)
    assert dies.finish() == (128 + signum, "")
    assert subprocess.run([*ours("--exclusive", lockfile, "-w", "0"), "true"]).returncode == 0  # released


def test_a_command_killed_with_sigkill_releases_the_lock_and_gives_137(lockfile: Path, log: Path) -> None:
    victim = Run(ours("--exclusive", lockfile), "victim", log, ["sh", "-c", "echo in; kill -KILL $$"])
    victim.entered()
    waiter = Run(ours("--exclusive", lockfile), "waiter", log)
    waiter.entered()
    waiter.release()
    assert victim.finish() == (137, "")
    assert waiter.finish()[0] == 0


def process_ended(pid: int) -> None:
    """Wait until ``pid`` (not a child of ours) has ended: a pidfd becomes readable then."""
    fd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([fd], [], [], 120)
        assert ready, f"process {pid} still runs"
    finally:
        os.close(fd)


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs os.pidfd_open (Linux, Python 3.9+)")
def test_the_holder_killed_with_sigkill_releases_the_lock_and_takes_its_command_along(
    lockfile: Path, log: Path
) -> None:
    holder = Run(ours("--exclusive", lockfile), "holder", log, ["sh", "-c", "echo in; echo $$; exec sleep 1000000"])
    holder.entered()
    command = int(read_line(holder.proc.stdout, "holder's command"))
    try:
        waiter = Run(ours("--exclusive", lockfile), "waiter", log)
        assert waiter.waiting().startswith("pkgres-patcher: waiting for exclusive lock")
        holder.proc.kill()
        assert holder.finish()[0] == -signal.SIGKILL
        waiter.entered()  # no deadlock, no stale lock
        process_ended(command)  # the command does not go on without the lock
        waiter.release()
        assert waiter.finish() == (0, "")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(command, signal.SIGKILL)


# --- the lock file ------------------------------------------------------------------------


def test_the_lock_file_is_never_truncated_and_its_directories_are_made(tmp_path: Path) -> None:
    kept = tmp_path / "kept.lock"
    kept.write_bytes(b"a lock file may hold anything\n")
    kept.chmod(0o600)
    assert subprocess.run([*ours("--exclusive", kept), "true"]).returncode == 0
    assert kept.read_bytes() == b"a lock file may hold anything\n"
    assert kept.stat().st_mode & 0o777 == 0o600
    new = tmp_path / "var" / "lock" / "deep" / "pip.lock"
    umask = "umask 027; exec " + " ".join(ours("--shared", new)) + " true"
    assert subprocess.run(["sh", "-c", umask]).returncode == 0
    assert new.read_bytes() == b""
    assert new.stat().st_mode & 0o777 == 0o640  # 0666 & ~umask
    assert (tmp_path / "var" / "lock" / "deep").stat().st_mode & 0o777 == 0o750
    directory = tmp_path / "var"  # a directory can be locked too, as with flock(1)
    assert subprocess.run([*ours("--shared", directory), "true"]).returncode == 0


def test_a_lock_file_that_cannot_be_made_is_one_line_and_status_1(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    bad = tmp_path / "file" / "pip.lock"  # below a regular file: ENOTDIR, even for root
    ran = subprocess.run([*ours("--shared", bad), "true"], capture_output=True, text=True)
    assert ran.returncode == 1
    assert ran.stderr == f"pkgres-patcher: {bad}: cannot create its directory {tmp_path / 'file'} (Not a directory)\n"


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_a_lock_file_one_may_only_read_is_still_locked(tmp_path: Path) -> None:
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="lock-ro-"))
    try:
        shared.chmod(0o755)
        lock = shared / "pip.lock"
        lock.write_text("")
        lock.chmod(0o644)
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        holder = subprocess.Popen(
            [*nobody, *ours("--exclusive", lock), "sh", "-c", "echo in; read x"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert read_line(holder.stdout, "nobody's holder") == "in\n"
        probe = subprocess.run([*ours("--shared", lock, "-w", "0"), "true"], capture_output=True)
        holder.communicate(b"\n", timeout=120)
        assert holder.returncode == 0
        assert probe.returncode == 1  # nobody's read-only descriptor held it
    finally:
        shutil.rmtree(shared)


# --- usage and commands -------------------------------------------------------------------


def test_command_not_found_is_127_and_not_executable_is_126(lockfile: Path, tmp_path: Path) -> None:
    missing = subprocess.run([*ours("--shared", lockfile), "no-such-command-anywhere"], capture_output=True, text=True)
    assert missing.returncode == 127
    assert missing.stderr == "pkgres-patcher: no-such-command-anywhere: cannot run (No such file or directory)\n"
    plain = tmp_path / "plain"
    plain.write_text("")
    denied = subprocess.run([*ours("--shared", lockfile), str(plain)], capture_output=True, text=True)
    assert denied.returncode == 126


@pytest.mark.parametrize(
    "argv",
    [
        ["lock", "F", "--", "true"],  # no mode
        ["lock", "--shared", "--exclusive", "F", "true"],
        ["lock", "--shared", "F"],  # no command
        ["lock", "--shared", "F", "--timeout", "-1", "--", "true"],
    ],
)
def test_usage_errors_are_status_2(argv: list[str], tmp_path: Path) -> None:
    ran = subprocess.run([sys.executable, "-m", "patcher", *argv], capture_output=True, text=True, cwd=tmp_path)
    assert ran.returncode == 2
    assert not (tmp_path / "F").exists()


def test_options_may_follow_the_lockfile_and_the_command_keeps_its_own(lockfile: Path) -> None:
    ran = subprocess.run(
        [*OURS, lockfile.as_posix(), "--exclusive", "-w", "5", "--", "sh", "-c", 'echo "$@"', "sh", "-x", "--timeout"],
        capture_output=True,
        text=True,
    )
    assert (ran.returncode, ran.stdout) == (0, "-x --timeout\n")
    plain = subprocess.run([*OURS, "-s", str(lockfile), "echo", "--", "-w"], capture_output=True, text=True)
    assert plain.stdout == "-- -w\n"


# --- Sage's sage-flock ----------------------------------------------------------------------

SAGE_FLOCK = os.environ.get("PKGRES_PATCHER_SAGE_FLOCK")

#: Sage's steps in sh and flock(1): makedirs, open "w+" (truncates), a non-blocking try, the
#: message, a blocking wait, "ok", exec -- the command keeping the descriptor (Python 2) or not
#: (Python 3: close-on-exec)
SAGE_LIKE = """mkdir -p "$(dirname "$0")" || exit 1
exec 9>"$0"
if ! flock -n -x 9; then printf 'Waiting for exclusive lock to run %s ... ' "$*" >&2; flock -x 9; echo ok >&2; fi
exec "$@" """


def sage_flock(python2: bool) -> list[str]:
    """Sage's ``sage-flock`` (``build/bin/sage-flock`` over ``build/sage_bootstrap/flock.py``,
    sagemath/sage; ``src/bin/sage-flock`` in 2016), exclusive, as it behaves.

    It makes LOCK's directory, opens LOCK with ``open(LOCK, "w+")`` (so it truncates it),
    tries ``fcntl.flock`` without blocking, and when that fails writes ``Waiting for exclusive
    lock to run <command> ... ``, blocks, writes ``ok``; then ``os.execvp``\\ s COMMAND. Under
    Python 2 (Sage's bootstrap Python until 2020) the command inherits the descriptor and holds
    the lock; under Python 3 the descriptor is close-on-exec (PEP 446), so the command runs
    without the lock: all it does is wait until the lock is free.

    The script is GPL and not shipped here: it is re-created with sh and util-linux ``flock``,
    step by step, and run as is when ``$PKGRES_PATCHER_SAGE_FLOCK`` names it (by Python 2.7
    from pyenv for the Python 2 behaviour, by this Python for the Python 3 one).
    """
    if SAGE_FLOCK:
        from ..conftest import require_python

        return [require_python("2.7") if python2 else sys.executable, SAGE_FLOCK, "-x"]
    return ["sh", "-c", SAGE_LIKE if python2 else SAGE_LIKE + "9>&-"]


def sage_waits(run: Run) -> None:
    """Read Sage's message up to the point where it blocks."""
    said = read_line(run.proc.stderr, "sage-flock's stderr", end=" ... ")
    assert said.startswith("Waiting for exclusive lock to run ") and said.endswith(" ... "), said


@needs_flock
@pytest.mark.parametrize("python2", [True, False], ids=["python2", "python3"])
def test_sage_flock_waits_for_our_holder(python2: bool, tmp_path: Path, log: Path) -> None:
    lockfile = tmp_path / "var" / "lock" / "pip3.lock"
    holder = Run(ours("--shared", lockfile), "ours", log)
    holder.entered()
    sage = Run([*sage_flock(python2), str(lockfile)], "sage", log)
    sage_waits(sage)
    holder.release()
    sage.entered()
    sage.release()
    assert holder.finish() == (0, "") and sage.finish() == (0, "ok\n")
    assert log.read_text().splitlines() == ["ours in", "ours out", "sage in", "sage out"]


@needs_flock
def test_our_waiter_waits_for_a_sage_flock_holder_under_python2(tmp_path: Path, log: Path) -> None:
    lockfile = tmp_path / "var" / "lock" / "pip3.lock"
    sage = Run([*sage_flock(True), str(lockfile)], "sage", log)
    sage.entered()
    waiter = Run(ours("--shared", lockfile), "ours", log)
    assert waiter.waiting() == f"pkgres-patcher: waiting for shared lock on {lockfile}\n"
    sage.release()
    waiter.entered()
    waiter.release()
    assert sage.finish()[0] == 0 and waiter.finish() == (0, "")
    assert log.read_text().splitlines() == ["sage in", "sage out", "ours in", "ours out"]


# --- a terminal's Ctrl-C --------------------------------------------------------------------

#: takes SIGINT, SIGHUP and SIGTERM, logs who sent each and says so; ends at SIGTERM. With
#: "own-group" it first leaves the terminal's process group.
TELL = """
import os, signal, sys
if sys.argv[2] == "own-group":
    os.setpgid(0, 0)
wanted = {signal.SIGINT, signal.SIGHUP, signal.SIGTERM}
signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
print("in", flush=True)
while True:
    info = signal.sigwaitinfo(wanted)
    sender = "kernel" if info.si_code == 0x80 else "pid %d" % info.si_pid
    with open(sys.argv[1], "a") as f:
        f.write("%s from %s\\n" % (signal.Signals(info.si_signo).name, sender))
    print("logged", flush=True)
    if info.si_signo == signal.SIGTERM:
        sys.exit(0)
"""


@pytest.mark.parametrize("group", ["same-group", "own-group"])
def test_ctrl_c_on_the_terminal_reaches_the_command_once(group: str, lockfile: Path, log: Path) -> None:
    """The terminal sends SIGINT to its whole foreground process group: a command in it has it
    already, and ours must not send a second one; a command that left the group gets it from
    ours.

    A second SIGINT sent while the first is still pending would merge into it, unseen: so ours
    is stopped while the terminal's SIGINT reaches the command, and continued once the command
    has taken it. Then SIGHUP and SIGTERM are sent to ours, which passes them on after whatever
    it does with the SIGINT: a second SIGINT would be in the log before the end."""
    import fcntl
    import pty
    import termios

    master, slave = pty.openpty()

    def take_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    def logged() -> None:
        assert read_line(proc.stdout, "the command") == "logged\n"

    argv = [*ours("--exclusive", lockfile), sys.executable, "-c", TELL, str(log), group]
    proc = subprocess.Popen(argv, stdin=slave, stdout=subprocess.PIPE, stderr=slave, preexec_fn=take_terminal)
    os.close(slave)
    try:
        assert read_line(proc.stdout, "the command") == "in\n"
        if group == "same-group":
            proc.send_signal(signal.SIGSTOP)
            os.waitpid(proc.pid, os.WUNTRACED)  # returns once it is stopped
            os.write(master, b"\x03")  # Ctrl-C
            logged()
            proc.send_signal(signal.SIGCONT)
        else:
            os.write(master, b"\x03")
            logged()
        proc.send_signal(signal.SIGHUP)
        logged()
        proc.send_signal(signal.SIGTERM)
        while "SIGTERM" not in log.read_text():
            logged()
        assert proc.wait(timeout=120) == 0
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    interrupt = "SIGINT from kernel" if group == "same-group" else f"SIGINT from pid {proc.pid}"
    assert log.read_text().splitlines() == [interrupt, f"SIGHUP from pid {proc.pid}", f"SIGTERM from pid {proc.pid}"]
