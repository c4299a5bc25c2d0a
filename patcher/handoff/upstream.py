"""``upstream``: the fix as one ``git am``-able patch for an upstream tree (setuptools, pip,
pkg-resources-backport), with a regression test in the upstream's own style and place and its
changelog fragment.

The variant of each patch that fits the tree's copy (as ``apply`` picks it) is re-rooted to the
tree's layout, in its Python-3 form (``except OSError``) for a tree whose copy runs on Python 3
only: the form planning also takes for patched, so that the tree reads as patched once the mbox
is applied, and ``upstream`` on it has nothing to do; the commit message is made of the patches' DEP-3 descriptions and names the
upstream reports of the race. The mbox is checked with ``git apply --check`` against the tree
before it is written.
"""

from __future__ import annotations

import difflib
import email.utils
import os
import re
import subprocess
import tempfile
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from patcher.engine.patchset import PatchSet
from patcher.errors import ExportError, UsageError, WriteError, reason
from patcher.handoff.export import place_in_sequence
from patcher.model import Action, Word

__all__ = [
    "BUGS",
    "NOTHING_TO_DO",
    "Target",
    "Upstreamed",
    "commit_mbox",
    "make_mbox",
    "upstream_patch",
    "whole_diff",
    "write_mbox",
]

#: the upstream reports of the race, named in every commit message
BUGS = ("https://github.com/pypa/pip/issues/8476", "https://github.com/pypa/setuptools/issues/1003")
SUBJECT = "pkg_resources: treat a distribution that vanishes during a scan as absent"
BRANCH = "pkgres-patcher/vanished-distributions"


class Target(Word):
    PIP = "pip"
    SETUPTOOLS = "setuptools"
    BACKPORT = "pkg-resources-backport"


#: per target: the copy, the regression test, the news fragment, how the test imports the copy
COPY = {
    Target.SETUPTOOLS: "pkg_resources/__init__.py",
    Target.BACKPORT: "pkg_resources/__init__.py",
    Target.PIP: "src/pip/_vendor/pkg_resources/__init__.py",
}
TEST = {
    Target.SETUPTOOLS: "pkg_resources/tests/test_vanished.py",
    Target.BACKPORT: "pkg_resources/tests/test_vanished.py",
    Target.PIP: "tests/unit/test_vanished_pkg_resources.py",
}
NEWS = {
    Target.SETUPTOOLS: "newsfragments/1003.bugfix.rst",
    Target.PIP: "news/8476.bugfix.rst",
}
VENDORING_PATCH = "tools/vendoring/patches/pkg_resources.patch"

#: the regression test upstream gets, in its place's style: ``{plain|typed}`` choices are
#: setuptools' and the backport's ``pkg_resources/tests`` (plain pytest functions) and pip's
#: ``tests/unit`` (annotated; stdlib, pytest and ``pip._vendor`` imports in groups)
_REGRESSION_TEST = '''\
"""{A distribution removed while pkg_resources scans (a parallel "pip uninstall") is absent.

pypa/pip#8476, pypa/setuptools#1003: each test removes the distribution at the moment the race
would, between pkg_resources looking at it and reading it.|pip's vendored pkg_resources treats a distribution removed while it scans as absent.

pypa/pip#8476, pypa/setuptools#1003: a parallel "pip uninstall" removes a distribution
between pkg_resources looking at it and reading it; each test removes it at that moment.}
"""

import os
import shutil
import zipfile
{
import pkg_resources|from pathlib import Path

import pytest

from pip._vendor import pkg_resources}


def test_vanished_zipped_egg_is_empty(tmp_path{|: Path}){| -> None}:
    egg = tmp_path / "demo-1.0-py3.egg"
    with zipfile.ZipFile(egg, "w") as zf:
        zf.writestr(
            "EGG-INFO/PKG-INFO", "Metadata-Version: 1.1\\nName: demo\\nVersion: 1.0\\n"
        )
    egg.unlink()
    assert pkg_resources.MemoizedZipManifests().load(str(egg)) == {{}}


def test_vanished_metadata_directory_is_absent({tmp_path, monkeypatch|
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
}){| -> None}:
    info = tmp_path / "demo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\\nName: demo\\nVersion: 1.0\\n")
    listdir = os.listdir

    def vanishing_listdir(path{|: str}){| -> list[str]}:
        if os.fspath(path) == str(info) and info.exists():
            shutil.rmtree(info)
        return listdir(path)

    monkeypatch.setattr(os, "listdir", vanishing_listdir)
    assert list(pkg_resources.distributions_from_metadata(str(info))) == []


def test_vanished_metadata_file_reads_as_empty({tmp_path, monkeypatch|
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
}){| -> None}:
    info = tmp_path / "demo.egg-info"
    info.mkdir()
    (info / "PKG-INFO").write_text("Metadata-Version: 1.1\\nName: demo\\nVersion: 1.0\\n")
    (info / "requires.txt").write_text("other\\n")
    dist = pkg_resources.Distribution.from_filename(
        str(info), metadata=pkg_resources.PathMetadata(str(tmp_path), str(info))
    )
    has_metadata = pkg_resources.PathMetadata.has_metadata

    def then_vanish(self{|: pkg_resources.PathMetadata}, name{|: str}){| -> bool}:
        found = has_metadata(self, name)
        if name == "requires.txt" and (info / name).exists():
            (info / name).unlink()
        return found

    monkeypatch.setattr(pkg_resources.PathMetadata, "has_metadata", then_vanish)
    assert dist.requires() == []
'''


