"""Which lock a pip command needs in its environment, and asking pip when its words do not say.

The patches make ``pkg_resources`` treat a distribution that vanishes mid-scan as absent; they
cannot help a pip that is importing a package, or reading its metadata, while another pip
removes it. Only commands that remove or replace installed files cause that, so they take the
environment's lock exclusively; everything else (reading, building, downloading, adding new
distributions) shares it.

:func:`decide_from_arguments` and :func:`decide_from_report` are pure: the first reads the
command line, the second what ``pip install --dry-run --report`` says it would install, each
against what is installed. :func:`probe` and :func:`ask_pip` do the asking.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from patcher.errors import InterpreterError, LockError, UsageError, reason
from patcher.model import LockDecision, LockMode

__all__ = [
    "DRY_RUN_SINCE",
    "Environment",
    "Installed",
    "canonicalize_name",
    "ask_pip",
    "decide_from_arguments",
    "decide_from_report",
    "default_lock",
    "shared_lock_name",
    "installed_distributions",
    "probe",
    "split_command",
]

#: the first pip with ``install --dry-run --report``
DRY_RUN_SINCE = (22, 2)

#: commands that read the environment, or write only outside it (wheels, downloads, caches, config)
SHARED_COMMANDS = frozenset(
    {
        "cache",
        "check",
        "completion",
        "config",
        "debug",
        "download",
        "freeze",
        "hash",
        "help",
        "index",
        "inspect",
        "list",
        "lock",
        "search",
        "show",
        "wheel",
    }
)

# pip's options (every release from 9 to 26), as optparse knows them: those that take a value,
# so that the value is not taken for a requirement. An option not listed makes the words unclear.
_GLOBAL_VALUES = frozenset(
    "--cache-dir --cert --client-cert --default-timeout --default-vcs --exists-action --keyring-provider "
    "--local-log --log --log-file --proxy --python --resume-retries --retries --skip-requirements-regex "
    "--timeout --trusted-host --use-deprecated --use-feature".split()
)
_GLOBAL_FLAGS = frozenset(
    "--debug --disable-pip-version-check --help --isolated --no-cache-dir --no-color --no-input "
    "--no-proxy-env --no-python-version-warning --quiet --require-venv --require-virtualenv --verbose "
    "--version -V -h -q -v".split()
)
_INSTALL_VALUES = frozenset(
    "--abi --all-releases --allow-external --allow-insecure --allow-unverified --build --build-constraint "
    "--build-dir --build-directory --config-settings --constraint --download --download-dir "
    "--download-directory --editable --extra-index-url --find-links --global-option --group "
    "--implementation --index-url --install-option --no-binary --only-binary --only-final --platform "
    "--prefix --progress-bar --pypi-url --python-version --refresh-package --report --requirement "
    "--requirements-from-script --root --root-user-action --source --source-dir --source-directory --src "
    "--target --upgrade-strategy --uploaded-prior-to -C -b -c -d -e -f -i -r -t".split()
)
_INSTALL_FLAGS = frozenset(
    "--allow-all-external --break-system-packages --check-build-dependencies --compile --dry-run --egg "
    "--force-reinstall --ignore-installed --ignore-requires-python --no-allow-external --no-allow-insecure "
    "--no-build-isolation --no-clean --no-compile --no-dependencies --no-deps --no-index --no-require-hashes "
    "--no-use-pep517 --no-use-wheel --no-user --no-warn-conflicts --no-warn-script-location "
    "--only-dependencies --only-deps --pre --prefer-binary --process-dependency-links --require-hashes "
    "--upgrade --use-pep517 --use-wheel --user -I -U".split()
)
#: ``install`` options that replace what is installed, whatever pip finds
_REPLACING = {
    "-U": "--upgrade",
    "--upgrade": "--upgrade",
    "--force-reinstall": "--force-reinstall",
    "-I": "--ignore-installed",
    "--ignore-installed": "--ignore-installed",
}
#: ``install`` options that write somewhere else than the environment, where pip does not look
#: for what it replaces
_ELSEWHERE = {"-t": "--target", "--target": "--target", "--prefix": "--prefix", "--root": "--root"}
#: ``install`` options whose requirements only pip can read
_INDIRECT = {"-r": "--requirement", "--requirement": "--requirement", "-e": "--editable", "--editable": "--editable"}
_ARCHIVES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".tar.lz")


def canonicalize_name(name: str) -> str:
    """A distribution's name as PEP 503 compares it (what :func:`packaging.utils.canonicalize_name`
    answers, without importing :mod:`packaging` into every run of ``pip``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


