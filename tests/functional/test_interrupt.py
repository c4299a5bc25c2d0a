"""Ctrl-C stops ``drift`` at once: its pip processes are stopped, its downloads' temporary
directories removed, one line is said and the exit status is 130.

A real ``drift`` process fetches from a real index on 127.0.0.1 that answers file requests
slowly: one release is a wheel (fetched by a pip process), the other only an sdist (fetched by
drift itself, in a worker thread). SIGINT comes while both downloads hang.

SIGINT or SIGTERM stop ``verify`` at once too: its probe processes are stopped, its scratch
directory removed, one line is said, and the exit status is 130 or 143 (128+15).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from ..conftest import download, make_patchset
from ..lib.simple_index import SimpleIndex, environ, pip_env
from .test_sdist import real_sdist, trap_sdist


def children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting to be reaped does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(condition: object, what: str, limit: float = 300.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_sigint_stops_drift_with_its_children_and_leaves_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "built-marker"
    (tmp_path / "sdists").mkdir()
    sdist = trap_sdist(real_sdist("setuptools", "60.0.0"), tmp_path / "sdists", "99.1.0", marker)
    wheel = download("setuptools", "60.0.0")
    patches = make_patchset(tmp_path / "patches")
    cache = tmp_path / "cache"
    with SimpleIndex(tmp_path / "index", [wheel, sdist], delay=600) as index:
        drift = subprocess.Popen(
            [sys.executable, "-m", "patcher", "drift", "setuptools==60.0.0", "setuptools==99.1.0"]
            + ["--quiet", "--patches", str(patches), "--cache-dir", str(cache)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environ(pip_env(index.url)),
            cwd=str(tmp_path),
        )
        try:
            wanted = {f"/files/{wheel.name}", f"/files/{sdist.name}"}
            wait_for(lambda: wanted <= set(index.requests), "both downloads to start")
            running = children(drift.pid)
            assert running  # the pip process downloading the wheel
            downloads = list((cache / "releases" / "setuptools").glob(".download-*"))
            assert len(downloads) == 2
            drift.send_signal(signal.SIGINT)
            out, err = drift.communicate(timeout=120)
        finally:
            if drift.poll() is None:
                drift.kill()
                drift.wait()
    assert (drift.returncode, out, err) == (130, "", "pkgres-patcher: interrupted\n")
    assert [p.name for p in (cache / "releases" / "setuptools").iterdir()] == []
    assert [pid for pid in running if alive(pid)] == []
    assert not marker.exists()


def using(directory: Path) -> list[int]:
    """The live processes that run in ``directory`` or name it on their command line."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        if (cwd == str(directory) or cwd.startswith(f"{directory}/") or str(directory) in cmdline) and alive(
            int(entry)
        ):
            found.append(int(entry))
    return found


#: (signal, what is said, exit status, step): the signal comes once the step's scratch
#: directories exist -- the race replay's (probe processes), the fault sweep's (fork servers)
ENDINGS = [
    (signal.SIGINT, "interrupted", 130, "fault-"),
    (signal.SIGTERM, "terminated", 143, "race-"),
    (signal.SIGTERM, "terminated", 143, "fault-"),
]


@pytest.mark.parametrize(
    ("signum", "said", "status", "step"), ENDINGS, ids=[f"{s.name}-{step.rstrip('-')}" for s, _, _, step in ENDINGS]
)
def test_a_signal_stops_verify_with_its_children_and_leaves_no_scratch(
    tmp_path: Path, signum: signal.Signals, said: str, status: int, step: str
) -> None:
    if sys.version_info < (3, 10):
        pytest.skip("setuptools 81 needs Python >= 3.10 (verify runs it on the running interpreter)")
    site = tmp_path / "site"
    with zipfile.ZipFile(download("setuptools", "81.0.0")) as zf:
        zf.extractall(site)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    verify = subprocess.Popen(
        [sys.executable, "-m", "patcher", "verify", str(site), "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(scratch)},
        cwd=str(tmp_path),
    )
    try:
        wait_for(lambda: list(scratch.glob(f"pkgres-patcher-verify-*/{step}*")), f"the {step}* directories")
        wait_for(lambda: children(verify.pid), "a probe process")
        running = set(children(verify.pid)) | set(using(scratch))
        sent = time.monotonic()
        verify.send_signal(signum)
        # It ends within a second on an idle machine (benchmarks/bench_interrupt.py times it); what
        # tells a run that stops from one that finishes its queued work first is that nothing new
        # starts after the signal (a fork already under way when it came aside).
        started: set[int] = set()
        while verify.poll() is None and time.monotonic() - sent < 15:
            now = set(children(verify.pid)) | set(using(scratch))
            if time.monotonic() - sent > 0.25:
                started |= now - running
            running |= now
            time.sleep(0.02)
        if verify.poll() is None:
            pytest.fail(f"verify still runs {time.monotonic() - sent:.1f} s after {signum.name}")
        out, err = verify.communicate()
        assert started == set(), f"processes started after {signum.name}: {sorted(started)}"
    finally:
        if verify.poll() is None:
            verify.kill()
            verify.wait()
    assert (verify.returncode, out, err) == (status, "", f"pkgres-patcher: {said}\n")
    assert list(scratch.iterdir()) == []
    assert using(scratch) == []
