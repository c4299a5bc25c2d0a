"""Compiling a copy's new source into byte-code, by the interpreter each byte-code file is for.

Byte-code is only good for the interpreter whose magic number and cache tag it carries, so it
is compiled by such an interpreter: those asked for (``--python``), the copy's prefix's own,
the ``pythonX.Y`` its path or the file's tag names, on ``PATH`` or in pyenv
(:func:`patcher.pythons.candidates`). Compiling happens in a child process
of that interpreter (``compile_child.py``, Python 2.7 to 3.x) that is given the source text:
the copy is never imported. Every file a run needs is compiled by one child per interpreter
(:meth:`Compiler.run`, before any copy is written); a source that changed meanwhile is
compiled on its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from collections.abc import Iterable
from functools import cache
from typing import NamedTuple

from patcher.bytecode.files import ByteCode
from patcher.model import Copy

__all__ = ["Compiled", "Compiler", "ByteCodeInterpreter", "Job", "describe"]

#: a compile child that has not answered by then is given up (its files are removed instead)
_TIMEOUT = 300


#: version, magic number and cache tag: what byte-code an interpreter writes
Kind = tuple[tuple[int, int], bytes, "str | None"]


class ByteCodeInterpreter(NamedTuple):
    """An interpreter as byte-code knows it (version, magic number, cache tag): not to be confused
    with :class:`patcher.scan.syspath.Interpreter`, the ``sys.path`` of one that a scan covers."""

    python: str
    version: tuple[int, int]
    magic: bytes
    #: ``sys.implementation.cache_tag`` (None on Python 2: no ``__pycache__``)
    tag: str | None

    @property
    def kind(self) -> Kind:
        """What its byte-code is: interpreters of one kind (every venv of one Python) compile alike."""
        return self.version, self.magic, self.tag


class Job(NamedTuple):
    """One source to compile: its text, the path its code objects name, the optimization level."""

    source: bytes
    filename: str
    optimize: int


class Compiled(NamedTuple):
    """A compiled source: ``marshal`` data of its code and its hash (PEP 552, Python >= 3.7),
    or why it could not be compiled."""

    code: bytes | None
    source_hash: bytes | None = None
    error: str | None = None


@cache
def _child_code() -> str:
    import importlib.resources

    return (importlib.resources.files("patcher.bytecode") / "compile_child.py").read_text(encoding="utf-8")


def _argv(python: str, optimized: bool) -> list[str]:
    return [python, "-S", "-E", "-B", *(["-O"] if optimized else []), "-c", _child_code()]


def _ask(python: str, jobs: list[Job], optimized: bool) -> tuple[ByteCodeInterpreter, list[Compiled]]:
    """Run one compile child; raises :class:`OSError` or :class:`ValueError` when it fails."""
    request = {
        "jobs": [
            {
                "source": base64.b64encode(job.source).decode("ascii"),
                "filename": base64.b64encode(os.fsencode(job.filename)).decode("ascii"),
                "optimize": job.optimize,
            }
            for job in jobs
        ]
    }
    try:
        proc = subprocess.run(
            _argv(python, optimized),
            input=json.dumps(request).encode("ascii"),
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ValueError(f"{python} did not answer within {_TIMEOUT} seconds") from None
    if proc.returncode != 0:
        last = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        raise ValueError(f"{python} exited with status {proc.returncode} ({last})")
    try:
        answer = json.loads(proc.stdout)
        major, minor = answer["version"]
        interpreter = ByteCodeInterpreter(
            python, (int(major), int(minor)), base64.b64decode(answer["magic"]), answer.get("tag")
        )
        results = [
            Compiled(
                None if r["code"] is None else base64.b64decode(r["code"]),
                None if r["hash"] is None else base64.b64decode(r["hash"]),
                r["error"],
            )
            for r in answer["results"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{python} printed something unexpected ({exc})") from None
    if len(results) != len(jobs):
        raise ValueError(f"{python} answered {len(results)} of {len(jobs)} sources")
    return interpreter, results


def describe(python: str) -> ByteCodeInterpreter | None:
    """What ``python`` writes byte-code as (version, magic, tag); None when it does not run.
    Asked once per real executable: every venv of one Python is one question."""
    return _describe(os.path.realpath(python))


@cache
def _describe(python: str) -> ByteCodeInterpreter | None:
    try:
        return _ask(python, [], False)[0]
    except (OSError, ValueError):
        return None


def _optimized(interpreter: ByteCodeInterpreter, optimize: int) -> bool:
    """Whether the child must run with ``-O``: before Python 3.2 ``compile()`` takes no level."""
    return optimize > 0 and interpreter.version < (3, 2)


def _reads(interpreter: ByteCodeInterpreter, found: ByteCode) -> bool:
    """Whether ``interpreter`` is the one a byte-code file is for."""
    if found.tag is not None:
        return interpreter.tag == found.tag
    return found.magic is None or interpreter.magic == found.magic


class Compiler:
    """Compiles sources for the byte-code files of copies, batched: one child per interpreter."""

    def __init__(self, pythons: Iterable[str] = ()) -> None:
        self._pythons = list(pythons)
        self._done: dict[tuple[object, ...], Compiled] = {}
        #: per kind of interpreter (and Python 2 -O level): the interpreter to run, its jobs
        self._pending: dict[tuple[Kind, bool], tuple[ByteCodeInterpreter, dict[tuple[str, str, int], Job]]] = {}

    def interpreter(self, copy: Copy, found: ByteCode) -> ByteCodeInterpreter | None:
        """The interpreter that writes ``found``'s kind of byte-code for ``copy``, if one is
        here: the ones asked for, the copy's prefix's own, the running one, then the
        ``pythonX.Y`` the file's tag or magic number names."""
        from patcher.pythons import candidates, find_python

        tried = set()
        for python in candidates(copy, self._pythons):
            tried.add(python)
            interpreter = describe(python)
            if interpreter is not None and _reads(interpreter, found):
                return interpreter
        version = found.version
        named = None if version is None else find_python(version)
        if named is not None and named not in tried:
            interpreter = describe(named)
            if interpreter is not None and _reads(interpreter, found):
                return interpreter
        return None

    def request(self, interpreter: ByteCodeInterpreter, job: Job) -> None:
        """Note ``job`` for :meth:`run`."""
        if self._key(interpreter, job) not in self._done:
            optimized = _optimized(interpreter, job.optimize)
            _, batch = self._pending.setdefault((interpreter.kind, optimized), (interpreter, {}))
            batch[(_digest(job.source), job.filename, job.optimize)] = job

    def run(self) -> None:
        """Compile every job requested: one child per interpreter (and Python 2 ``-O`` level)."""
        pending, self._pending = self._pending, {}
        for (_kind, optimized), (interpreter, batch) in pending.items():
            jobs = list(batch.values())
            for job, compiled in zip(jobs, self._compile(interpreter, jobs, optimized)):
                self._done[self._key(interpreter, job)] = compiled

    def compile(self, interpreter: ByteCodeInterpreter, job: Job) -> Compiled:
        """``job`` compiled by ``interpreter``: from :meth:`run`, else now, on its own."""
        key = self._key(interpreter, job)
        if key not in self._done:
            [self._done[key]] = self._compile(interpreter, [job], _optimized(interpreter, job.optimize))
        return self._done[key]

    @staticmethod
    def _key(interpreter: ByteCodeInterpreter, job: Job) -> tuple[object, ...]:
        return (interpreter.kind, _digest(job.source), job.filename, job.optimize)

    @staticmethod
    def _compile(interpreter: ByteCodeInterpreter, jobs: list[Job], optimized: bool) -> list[Compiled]:
        try:
            answered, results = _ask(interpreter.python, jobs, optimized)
        except (OSError, ValueError) as exc:
            return [Compiled(None, error=str(exc)) for _ in jobs]
        if answered.kind != interpreter.kind:  # replaced meanwhile (an upgrade): not what was asked
            return [Compiled(None, error=f"{interpreter.python} changed while running") for _ in jobs]
        return results


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