class _Words(NamedTuple):
    """Options met (each by its long name where it has one) with their values, and the other words."""

    options: dict[str, list[str]]
    positional: list[str]
    unknown: list[str]


def _parse(words: Sequence[str], values: frozenset[str], flags: frozenset[str]) -> _Words:
    """Read ``words`` the way optparse does: ``--opt=value``, ``--opt value``, ``-rFILE``,
    ``-qqU``; stops at nothing (pip takes no ``--``)."""
    options: dict[str, list[str]] = {}
    positional: list[str] = []
    unknown: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word.startswith("--") and len(word) > 2:
            name, eq, value = word.partition("=")
            if name in values:
                if not eq:
                    value = words[i] if i < len(words) else ""
                    i += 1
                options.setdefault(name, []).append(value)
            elif name in flags and not eq:
                options.setdefault(name, []).append("")
            else:
                unknown.append(word)
        elif word.startswith("-") and len(word) > 1:
            for at, letter in enumerate(word[1:], start=1):
                short = "-" + letter
                if short in values:
                    value = word[at + 1 :]
                    if not value:
                        value = words[i] if i < len(words) else ""
                        i += 1
                    options.setdefault(short, []).append(value)
                    break
                if short in flags:
                    options.setdefault(short, []).append("")
                else:
                    unknown.append(word)
                    break
        else:
            positional.append(word)
    return _Words(options, positional, unknown)


def split_command(args: Sequence[str]) -> tuple[str | None, list[str], list[str]]:
    """``(command, options before it, words after it)``; no command when none is found (only
    options, or an option pip's releases do not know before the first word)."""
    i = 0
    while i < len(args):
        word = args[i]
        if not word.startswith("-") or word == "-":
            return word, list(args[:i]), list(args[i + 1 :])
        name = word.partition("=")[0]
        if name in _GLOBAL_VALUES and "=" not in word:
            i += 2
        elif name in _GLOBAL_VALUES or name in _GLOBAL_FLAGS or _short_flags(word):
            i += 1
        else:
            return None, list(args), []
    return None, list(args), []


def _short_flags(word: str) -> bool:
    """``-qq``, ``-vV``: a cluster of pip's short global flags."""
    return word.startswith("-") and not word.startswith("--") and all(f"-{c}" in _GLOBAL_FLAGS for c in word[1:])


