"""Parallel work that Ctrl-C stops at once: pip processes and downloads in worker threads.

Waiting for the workers to finish (a pip process, a download from a slow index) made Ctrl-C take
seconds. Instead, when the calling thread is interrupted, it stops its crew: the child processes
the workers started -- each in a process group of its own, so that a Ctrl-C at the terminal
reaches this process only and is said in one line -- are interrupted (pip then removes its own
temporary files), and killed if they linger; the temporary directories of unfinished downloads
are removed; the threads are daemons, left to end with the process.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

__all__ = ["Stopped", "parallel_map", "run", "scratch_dir"]

T = TypeVar("T")
R = TypeVar("R")

#: how long an interrupted child process may take to clean up before it is killed
GRACE = 0.5


class Stopped(Exception):
    """The run this worker thread works for was interrupted: start nothing more."""


class _Crew:
    """What the worker threads of one :func:`parallel_map` started, to stop it all at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stopped = False
        self.children: set[subprocess.Popen[str]] = set()
        self.scratch: set[str] = set()

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            children, scratch = list(self.children), list(self.scratch)
        _stop_processes(children)
        for path in scratch:
            shutil.rmtree(path, ignore_errors=True)


_local = threading.local()


def _crew() -> _Crew | None:
    crew: _Crew | None = getattr(_local, "crew", None)
    return crew


@contextlib.contextmanager
def _enlisted(crew: _Crew | None, register: Callable[[], T], into: Callable[[_Crew], set[T]]) -> Iterator[T]:
    """Start something with ``register`` and, in a worker, record it in the crew's set (under its
    lock, so that a crew being stopped starts nothing more)."""
    if crew is None:
        thing = register()
        yield thing
        return
    with crew.lock:
        if crew.stopped:
            raise Stopped
        thing = register()
        into(crew).add(thing)
    try:
        yield thing
    finally:
        with crew.lock:
            into(crew).discard(thing)


def run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """``argv`` run to its end, its output caught as text, in a process group of its own."""

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    with _enlisted(_crew(), start, lambda crew: crew.children) as proc:
        try:
            out, err = proc.communicate()
        except BaseException:  # Ctrl-C while this very thread waits
            _stop_processes([proc])
            raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@contextlib.contextmanager
def scratch_dir(parent: str, prefix: str = ".download-") -> Iterator[str]:
    """A temporary directory in ``parent``, removed afterwards (or when the run is interrupted)."""
    with _enlisted(_crew(), lambda: tempfile.mkdtemp(prefix=prefix, dir=parent), lambda crew: crew.scratch) as path:
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)


def _signal_group(proc: subprocess.Popen[str], signum: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signum)


def _running(proc: subprocess.Popen[str]) -> bool:
    if proc.poll() is not None:
        return False
    try:
        os.killpg(proc.pid, 0)
    except OSError:
        return False
    return True


def _stop_processes(procs: Sequence[subprocess.Popen[str]]) -> None:
    """Interrupt each process group, wait at most :data:`GRACE` seconds, kill what is left."""
    for proc in procs:
        _signal_group(proc, signal.SIGINT)
    deadline = time.monotonic() + GRACE
    left = list(procs)
    while left and time.monotonic() < deadline:
        time.sleep(0.01)
        left = [proc for proc in left if _running(proc)]
    for proc in left:
        _signal_group(proc, signal.SIGKILL)
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(GRACE)


def parallel_map(
    function: Callable[[T], R], items: Sequence[T], jobs: int, done: Callable[[], None] | None = None
) -> list[R]:
    """``function`` of each item, in order, computed by up to ``jobs`` threads; ``done`` is called
    (in this thread) as each one finishes. An exception in a worker is raised here once all are
    done; an interruption of this thread (Ctrl-C) stops the crew and is raised at once."""
    if not items:
        return []
    crew = _Crew()
    outcomes: list[tuple[bool, object]] = [(False, None)] * len(items)
    finished: queue.SimpleQueue[int] = queue.SimpleQueue()
    pending = iter(range(len(items)))

    def work() -> None:
        _local.crew = crew
        while True:
            with crew.lock:
                number = None if crew.stopped else next(pending, None)
            if number is None:
                return
            try:
                outcomes[number] = (True, function(items[number]))
            except BaseException as exc:  # carried to the calling thread
                outcomes[number] = (False, exc)
            finished.put(number)

    try:
        for n in range(max(1, min(jobs, len(items)))):
            threading.Thread(target=work, name=f"pkgres-patcher-worker-{n}", daemon=True).start()
        for _ in items:
            finished.get()
            if done is not None:
                done()
    except BaseException:
        crew.stop()
        raise
    results: list[R] = []
    for ok, value in outcomes:
        if not ok:
            assert isinstance(value, BaseException)
            raise value
        results.append(value)  # type: ignore[arg-type]
    return results
