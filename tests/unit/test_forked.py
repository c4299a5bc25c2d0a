"""Work shared with real forked children (``patcher.forking``)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from patcher import forking


def test_a_child_sends_its_bytes_back() -> None:
    child = forking.fork(lambda: b"from the child %d" % os.getpid())
    assert child is not None
    data = child.result()
    assert data is not None and data.startswith(b"from the child ")
    assert int(data.rsplit(b" ", 1)[1]) == child.pid != os.getpid()


def test_more_than_a_pipe_holds() -> None:
    payload = os.urandom(8 << 20)  # the child blocks on the pipe until the parent reads
    child = forking.fork(lambda: payload)
    assert child is not None
    time.sleep(0.1)
    assert child.result() == payload


def test_a_child_that_raises_gives_nothing() -> None:
    def work() -> bytes:
        raise RuntimeError("boom")

    child = forking.fork(work)
    assert child is not None
    assert child.result() is None
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)  # reaped: no zombie left


def test_a_child_killed_midway_gives_nothing() -> None:
    def work() -> bytes:
        os.write(1, b"")  # something of the parent's state is usable in the child
        os.kill(os.getpid(), signal.SIGKILL)
        return b"never"

    child = forking.fork(work)
    assert child is not None
    assert child.result() is None


def test_cancel_stops_a_child_at_work() -> None:
    def late() -> bytes:
        time.sleep(60)
        return b"late"

    child = forking.fork(late)
    assert child is not None
    started = time.monotonic()
    child.cancel()
    assert time.monotonic() - started < 10
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)
    assert child.result() is None  # collected already


def test_no_fork_beside_other_threads() -> None:
    assert forking.can_fork()
    release = threading.Event()
    waiting = threading.Thread(target=release.wait)
    waiting.start()
    try:
        assert not forking.can_fork()
    finally:
        release.set()
        waiting.join()
    assert forking.can_fork()


def test_usable_cpus_follow_the_affinity_mask() -> None:
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this system")
    assert forking.usable_cpus() == len(os.sched_getaffinity(0)) >= 1