def _named(requirement: str) -> str | None:
    """The distribution a requirement on the command line names, when its words say (a PEP 508
    requirement, ``name @ url`` included, or a wheel's file name); None for a path, URL or
    archive that pip must open to know."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    try:
        parsed: Requirement | None = Requirement(requirement)
    except InvalidRequirement:
        parsed = None
    if parsed is not None and parsed.url:
        return canonicalize_name(parsed.name)
    if requirement.endswith(".whl"):
        try:
            return str(parse_wheel_filename(os.path.basename(requirement))[0])
        except InvalidWheelFilename:
            return None
    path_like = requirement.endswith(_ARCHIVES) or "/" in requirement or requirement.startswith(".")
    if parsed is None or path_like or "://" in requirement:
        return None
    return canonicalize_name(parsed.name)


def decide_from_arguments(args: Sequence[str], installed: Mapping[str, str]) -> LockDecision | None:
    """The lock ``pip ARGS`` needs, when its words tell: by its command, and for ``install`` by
    the options that replace (``-U``, ``--force-reinstall``, ``-I``) or by requirements that
    name distributions none of which is installed with ``--no-deps``. None: ask pip."""
    command, before, after = split_command(args)
    if "--python" in {word.partition("=")[0] for word in args}:
        raise UsageError(
            "pip --python", "pip would act on another environment: name it with pkgres-patcher pip --python EXE"
        )
    if command is None:
        if not args or {word.partition("=")[0] for word in before} & {"--version", "-V", "--help", "-h"}:
            return LockDecision(LockMode.SHARED, "pip only prints its version or help")
        return LockDecision(LockMode.EXCLUSIVE, f"no pip command found in {' '.join(args)!r}: the safe side")
    if command in SHARED_COMMANDS:
        return LockDecision(LockMode.SHARED, f"pip {command} does not remove or replace installed files")
    if command == "uninstall":
        return LockDecision(LockMode.EXCLUSIVE, "pip uninstall removes installed files")
    if command != "install":
        return LockDecision(LockMode.EXCLUSIVE, f"pip {command} is not a pip command known here: the safe side")
    words = _parse(after, _INSTALL_VALUES | _GLOBAL_VALUES, _INSTALL_FLAGS | _GLOBAL_FLAGS)
    given = words.options
    if "--help" in given or "-h" in given:
        return LockDecision(LockMode.SHARED, "pip install --help only prints")
    if "--dry-run" in given:
        return LockDecision(LockMode.SHARED, "pip install --dry-run changes nothing")
    for option, long in _REPLACING.items():
        if option in given:
            return LockDecision(LockMode.EXCLUSIVE, f"pip install {long} replaces installed distributions")
    for option, long in _ELSEWHERE.items():
        if option in given:
            return LockDecision(LockMode.EXCLUSIVE, f"pip install {long} may replace what lies there: the safe side")
    if words.unknown or any(option in given for option in _INDIRECT):
        return None
    if "--no-deps" not in given and "--no-dependencies" not in given:
        return None
    names = [_named(requirement) for requirement in words.positional]
    if not names or None in names:
        return None
    present = [name for name in names if name is not None and name in installed]
    if present:
        return None  # pip decides whether the installed version will do
    return LockDecision(LockMode.SHARED, f"pip install --no-deps of {', '.join(n for n in names if n)}: none installed")


def decide_from_report(report: Mapping[str, Any], installed: Mapping[str, str]) -> LockDecision:
    """The lock for what ``pip install --dry-run --report`` says it would install: exclusive when
    an item is installed already (pip removes it first, or writes over it), else shared."""
    replaced, added = [], []
    for item in report.get("install") or ():
        metadata = item.get("metadata") or {} if isinstance(item, Mapping) else {}
        name, version = str(metadata.get("name", "?")), str(metadata.get("version", "?"))
        key = canonicalize_name(name)
        if key in installed:
            replaced.append(f"{name} {installed[key] or '?'} with {version}")
        else:
            added.append(f"{name} {version}")
    if replaced:
        return LockDecision(LockMode.EXCLUSIVE, f"pip would replace {', '.join(replaced)}")
    if added:
        return LockDecision(LockMode.SHARED, f"pip would only add {', '.join(added)}")
    return LockDecision(LockMode.SHARED, "pip would install nothing")


# --- asking the environment and its pip ------------------------------------------------------

#: runs on 2.7 to 3.x
_PROBE = "import sys, json; sys.stdout.write(json.dumps({'prefix': sys.prefix, 'path': sys.path}))"


class Installed(Mapping[str, str]):
    """Distributions on a ``sys.path`` (canonical name -> version; "" when unknown), listed when
    first looked at, so that a command decided by its words alone lists nothing."""

    def __init__(self, path: Sequence[str]) -> None:
        self._path = list(path)
        self._found: dict[str, str] | None = None

    def _listed(self) -> dict[str, str]:
        if self._found is None:
            self._found = installed_distributions(self._path)
        return self._found

    def __getitem__(self, name: str) -> str:
        return self._listed()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._listed())

    def __len__(self) -> int:
        return len(self._listed())


class Environment(NamedTuple):
    """An interpreter's environment, as pip in it sees it."""

    python: str
    prefix: str
    #: its ``sys.path`` (as ``python -c`` has it: ``""`` is the working directory)
    path: list[str]
    #: distributions on its ``sys.path`` (canonical name -> version; "" when unknown)
    installed: Installed

    @property
    def pip_version(self) -> tuple[int, ...] | None:
        version = self.installed.get("pip")
        if not version:
            return None
        digits = []
        for part in version.split(".")[:2]:
            if not part.isdigit():
                break
            digits.append(int(part))
        return tuple(digits) or None