def regression_test(typed: bool) -> str:
    """The regression test, plain (setuptools, the backport) or annotated (pip)."""
    return re.sub(r"\{([^{}|]*)\|([^{}]*)\}", lambda m: m.group(2 if typed else 1), _REGRESSION_TEST).replace(
        "{{}}", "{}"
    )


REGRESSION_TEST = regression_test(typed=False)
PIP_REGRESSION_TEST = regression_test(typed=True)

NEWS_TEXT = (
    "pkg_resources now treats a distribution that is removed while it scans ``sys.path`` (a zipped egg, "
    "a metadata directory or file; e.g. a parallel ``pip uninstall``) as absent instead of raising "
    "``OSError``.\n"
)


#: what ``upstream`` says of a tree that carries the fix already (every patch done or not needed)
NOTHING_TO_DO = "already carries the fix (every patch): nothing to hand upstream, nothing written"


@dataclass(frozen=True)
class Upstreamed:
    """What ``upstream`` made for a tree; ``variants`` empty: it carries the fix, nothing was made."""

    target: Target
    source: str
    output: str
    variants: tuple[str, ...]
    files: tuple[str, ...]
    branch: str | None = None
    python2: bool = False

    @property
    def made(self) -> bool:
        """Whether there was anything to hand upstream (else no mbox, no file, no commit)."""
        return bool(self.variants)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise UsageError(path, reason(exc)) from None


def _new_file(path: str, text: str) -> bytes:
    lines = text.splitlines(keepends=True)
    head = f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n"
    return (head + f"@@ -0,0 +1,{len(lines)} @@\n" + "".join("+" + ln for ln in lines)).encode()


def whole_diff(path: str, before: bytes, after: bytes) -> bytes:
    """``before`` -> ``after`` as one ``-p1`` diff (the patches' hunks may share context lines:
    their sum is diffed anew rather than their hunks listed)."""
    lines = difflib.diff_bytes(
        difflib.unified_diff,
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        f"a/{path}".encode(),
        f"b/{path}".encode(),
        n=3,
    )
    return b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)


#: a copy that still runs on Python 2 (setuptools < 45, pip < 21) imports six
PYTHON2_MARKER = re.compile(rb"^[ \t]*(?:from [\w.]+ import six\b|import six\b)|\bPY2\b", re.M)


def runs_on_python2(text: bytes) -> bool:
    """Whether the copy still supports Python 2: only there do ``except (IOError, OSError)`` and
    the patches' notes about Python 2 belong (setuptools kept the py2 form where code is alike)."""
    return PYTHON2_MARKER.search(text) is not None


def _paragraphs(description: str, python2: bool) -> tuple[str, str]:
    """The DEP-3 description's summary and body; for a py3-only tree without its notes on Python 2."""
    first, _, rest = description.partition("\n")
    paragraphs = [p.strip() for p in rest.replace("\n.\n", "\n\n").split("\n\n") if p.strip()]
    if not python2:
        paragraphs = [
            re.sub(r"\s\(IOError on Python 2\)", "", p) for p in paragraphs if not p.startswith("This variant")
        ]
    return first.strip(), "\n\n".join(paragraphs)


