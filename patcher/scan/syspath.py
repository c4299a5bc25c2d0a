"""The ``sys.path`` to scan: the running interpreter's, or another one's (2.7 to 3.x), asked;
and where that interpreter's ``ensurepip`` keeps the wheels it installs pip from."""

from __future__ import annotations

import contextlib
import os
import subprocess
from typing import Any, NamedTuple

from patcher.errors import InterpreterError, reason

__all__ = ["TIMEOUT", "Interpreter", "ask", "current_interpreter", "probe"]

# Runs on 2.7 to 3.x. ensurepip is found, not imported (importing runs its code).
_PROBE = """\
import sys, json
try:
    from importlib.util import find_spec
    spec = find_spec("ensurepip")
    found = list(spec.submodule_search_locations or [])[:1] if spec else []
except ImportError:
    import imp
    try:
        found = [imp.find_module("ensurepip")[1]]
    except ImportError:
        found = []
except Exception:
    found = []
sys.stdout.write(json.dumps({"path": sys.path, "ensurepip": found[0] if found else None}))
"""


class Interpreter(NamedTuple):
    """What a scan of an interpreter covers."""

    #: the name it was asked by (``--python EXE``), or the running one's ``sys.executable``
    python: str
    #: its ``sys.path`` after site processing, without the empty entry
    path: list[str]
    #: ``<ensurepip>/_bundled``, where its bundled wheels lie (None: it has no ensurepip)
    bundled: str | None


#: seconds an interpreter has to answer before it is ended (``--python-timeout``)
TIMEOUT = 60.0

#: asked when an interpreter gave no answer: any Python (2.7 to 3.x) prints 42, whatever its
#: site does (``-S``); a program that is not one does not (the code holds no "42" to echo)
_ALIVE = "import sys; sys.stdout.write(str(6 * 7))"


def _seconds(timeout: float) -> str:
    return f"{timeout:g} second{'' if timeout == 1 else 's'}"


def _end(proc: subprocess.Popen[bytes]) -> None:
    """Kill the process and every one it started in its session (its process group), then
    reap it; its pipes are closed unread (a child that left the group may still hold them)."""
    import signal

    with contextlib.suppress(OSError):  # gone already, or not ours to signal
        os.killpg(proc.pid, signal.SIGKILL)  # the leader is not reaped yet: its group id is not reused
    with contextlib.suppress(OSError):
        proc.kill()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    proc.wait()


def _run(python: str, argv: list[str], timeout: float) -> tuple[int, bytes, bytes]:
    """``python *argv`` in a session of its own: its exit status and output. When it does not
    end within ``timeout`` seconds (or the wait is interrupted), it and whatever it started are
    killed: :class:`InterpreterError`."""
    try:
        proc = subprocess.Popen(
            [python, *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: ended as a whole
        )
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        raise InterpreterError(python, f"cannot run ({reason(exc)})") from None
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _end(proc)
        raise InterpreterError(
            python, f"did not answer within {_seconds(timeout)}, ended (--python-timeout SECONDS waits longer)"
        ) from None
    except BaseException:  # interrupted: nothing of it is left running
        _end(proc)
        raise
    return proc.returncode, out, err


def _last_line(err: bytes) -> str:
    return (err.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]


def ask(python: str, code: str, timeout: float = TIMEOUT) -> Any:
    """What ``python -c code`` printed, read as JSON: how the tool asks an interpreter (2.7 to
    3.x) about itself. :class:`InterpreterError` when it cannot be run, is not a Python
    interpreter, fails or does not answer within ``timeout`` seconds (then it is ended, with
    every process it started)."""
    import json

    status, out, err = _run(python, ["-c", code], timeout)
    detail = None
    if status == 0:
        try:
            return json.loads(out.decode("utf-8", "surrogateescape"))
        except ValueError:
            failure = "printed nothing" if not out.strip() else "printed something other than JSON"
    else:
        failure = f"exited with status {status}"
        last = _last_line(err)
        if code[:10] not in last:  # else it took the code for an argument (ls: cannot access 'import sys...)
            detail = last
    if _runs_python(python, timeout):
        raise InterpreterError(python, failure if detail is None else f"{failure} ({detail})")
    raise InterpreterError(
        python, f"not a Python interpreter ({failure if detail is None else f'{failure}: {detail}'})"
    )


def _runs_python(python: str, timeout: float) -> bool:
    """Whether ``python`` runs Python code given with ``-c``: a failed answer is a Python's failure
    (its site, its sys.path) only then."""
    status, out, _ = _run(python, ["-S", "-c", _ALIVE], timeout)
    return status == 0 and out.strip() == b"42"


def probe(python: str, timeout: float = TIMEOUT) -> Interpreter:
    """Ask an interpreter (2.7 to 3.x) for its ``sys.path`` after site processing, and where
    its ``ensurepip`` is.

    The empty entry (the probe's working directory) is dropped: it says nothing about the
    interpreter's installation.
    """
    answer = ask(python, _PROBE, timeout)
    try:
        entries, ensurepip = answer["path"], answer["ensurepip"]
    except (KeyError, TypeError):
        raise InterpreterError(python, "printed something other than its sys.path") from None
    path = [e for e in entries if isinstance(e, str) and e] if isinstance(entries, list) else []
    return Interpreter(python, path, _bundled(ensurepip if isinstance(ensurepip, str) else None))


def current_interpreter() -> Interpreter:
    """The running interpreter, as :func:`probe` describes another one (its ``sys.path``
    with the eggs ``.pth`` files added)."""
    import sys
    from importlib.util import find_spec

    try:
        spec = find_spec("ensurepip")
    except (ImportError, ValueError):
        spec = None
    found = list(spec.submodule_search_locations or []) if spec is not None else []
    path = [e for e in sys.path if e]
    return Interpreter(sys.executable or "python", path, _bundled(found[0] if found else None))


def _bundled(ensurepip: str | None) -> str | None:
    return None if ensurepip is None else os.path.join(ensurepip, "_bundled")