#: the directories every user may make a lock file in (world-writable and sticky), the first
#: that is one holds the locks of environments that keep none of their own
SHARED_LOCK_DIRS = ("/run/lock", "/var/lock")


def _shared_lock_dir() -> str | None:
    import stat

    for directory in SHARED_LOCK_DIRS:
        try:
            mode = os.stat(directory).st_mode
        except OSError:
            continue
        if stat.S_ISDIR(mode) and mode & (stat.S_IWOTH | stat.S_ISVTX) == stat.S_IWOTH | stat.S_ISVTX:
            return directory
    return None


def shared_lock_name(prefix: str) -> str:
    """The lock file of the environment at ``prefix`` in a shared lock directory, named after
    its real path: ``pkgres-patcher-pip-usr-<12 hex digits of its SHA-256>.lock`` for ``/usr``."""
    import hashlib

    real = os.path.realpath(prefix)
    slug = "".join(c if c.isascii() and (c.isalnum() or c in "._") else "-" for c in real.strip("/")) or "root"
    digest = hashlib.sha256(os.fsencode(real)).hexdigest()[:12]
    return f"pkgres-patcher-pip-{slug[-80:].strip('-')}-{digest}.lock"


def default_lock(prefix: str) -> str:
    """The lock every user of the environment at ``prefix`` takes, whoever runs: the same file
    for all (a reader's lock and a writer's must meet), so the choice never depends on what the
    user running may write.

    ``<prefix>/var/lock/pip.lock`` when it exists (an environment that keeps its own lock);
    else :func:`shared_lock_name` in ``/run/lock`` (else ``/var/lock``), where every user may
    make it; else, with no such directory (a sandbox), ``<prefix>/var/lock/pip.lock``.
    """
    own = os.path.join(prefix, "var", "lock", "pip.lock")
    shared = _shared_lock_dir()
    if shared is None or os.path.lexists(own):
        return own
    path = os.path.join(shared, shared_lock_name(prefix))
    try:  # readable by every user, whatever the umask of the first: flock(2) needs no more
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        return path
    except OSError as exc:
        raise LockError(path, f"cannot create the lock file ({reason(exc)})") from None
    try:
        os.fchmod(fd, 0o644)
    finally:
        os.close(fd)
    return path


def _split_name(entry: str, suffix: str) -> tuple[str, str]:
    stem = entry[: -len(suffix)]
    name, _, rest = stem.partition("-")
    return canonicalize_name(name), rest.partition("-")[0]


def installed_distributions(path: Sequence[str]) -> dict[str, str]:
    """Distributions installed on ``path`` (``.dist-info``, ``.egg-info``, eggs, ``.egg-link``),
    the first of each name winning, as on ``sys.path``: read from the directories' listings."""
    found: dict[str, str] = {}

    def add(entry: str) -> None:
        for suffix in (".dist-info", ".egg-info", ".egg", ".egg-link"):
            if entry.endswith(suffix):
                name, version = _split_name(entry, suffix)
                found.setdefault(name, "" if suffix == ".egg-link" else version)
                return

    for directory in path:
        if directory.endswith(".egg"):
            add(os.path.basename(directory))
            continue
        try:
            entries = sorted(os.listdir(directory or "."))
        except OSError:
            continue
        for entry in entries:
            add(entry)
    return found


