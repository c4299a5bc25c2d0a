"""The ``sys.path`` to scan: the running interpreter's, or another one's (2.7 to 3.x), asked;
and where that interpreter's ``ensurepip`` keeps the wheels it installs pip from."""

from __future__ import annotations

from typing import Any, NamedTuple

from patcher.errors import InterpreterError, reason

__all__ = ["Interpreter", "current_interpreter", "probe"]

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


def ask(python: str, code: str, timeout: int = 60) -> Any:
    """What ``python -c code`` printed, read as JSON: how the tool asks an interpreter (2.7 to
    3.x) about itself. :class:`InterpreterError` when it cannot be run, fails or hangs."""
    import json
    import subprocess

    try:
        proc = subprocess.run(
            [python, "-c", code], stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except OSError as exc:
        raise InterpreterError(python, f"cannot run ({reason(exc)})") from None
    except subprocess.TimeoutExpired:
        raise InterpreterError(python, f"did not answer within {timeout} seconds") from None
    if proc.returncode != 0:
        last = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        raise InterpreterError(python, f"exited with status {proc.returncode} ({last})")
    try:
        return json.loads(proc.stdout.decode("utf-8", "surrogateescape"))
    except ValueError:
        raise InterpreterError(python, "printed something other than JSON") from None


def probe(python: str) -> Interpreter:
    """Ask an interpreter (2.7 to 3.x) for its ``sys.path`` after site processing, and where
    its ``ensurepip`` is.

    The empty entry (the probe's working directory) is dropped: it says nothing about the
    interpreter's installation.
    """
    answer = ask(python, _PROBE)
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
    import os

    return None if ensurepip is None else os.path.join(ensurepip, "_bundled")