#: the width of a commit message's body (``git log`` indents it by 4 in an 80-column terminal)
BODY_WIDTH = 72


def _fill(paragraph: str, bullet: str = "") -> str:
    """A paragraph reflowed to :data:`BODY_WIDTH` columns, after ``bullet`` when given."""
    return textwrap.fill(
        " ".join(paragraph.split()),
        BODY_WIDTH,
        initial_indent=bullet,
        subsequent_indent=" " * len(bullet),
        break_long_words=False,
        break_on_hyphens=False,
    )


def _message(descriptions: Sequence[str], python2: bool = True) -> str:
    """The commit message's body: an introduction, a paragraph per patch, the ``Bug:`` trailers;
    every line at most :data:`BODY_WIDTH` columns (but a word longer than that)."""
    paragraphs = []
    for description in descriptions:
        first, body = _paragraphs(description, python2)
        paragraphs.append(_fill(first, "- "))
        paragraphs.extend(_fill(p, "  ") for p in body.split("\n\n") if p)
    trailers = "".join(f"Bug: {bug}\n" for bug in BUGS)
    intro = _fill(
        'A distribution removed while pkg_resources scans sys.path (for example by a parallel "pip uninstall") '
        "made it raise OSError; it is now treated as absent:"
    )
    return f"{intro}\n\n" + "\n\n".join(paragraphs) + f"\n\n{trailers}"


def _git_config(source: str, key: str) -> str | None:
    """``git config KEY`` as seen from ``source`` (its own configuration, then the user's), or
    None when git is not configured so (or not there)."""
    try:
        found = subprocess.run(
            ["git", "config", key], cwd=source if os.path.isdir(source) else None, capture_output=True
        )
    except OSError:
        return None
    value = found.stdout.decode("utf-8", "replace").strip()
    return value if found.returncode == 0 and value else None


def _author(source: str = ".") -> str:
    """``From:``: the user's git identity as ``git format-patch`` takes it (``GIT_AUTHOR_NAME``/
    ``GIT_AUTHOR_EMAIL``, else ``git config user.name``/``user.email``, else ``$EMAIL``), else the tool's."""
    name = os.environ.get("GIT_AUTHOR_NAME") or _git_config(source, "user.name") or "pkgres-patcher"
    mail = (
        os.environ.get("GIT_AUTHOR_EMAIL")
        or _git_config(source, "user.email")
        or os.environ.get("EMAIL")
        or "pkgres-patcher@localhost"
    )
    return email.utils.formataddr((name, mail), charset="utf-8")


def make_mbox(message: str, diff: bytes, author: str | None = None) -> bytes:
    """One ``git format-patch`` style message: what ``git am`` takes; ``author`` (``Name <mail>``,
    encoded for a header) by default the user's git identity."""
    head = (
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
        f"From: {author or _author()}\n"
        f"Date: {email.utils.formatdate(localtime=True)}\n"
        f"Subject: [PATCH] {SUBJECT}\n\n"
    )
    return (head + message + "---\n").encode() + diff + b"-- \npkgres-patcher\n\n"


def _git(source: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=source, input=stdin, capture_output=True)
    except OSError as exc:
        raise ExportError("git", reason(exc)) from None


def _vendoring_path(old: bytes, copy: str) -> str:
    """The path pip's vendoring patch names the copy by (``+++ b/<path>``; the copy's when none)."""
    found = re.search(rb"^\+\+\+ b/(\S+)", old, re.M)
    return found.group(1).decode("utf-8", "surrogateescape") if found else copy


def _vendoring_diff(source: str, copy: str, before: bytes, after: bytes) -> bytes:
    """pip's ``tools/vendoring/patches/pkg_resources.patch`` with the same change appended as one
    more ``diff --git`` section (``git apply``, which vendoring runs, applies them in turn), so
    that re-vendoring keeps it."""
    old = _read(os.path.join(source, VENDORING_PATCH))
    if old and not old.endswith(b"\n"):
        raise ExportError(os.path.join(source, VENDORING_PATCH), "does not end with a newline")
    path = _vendoring_path(old, copy)
    section = f"diff --git a/{path} b/{path}\n".encode() + whole_diff(path, before, after)
    return f"diff --git a/{VENDORING_PATCH} b/{VENDORING_PATCH}\n".encode() + whole_diff(
        VENDORING_PATCH, old, old + section
    )


