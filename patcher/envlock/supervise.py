"""Run a command as a child that the caller outlives: signals passed on, its status returned.

A process that holds a lock for a command cannot ``exec`` it (the lock would go with the
descriptor, or stay with whatever the command leaves behind), so it waits for the child, and
meanwhile passes on what is meant for the child: SIGINT, SIGTERM and SIGHUP. The signals are
taken with ``sigwaitinfo`` (blocked, never lost between the child starting and the wait), which
also says who sent each: a signal the kernel sent to the whole process group (Ctrl-C or a
hangup on the terminal) has reached the child already and is not sent twice.

On Linux the child is also told to die with its parent (``PR_SET_PDEATHSIG``): the one signal
that cannot be passed on, SIGKILL of the parent, releases the lock, and the command must not
go on without it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence

from patcher.errors import CommandError, reason

__all__ = ["FORWARDED", "exit_status", "run_forwarding"]

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: ``si_code`` of a signal the kernel itself sent (a terminal's Ctrl-C or hangup: to the process group)
_SI_KERNEL = 0x80
_PR_SET_PDEATHSIG = 1


def exit_status(returncode: int) -> int:
    """A child's status as a shell reports it: its exit code, or 128+N when signal N killed it."""
    return 128 - returncode if returncode < 0 else returncode


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` part asking Linux to SIGKILL the child when this process dies."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError, ImportError):
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request was made
            os._exit(128 + int(signal.SIGKILL))

    return arm


def _reached_child(info: signal.struct_siginfo, child: int) -> bool:
    """Whether the kernel sent this signal to a process group the child is in (so it has it)."""
    if info.si_code != _SI_KERNEL:
        return False
    try:
        return os.getpgid(child) == os.getpgrp()
    except OSError:
        return False


def _drain(signals: set[signal.Signals]) -> None:
    """Take the signals still pending, so that unblocking them does not end this process."""
    while signals & signal.sigpending():
        signal.sigtimedwait(signals, 0)


def run_forwarding(argv: Sequence[str]) -> int:
    """Run ``argv``, passing SIGINT, SIGTERM and SIGHUP on to it; its exit status (128+N when
    killed by signal N). Raises :class:`CommandError` (status 127 or 126) when it cannot start."""
    watched = {*FORWARDED, signal.SIGCHLD}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    arm = _die_with_parent()

    def child_setup() -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        if arm is not None:
            arm()

    try:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        try:
            child = subprocess.Popen(list(argv), preexec_fn=child_setup)
        except FileNotFoundError as exc:
            raise CommandError(argv[0], f"cannot run ({reason(exc)})", 127) from None
        except OSError as exc:
            raise CommandError(argv[0], f"cannot run ({reason(exc)})", 126) from None
        while child.poll() is None:
            info = signal.sigwaitinfo(watched)
            if info.si_signo != signal.SIGCHLD and not _reached_child(info, child.pid):
                try:
                    os.kill(child.pid, info.si_signo)
                except ProcessLookupError:  # ended meanwhile: poll() collects it
                    pass
        _drain(watched)  # sent as it ended: the child is past caring, and this process ends now
        return exit_status(child.returncode)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
