"""Verifying one copy: its own code run in a real interpreter against a scratch site whose
distributions vanish (race replay) or whose files fail one call at a time (fault sweep).

Every run is a fresh process started with ``-S -B -E``: nothing of the user's site is on its
``sys.path`` and nothing is written next to the code it imports. The copy runs from scratch
directories (see :mod:`.scratch`), so the user's tree is only read.
"""

from __future__ import annotations

import glob
import importlib.resources
import json
import os
import select
import signal
import subprocess
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, NamedTuple

from patcher.disk import copyio
from patcher.engine.patchset import MEMBER, PatchSet
from patcher.engine.planning import plan_copy
from patcher.errors import PatcherError
from patcher.model import Container, Copy
from patcher.pythons import (
    candidates,
    find_python,
    named_versions,
    supported_pythons,
    supported_versions,
    version_of,
)
from patcher.verification.results import CopyVerification, Escape, FaultPoint, Race, VerifyStatus
from patcher.verification.scratch import KEEP, Own, Site, build_own, build_site, import_root, parent_inits

__all__ = ["Progress", "probe_code", "verify_copy"]

MARK = "PKGRES-PATCHER-VERIFY "
DONE = "PKGRES-PATCHER-DONE "
_IMPORT_ERRORS = ("ImportError", "ModuleNotFoundError")
#: one run of the workload never takes this long; one that does has hung
TIMEOUT = 120
Progress = Callable[[str], None]


def probe_code() -> str:
    """The code run inside the target interpreter (2.7 to 3.x), shipped as package data."""
    return (importlib.resources.files("patcher.verification") / "probe_child.py").read_text(encoding="utf-8")


class _Cancelled(Exception):
    """A process was to start after the run was stopped (in a worker thread: nobody waits for it)."""


class _Children:
    """Every process one copy's verification runs, so that a run stopped part way (Ctrl-C,
    SIGTERM: an exception in the main thread) ends them at once, before its worker threads are
    waited for and its scratch directory removed; none starts after that."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()
        self._stopped = False

    @property
    def stopped(self) -> bool:
        return self._stopped

    def start(self, argv: Sequence[str], **options: Any) -> subprocess.Popen[bytes]:
        """``Popen(argv, **options)``, unless the run was stopped (:class:`_Cancelled`)."""
        with self._lock:
            if self._stopped:
                raise _Cancelled(argv[0])
            proc: subprocess.Popen[bytes] = subprocess.Popen(list(argv), **options)
            self._running.add(proc)
            return proc

    def done(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.discard(proc)

    def run(
        self, argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: str | None = None
    ) -> tuple[int | None, bytes, bytes]:
        """Run a process to its end: its status (None: killed after :data:`TIMEOUT`), stdout, stderr."""
        proc = self.start(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd
        )
        try:
            try:
                out, err = proc.communicate(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                return None, b"", b""
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            self.done(proc)
        return proc.returncode, out, err

    def stop(self) -> None:
        """Kill every process running (a fork server with the runs it forked) and wait for it."""
        with self._lock:
            self._stopped = True
            running = list(self._running)
        for proc in running:
            try:
                if os.getpgid(proc.pid) == proc.pid:  # a fork server: a session of its own
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    proc.kill()
            except OSError:
                pass
        for proc in running:
            proc.wait()


@contextmanager
def _pool(children: _Children, workers: int) -> Iterator[ThreadPoolExecutor]:
    """Worker threads; when the main thread is stopped (an exception), their processes are
    killed and what they have not begun is dropped before they are waited for."""
    pool = ThreadPoolExecutor(max_workers=max(workers, 1))
    try:
        yield pool
    except BaseException:
        children.stop()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


class _Target(NamedTuple):
    """What one probe run imports: an interpreter, the copy laid out, a site of victims; and
    the processes of the copy's verification."""

    python: str
    own: Own
    site: Site
    work: str
    children: _Children