def _news(target: Target, source: str) -> str | None:
    """The changelog fragment's path: setuptools' towncrier ``newsfragments/``, pip's ``news/``;
    the backport keeps no changelog (none is made unless its tree has a ``newsfragments/``)."""
    news = NEWS.get(target)
    if news is None and os.path.isdir(os.path.join(source, "newsfragments")):
        news = "newsfragments/1003.bugfix.rst"
    return news


def _check(source: str, mbox: bytes) -> None:
    with tempfile.NamedTemporaryFile(suffix=".patch") as f:
        f.write(mbox)
        f.flush()
        check = _git(source, "apply", "--check", f.name)
    if check.returncode != 0:
        raise ExportError(source, "git apply --check: " + check.stderr.decode("utf-8", "replace").strip())


def upstream_patch(target: Target, source: str, patchset: PatchSet) -> tuple[bytes, Upstreamed]:
    """The mbox for ``source`` (checked with ``git apply --check``) and what it holds; no mbox
    (``b""``, :attr:`Upstreamed.made` false) when the tree's copy carries the fix already, in
    either form the planner takes for patched."""
    copy = COPY[target]
    if os.path.isdir(source) and not os.path.exists(os.path.join(source, copy)):
        raise UsageError(source, f"not a {target} tree: it has no {copy}")
    text = _read(os.path.join(source, copy))
    python2 = runs_on_python2(text)
    # a Python-3-only tree gets each variant in its Python-3 form (``except OSError``), the form
    # the planner also takes for patched; one that carries patches as written keeps their form
    python3 = not python2 and b"IOError, OSError" not in text
    placed = place_in_sequence(text, patchset, f"{source}/{copy}", python3=python3)
    changing = [p for p in placed if p.action is Action.CHANGE]
    if not changing:  # the fix is there (merged upstream, or applied before): nothing to make
        return b"", Upstreamed(target, source, "-", (), (), python2=python2)
    after = placed[-1].after
    diff = f"diff --git a/{copy} b/{copy}\n".encode() + whole_diff(copy, text, after)
    files = [copy]
    if target is Target.PIP:
        diff += _vendoring_diff(source, copy, text, after)
        files.append(VENDORING_PATCH)
    test = TEST[target]
    diff += _new_file(test, PIP_REGRESSION_TEST if target is Target.PIP else REGRESSION_TEST)
    files.append(test)
    news = _news(target, source)
    if news is not None:
        diff += _new_file(news, NEWS_TEXT)
        files.append(news)
    descriptions = [p.variant.header["Description"] for p in changing]
    mbox = make_mbox(_message(descriptions, python2), diff, _author(source))
    _check(source, mbox)
    variants = tuple(p.variant.id for p in changing)
    return mbox, Upstreamed(target, source, "-", variants, tuple(files), python2=python2)


def write_mbox(output: str, mbox: bytes) -> None:
    """``output`` written whole or not at all (a temporary file beside it, renamed)."""
    target = os.path.abspath(output)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.pkgres-patcher-", dir=os.path.dirname(target))
    except OSError as exc:
        raise WriteError(output, reason(exc)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(mbox)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        os.unlink(tmp)
        raise WriteError(output, reason(exc)) from None


def commit_mbox(source: str, mbox: bytes) -> str:
    """A new branch in the git checkout ``source`` with the mbox applied by ``git am``."""
    if _git(source, "rev-parse", "--git-dir").returncode != 0:
        raise UsageError(source, "--commit needs a git checkout")
    made = _git(source, "checkout", "-b", BRANCH)
    if made.returncode != 0:
        raise ExportError(source, made.stderr.decode("utf-8", "replace").strip())
    done = _git(source, "am", "--keep-cr", stdin=mbox)
    if done.returncode != 0:
        _git(source, "am", "--abort")
        raise ExportError(source, "git am: " + done.stderr.decode("utf-8", "replace").strip())
    return BRANCH
