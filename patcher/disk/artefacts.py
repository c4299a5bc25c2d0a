"""Patched artefacts written elsewhere (``--output DIR``): a wheel or zipped egg named as a PATH
is copied into DIR, under the same name, and changed there; the file named is never touched.

A build stores the patched wheel and installs it later. Each file is staged in a directory of
its own inside DIR, changed there like any archive (RECORD kept true), and moved to its name in
DIR only when every copy in it ended well: DIR never holds a half-done or failed file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from patcher.errors import PatcherError, UsageError, WriteError, reason
from patcher.model import CopyResult, Report

__all__ = ["Staging", "check_named_archives", "publish", "staged"]

_SUFFIXES = (".whl", ".egg")


class Staging(NamedTuple):
    """Where each named file was copied to be changed, and where it goes then."""

    directory: str
    #: staged path -> (the file named, its path in DIR)
    targets: dict[str, tuple[str, str]]


def check_named_archives(paths: Iterable[str], pythons: Iterable[str], output: str) -> None:
    """``--output`` takes only wheels and zipped eggs named as PATHs, written elsewhere than
    where they lie; a :class:`UsageError` before anything is written, else."""
    paths = list(paths)
    if list(pythons):
        raise UsageError("--output", "takes wheels and eggs named as PATH, not --python")
    if not paths:
        raise UsageError("--output", "name the wheels or eggs to write patched (PATH ...)")
    names: set[str] = set()
    for path in paths:
        if not path.endswith(_SUFFIXES) or not os.path.isfile(path):
            raise UsageError(path, "--output takes wheel and zipped egg files (.whl, .egg)")
        name = os.path.basename(path)
        if name in names:
            raise UsageError(path, f"named twice: both would be written to {os.path.join(output, name)}")
        names.add(name)
        if os.path.realpath(os.path.join(output, name)) == os.path.realpath(path):
            raise UsageError(path, "--output is the directory it lies in: it would be written over")


@contextlib.contextmanager
def staged(paths: Iterable[str], output: str) -> Iterator[Staging]:
    """Each of ``paths`` copied into a staging directory inside ``output`` (made when missing);
    the staging directory is removed afterwards, whatever happens."""
    output = os.path.abspath(output)  # the copies found are named by absolute paths, and so is what replaces them
    try:
        os.makedirs(output, exist_ok=True)
        directory = tempfile.mkdtemp(prefix=".pkgres-patcher-output-", dir=output)
    except OSError as exc:
        raise WriteError(output, reason(exc)) from None
    try:
        targets = {}
        for path in paths:
            name = os.path.basename(path)
            stage = os.path.join(directory, name)
            try:
                shutil.copyfile(path, stage)
                shutil.copymode(path, stage)
            except OSError as exc:
                raise WriteError(path if not os.path.exists(stage) else output, reason(exc)) from None
            targets[stage] = (path, os.path.join(output, name))
        yield Staging(directory, targets)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def publish(staging: Staging, report: Report) -> Report:
    """Move each staged file whose copies all ended well to its name in DIR; the report then
    names the files in DIR (or, for a file not written, the file named)."""
    problems = [r.copy.file for r in report.results if not r.ok] + [e.subject for e in report.errors]
    errors: list[PatcherError] = []
    renamed = {}
    for stage, (source, target) in staging.targets.items():
        if any(p == stage or p.startswith(f"{stage}!") for p in problems):
            renamed[stage] = source
            continue
        try:
            os.replace(stage, target)
        except OSError as exc:
            errors.append(WriteError(target, reason(exc)))
        renamed[stage] = target
    return Report(
        tuple(_renamed(r, renamed) for r in report.results),
        (*(_renamed_error(e, renamed) for e in report.errors), *errors),
        tuple(c._replace(file=renamed.get(c.file, c.file)) for c in report.left_alone),
        report.notes,
    )


def _replace_paths(text: str, renamed: dict[str, str]) -> str:
    for stage, target in renamed.items():
        text = text.replace(stage, target)
    return text


def _renamed(result: CopyResult, renamed: dict[str, str]) -> CopyResult:
    copy = result.copy._replace(file=renamed.get(result.copy.file, result.copy.file))
    message = None if result.message is None else _replace_paths(result.message, renamed)
    warnings = tuple(_replace_paths(w, renamed) for w in result.warnings)
    return result._replace(copy=copy, message=message, warnings=warnings)


def _renamed_error(error: PatcherError, renamed: dict[str, str]) -> PatcherError:
    subject = _replace_paths(error.subject, renamed)
    return error if subject == error.subject else type(error)(subject, _replace_paths(error.reason, renamed))