def _config(target: _Target, mode: str, race: str | None, fault: int | None) -> dict[str, Any]:
    return {
        "paths": list(target.own.paths),
        "extra_paths": list(target.own.extra),
        "site": target.site.path,
        "module": target.own.module,
        "preimport": target.site.preimport,
        "victims": {v.name: list(v.roots) for v in target.site.victims},
        "require": KEEP,
        "mode": mode,
        "race": race,
        "fault": fault,
        "userbase": os.path.join(target.work, "userbase"),
        # set by the run itself, so that a forked one (see _Server) sets them the same way
        "cwd": target.work,
        "egg_cache": os.path.join(target.work, "egg-cache"),
    }


def _probe_process(python: str, config: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of a probe process: ``-S -B -E``, none of the user's
    ``PYTHON*`` variables, so that nothing of the user's site is imported or written."""
    argv = [python, "-S", "-B", "-E", "-W", "ignore", "-c", probe_code(), json.dumps(config)]
    return argv, {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


def run_probe(target: _Target, mode: str, *, race: str | None = None, fault: int | None = None) -> dict[str, Any]:
    """One run of the workload in a fresh process; what it reported (a probe that died
    without reporting is an escape of phase ``probe``)."""
    argv, env = _probe_process(target.python, _config(target, mode, race, fault))
    try:
        status, out, err = target.children.run(argv, env=env, cwd=target.work)
    except OSError as exc:
        return _died(f"cannot run {target.python}: {exc.strerror or exc}")
    if status is None:
        return _died(f"did not finish within {TIMEOUT} seconds")
    for line in out.decode("utf-8", "replace").splitlines():
        if line.startswith(MARK):
            result: dict[str, Any] = json.loads(line[len(MARK) :])
            return result
    tail = (err.decode("utf-8", "replace").strip().splitlines() or [f"exit status {status}, no output"])[-1]
    return _died(tail)


def _died(message: str) -> dict[str, Any]:
    return {"escapes": [{"phase": "probe", "type": "ProbeDied", "message": message, "where": "-"}], "listing": {}}


def _escapes(result: dict[str, Any]) -> tuple[Escape, ...]:
    return tuple(Escape(e["phase"], e["type"], e["message"], e["where"]) for e in result.get("escapes", []))


def _metadata(copy: Copy) -> list[str]:
    """The core metadata of the copy's release (for the Pythons it supported)."""
    texts: list[str] = []
    try:
        if copy.member is not None:
            with zipfile.ZipFile(copy.file) as zf:
                for name in zf.namelist():
                    if name in ("EGG-INFO/PKG-INFO",) or name.endswith(".dist-info/METADATA"):
                        texts.append(zf.read(name).decode("utf-8", "replace"))
            return texts
        paths = []
        if copy.record:
            paths += [os.path.join(os.path.dirname(copy.record), n) for n in ("METADATA", "PKG-INFO")]
        if copy.container is Container.EGG_DIR:
            egg = copy.file.split(".egg" + os.sep)[0] + ".egg"
            paths.append(os.path.join(egg, "EGG-INFO", "PKG-INFO"))
        paths += glob.glob(os.path.join(os.path.dirname(os.path.dirname(copy.file)), "*.dist-info", "METADATA"))
        for path in paths:
            if os.path.isfile(path):
                with open(path, encoding="utf-8", errors="replace") as f:
                    texts.append(f.read())
    except (OSError, zipfile.BadZipFile):
        pass
    return texts


def _differences(before: dict[str, Any], after: dict[str, Any]) -> tuple[str, ...]:
    """What the copy as found lists otherwise than its pristine text (one line each)."""
    lines = []
    for key in sorted(set(before) | set(after)):
        if key not in after:
            lines.append(f"{key}: missing (pristine lists {before[key][0]})")
        elif key not in before:
            lines.append(f"{key}: listed, pristine does not")
        elif before[key] != after[key]:
            lines.append(f"{key}: {after[key]} instead of {before[key]}")
    return tuple(lines)


def _choose(
    copy: Copy,
    own: Own,
    pythons: Sequence[str],
    tmp: str,
    children: _Children,
    holding: Sequence[str] = (),
    bare: Callable[[], Own] | None = None,
) -> tuple[_Target | None, dict[str, Any] | None, list[str]]:
    """The first interpreter on which the copy's pristine text runs with nothing vanishing, in
    the import context its project gives it (see :func:`_in_context`), its listing, and why the
    others could not. ``bare`` lays the pristine copy out with its parent packages empty."""
    notes: list[str] = []
    tried: set[str] = set()
    first = candidates(copy, pythons, holding)
    for python in [*first, None]:
        if python is None:  # none of the usual ones: the Pythons its release supported
            later = [p for p in supported_pythons(_metadata(copy)) if p not in tried]
            if not later:
                break
            python = later[0]
            first.extend(later[1:])
        if python in tried:
            continue
        tried.add(python)
        version = version_of(python)
        if version is None:
            notes.append(f"{python}: does not run")
            continue
        work = os.path.join(tmp, f"py{len(tried)}")
        os.makedirs(work)
        target = _Target(python, own, build_site(work, version), work, children)
        chosen, listing, said, e = _in_context(copy, target, bare)
        if chosen is not None and listing is not None:
            return chosen, listing, [*notes, *said]
        assert e is not None
        notes.append(f"cannot run on Python {version} ({python}) even unpatched: {e.type}: {e.message} in {e.phase}")
    return None, None, notes + _missing(copy, pythons)


def _in_context(
    copy: Copy, target: _Target, bare: Callable[[], Own] | None
) -> tuple[_Target | None, dict[str, Any] | None, list[str], Escape | None]:
    """The copy's pristine text run with nothing vanishing, as laid out; where it cannot import
    what it needs, as its project imports it: its dependencies from the directory it lies in
    (after everything of scratch: a debundled ``packaging``, zc.buildout's requirements), then
    with the packages above its own directory laid out empty (``zc/buildout/__init__.py``
    imports setuptools and pip: its project's needs, not pkg_resources'). The last escape when
    none runs."""
    listing = run_probe(target, "list")
    escapes = _escapes(listing)
    if not escapes:
        return target, listing, [], None
    first = escapes[0]
    root = import_root(copy)
    extra = target.own.extra or ((root,) if root else ())
    tries: list[tuple[Own, str]] = []
    if root and not target.own.extra:
        why = " (no RECORD lists them)" if not copy.record else ""
        tries.append((target.own._replace(extra=extra), f"imports its dependencies from {root}{why}"))
    laid = bare() if bare is not None and first.type in _IMPORT_ERRORS else None
    if laid is not None and laid.emptied:
        note = (
            f"imported with {', '.join(laid.emptied)} laid out empty: its project's code, which as it is "
            f"cannot be imported here ({first.type}: {first.message})"
        )
        if extra:
            note += f"; its dependencies imported from {root}"
        tries.append((laid._replace(extra=extra), note))
    for own, note in tries:
        if escapes[0].type not in _IMPORT_ERRORS:
            break
        retry = target._replace(own=own)
        retried = run_probe(retry, "list")
        escapes = _escapes(retried)
        if not escapes:
            return retry, retried, [note], None
    return None, None, [], escapes[0]


def _missing(copy: Copy, pythons: Sequence[str]) -> list[str]:
    """The Pythons that were looked for and not found: part of why a copy is not verifiable."""
    named = [] if pythons else [v for v in named_versions(copy) if find_python(v) is None]
    supported = [v for v in supported_versions(_metadata(copy)) if find_python(v) is None and v not in named]
    notes = [f"no Python {v} (its path names it) on PATH or in pyenv" for v in named]
    if supported:
        notes.append(f"no Python {', '.join(supported)} (its release's classifiers) on PATH or in pyenv")
    return notes


def verify_copy(
    copy: Copy,
    patchset: PatchSet,
    pythons: Sequence[str] = (),
    *,
    holders: Sequence[str] = (),
    quick: bool = False,
    jobs: int = 1,
    progress: Progress | None = None,
) -> CopyVerification:
    """Verify one copy (see the module docstring) on the first of ``pythons`` that runs it, else
    the first of ``holders`` (the interpreters that import it), its prefix's own, ...; never
    writes below the copy's tree."""
    if not copy.is_source:
        return CopyVerification(copy, VerifyStatus.NOT_VERIFIABLE, reason="holds only byte-code")
    try:
        text = copyio.read(copy)
    except PatcherError as exc:
        return CopyVerification(copy, VerifyStatus.NOT_VERIFIABLE, reason=exc.reason)
    reverted = plan_copy(text, patchset, MEMBER, revert=True)
    pristine = None if reverted.failed else reverted.result
    say = progress or (lambda message: None)
    children = _Children()
    with tempfile.TemporaryDirectory(prefix="pkgres-patcher-verify-") as tmp:
        try:
            return _verify_in(copy, text, pristine, tmp, children, pythons, holders, quick, jobs, say)
        except BaseException:  # stopped (Ctrl-C, SIGTERM): its processes go before its scratch directory
            children.stop()
            raise


def _verify_in(
    copy: Copy,
    text: bytes,
    pristine: bytes | None,
    tmp: str,
    children: _Children,
    pythons: Sequence[str],
    holders: Sequence[str],
    quick: bool,
    jobs: int,
    say: Progress,
) -> CopyVerification:
    """:func:`verify_copy` in its scratch directory ``tmp``."""
    own = build_own(copy, text, os.path.join(tmp, "own"))
    own_pristine = own if pristine in (None, text) else build_own(copy, pristine, os.path.join(tmp, "pristine"))
    inits = parent_inits(copy)
    bare: list[Own] = []

    def lay_bare() -> Own:  # once, for whichever interpreter needs it first
        if not bare:
            bare.append(build_own(copy, pristine or text, os.path.join(tmp, "pristine-bare"), inits))
        return bare[0]

    say(f"{copy.location}: choosing an interpreter")
    target, listing, notes = _choose(copy, own_pristine, pythons, tmp, children, holders, lay_bare if inits else None)
    if target is None or listing is None:
        reason = "; ".join(notes) or "no interpreter to run it"
        return CopyVerification(copy, VerifyStatus.NOT_VERIFIABLE, reason=reason, notes=tuple(notes))
    if target.own.emptied:  # the copy as found, laid out the same way
        own_pristine = target.own
        own = own_pristine if pristine in (None, text) else build_own(copy, text, os.path.join(tmp, "own-bare"), inits)
    target = target._replace(own=own._replace(extra=target.own.extra))
    _compile(target)
    version = listing.get("python")
    same: bool | None = None if pristine is None else True
    differences: tuple[str, ...] = ()
    if own_pristine is not own:
        mine = run_probe(target, "list")
        differences = _differences(listing["listing"], mine.get("listing", {}))
        escapes = _escapes(mine)
        differences += tuple(f"{e.phase}: {e.type}: {e.message}" for e in escapes)
        same = not differences
    races = _race_replay(target, tmp, jobs, say, copy)
    faults = None if quick else _fault_sweep(target, tmp, jobs, say, copy)
    failed = any(r.escapes for r in races) or same is False or any(f.escapes for f in faults or ())
    return CopyVerification(
        copy,
        VerifyStatus.FAILED if failed else VerifyStatus.PASSED,
        target.python,
        version,
        races=races,
        faults=faults,
        same_listing=same,
        listing_differences=differences,
        notes=tuple(notes),
    )


def _compile(target: _Target) -> None:
    """Byte-compile the copy's scratch layout once, with the chosen interpreter: every run
    (``-B``) then reads it instead of compiling the copy's source again, which is most of a
    run's time. Best effort: where it fails, each run compiles from source as before."""
    directories = [path for path in target.own.paths if os.path.isdir(path)]
    if not directories:
        return  # a zipped egg: zipimport compiles in memory on every run anyway
    argv = [target.python, "-S", "-E", "-m", "compileall", "-q", *directories]
    try:
        target.children.run(argv)
    except OSError:
        pass


def _race_replay(target: _Target, tmp: str, jobs: int, say: Progress, copy: Copy) -> tuple[Race, ...]:
    """Each victim, in a site of its own, deleted at the first call the copy makes on it."""
    version = version_of(target.python) or "0.0"
    runs = []
    for victim in target.site.victims:
        if victim.name == KEEP:
            continue
        work = os.path.join(tmp, f"race-{victim.kind}")
        os.makedirs(work)
        runs.append((victim, target._replace(site=build_site(work, version), work=work)))
    say(f"{copy.location}: race replay, {len(runs)} victims")

    def one(item: tuple[Any, _Target]) -> Race:
        victim, own_target = item
        result = run_probe(own_target, "race", race=victim.name)
        return Race(victim.name, victim.kind, victim.name in result.get("fired", []), _escapes(result))

    with _pool(target.children, jobs) as pool:
        return tuple(pool.map(one, runs))


def _fault_sweep(target: _Target, tmp: str, jobs: int, say: Progress, copy: Copy) -> tuple[FaultPoint, ...]:
    """Every call the copy makes on the victims' files (and ``keep``'s), counted with nothing
    vanishing; then, for each K, a fresh site whose distribution vanishes at the K-th call,
    each run a fresh process forked by one of ``jobs`` servers (:class:`_Server`)."""
    counted = run_probe(target, "count")
    calls = counted.get("calls", [])
    total = len(calls)
    preload = counted.get("stdlib", [])
    version = version_of(target.python) or "0.0"
    pending = list(range(total, 0, -1))
    points: dict[int, FaultPoint] = {}
    lock = threading.Lock()

    def next_index() -> int | None:
        with lock:
            return pending.pop() if pending and not target.children.stopped else None

    def work() -> None:
        server = _Server(target, preload)
        try:
            while (index := next_index()) is not None:
                work_dir = os.path.join(tmp, f"fault-{index}")
                os.makedirs(work_dir)
                point_target = target._replace(site=build_site(work_dir, version), work=work_dir)
                result = server.run(_config(point_target, "fault", None, index))
                fault = result.get("fault")
                call, path = (
                    (fault[0], fault[1]) if fault else (calls[index - 1][0], f"{calls[index - 1][1]} (not reached)")
                )
                with lock:
                    points[index] = FaultPoint(index, call, path, _escapes(result))
                    say(f"{copy.location}: fault sweep {len(points)}/{total}")
        finally:
            server.close()

    with _pool(target.children, min(jobs, total)) as pool:
        for future in [pool.submit(work) for _ in range(max(min(jobs, total), 1))]:
            future.result()
    return tuple(points[index] for index in range(1, total + 1))


class _Server:
    """A fork server in the target interpreter (``serve`` mode of the probe): started once,
    it imports the standard library modules the copy needs, then forks a fresh process for
    each run. It saves each run the interpreter's start-up, most of a run's time. A server
    that dies or hangs is replaced; the run it was on is reported as died."""

    def __init__(self, target: _Target, preload: Sequence[str]) -> None:
        self._argv, self._env = _probe_process(target.python, {"mode": "serve", "preload": list(preload)})
        self._cwd = target.work
        self._children = target.children
        self._proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            self._proc = self._children.start(
                self._argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=self._env,
                cwd=self._cwd,
                bufsize=0,
                start_new_session=True,
            )
        return self._proc

    def run(self, config: dict[str, Any]) -> dict[str, Any]:
        try:
            proc = self._start()
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps(config).encode() + b"\n")
            proc.stdin.flush()
        except OSError as exc:
            self.close()
            return _died(f"cannot run {self._argv[0]}: {exc.strerror or exc}")
        result: dict[str, Any] | None = None
        buffer = b""
        deadline = time.monotonic() + TIMEOUT
        while True:
            while b"\n" not in buffer:
                left = deadline - time.monotonic()
                ready = select.select([proc.stdout], [], [], max(left, 0))[0] if left > 0 else []
                chunk = os.read(proc.stdout.fileno(), 65536) if ready else b""
                if not chunk:
                    self.close()
                    return result or _died(f"did not finish within {TIMEOUT} seconds" if not ready else "server died")
                buffer += chunk
            line, buffer = buffer.split(b"\n", 1)
            text = line.decode("utf-8", "replace")
            if text.startswith(MARK):
                result = json.loads(text[len(MARK) :])
            elif text.startswith(DONE):
                return result or _died(f"died without a report (wait status {text[len(DONE) :]})")

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()
        self._children.done(proc)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