def _executable(python: str) -> str | None:
    """The absolute path ``python`` runs (a bare name: the first on ``PATH``, as the child would
    find it); None when there is none."""
    if os.sep in python:
        return os.path.abspath(python)
    for directory in os.get_exec_path():
        candidate = os.path.abspath(os.path.join(directory, python))
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _facts_dir() -> str | None:
    """``interpreters`` of the cache directory; None when there is none to be had."""
    from patcher.errors import PatcherError
    from patcher.locations import cache_place

    try:
        return cache_place("interpreters").path
    except PatcherError:
        return None


def probe(python: str, timeout: float | None = None, *, cache: bool = True) -> Environment:
    """``python``'s prefix and ``sys.path``: asked of it (2.7 to 3.x, within ``timeout`` seconds,
    default :data:`patcher.scan.syspath.TIMEOUT`), or, with ``cache``, as it answered before
    when nothing its answer depends on has changed since (:mod:`patcher.envlock.facts`)."""
    import time

    from patcher.envlock import facts

    executable = _executable(python) if cache else None
    directory = _facts_dir() if executable is not None else None
    if executable is not None and directory is not None:
        kept = facts.recall(executable, directory)
        if kept is not None:
            return Environment(python, kept[0], kept[1], Installed(kept[1]))
        before, asked_ns = facts.snapshot(executable), time.time_ns()
    prefix, path = _ask(python, timeout)
    if executable is not None and directory is not None:
        facts.remember(executable, directory, prefix, path, before, asked_ns)
    return Environment(python, prefix, path, Installed(path))


def _ask(python: str, timeout: float | None) -> tuple[str, list[str]]:
    from patcher.scan.syspath import TIMEOUT, ask

    answer = ask(python, _PROBE, TIMEOUT if timeout is None else timeout)
    try:
        return str(answer["prefix"]), [str(entry) for entry in answer["path"]]
    except (KeyError, TypeError):
        raise InterpreterError(python, "printed something other than its prefix and sys.path") from None


def _dry_run_argv(python: str, args: Sequence[str], report: str) -> list[str]:
    command, before, after = split_command(args)
    extra = ["--dry-run", "--report", report, "--quiet", "--no-input", "--disable-pip-version-check"]
    return [python, "-m", "pip", *before, str(command), *extra, *after]


def ask_pip(environment: Environment, args: Sequence[str]) -> LockDecision:
    """The lock for ``pip install ...`` from what that pip would do (``--dry-run --report``,
    pip >= 22.2); exclusive, the safe side, when pip is older or its dry run fails."""
    import json
    import subprocess
    import tempfile

    version = environment.pip_version
    if version is not None and version < DRY_RUN_SINCE:
        shown = environment.installed["pip"]
        return LockDecision(
            LockMode.EXCLUSIVE, f"pip {shown} cannot tell what it would replace (--dry-run: 22.2+): the safe side"
        )
    with tempfile.TemporaryDirectory(prefix="pkgres-patcher-pip-") as scratch:
        report = os.path.join(scratch, "report.json")
        try:
            proc = subprocess.run(
                _dry_run_argv(environment.python, args, report),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
            )
        except OSError as exc:
            return LockDecision(LockMode.EXCLUSIVE, f"pip's dry run did not start ({reason(exc)}): the safe side")
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            return LockDecision(LockMode.EXCLUSIVE, f"pip's dry run failed ({last}): the safe side")
        try:
            with open(report, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            return LockDecision(LockMode.EXCLUSIVE, f"pip's dry run left no report ({reason(exc)}): the safe side")
    return decide_from_report(data if isinstance(data, Mapping) else {}, environment.installed)
