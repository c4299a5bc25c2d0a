"""The ``sys.path`` to scan: the running interpreter's, or another one's (2.7 to 3.x), asked."""

from __future__ import annotations

from patcher.errors import InterpreterError, reason

__all__ = ["current_path", "interpreter_path"]

_SYS_PATH_PROBE = "import sys, json; sys.stdout.write(json.dumps(sys.path))"


def interpreter_path(python: str) -> list[str]:
    """Ask an interpreter (2.7 to 3.x) for its ``sys.path`` after site processing.

    The empty entry (the probe's working directory) is dropped: it says nothing about the
    interpreter's installation.
    """
    import json
    import subprocess

    try:
        proc = subprocess.run(
            [python, "-c", _SYS_PATH_PROBE],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            check=False,
        )
    except OSError as exc:
        raise InterpreterError(python, f"cannot run ({reason(exc)})") from None
    except subprocess.TimeoutExpired:
        raise InterpreterError(python, "did not answer within 60 seconds") from None
    if proc.returncode != 0:
        last = (proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        raise InterpreterError(python, f"exited with status {proc.returncode} ({last})")
    try:
        entries = json.loads(proc.stdout.decode("utf-8", "surrogateescape"))
    except ValueError:
        raise InterpreterError(python, "printed something other than its sys.path") from None
    return [e for e in entries if isinstance(e, str) and e]


def current_path() -> list[str]:
    """The running interpreter's ``sys.path`` (eggs added by ``.pth`` files included)."""
    import sys

    return [e for e in sys.path if e]
