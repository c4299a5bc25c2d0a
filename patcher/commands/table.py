"""The commands, as a table (like pip's ``commands_dict``): a command's module is imported only
when that command runs, so that ``locate`` pays for nothing else.

Each module has ``add_arguments(parser)``, ``run(args, out, err) -> exit status`` and
``json_failure(args, error)``: the JSON document of a run that ``error`` stopped, when JSON was
asked for on stdout (else None), so that a script always gets one document to read.
"""

from __future__ import annotations

import argparse
import importlib
from typing import NamedTuple, Protocol, TextIO

from patcher.errors import PatcherError

__all__ = ["COMMANDS", "Command", "CommandInfo", "load"]


class CommandInfo(NamedTuple):
    module: str
    summary: str
    description: str


class Command(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, out: TextIO, err: TextIO) -> int: ...

    def json_failure(self, args: argparse.Namespace, error: PatcherError) -> str | None: ...


COMMANDS: dict[str, CommandInfo] = {
    "locate": CommandInfo(
        "patcher.commands.locate",
        "list every copy of pkg_resources",
        "List every copy of pkg_resources. With no PATH and no --python: the running interpreter's sys.path. "
        "With --check: exit 1 unless every copy is patched.",
    ),
    "apply": CommandInfo(
        "patcher.commands.apply",
        "patch every copy",
        "Patch every copy of pkg_resources (same targets as locate). Exit 0 when every copy ends patched; "
        "with --check (a dry run), exit 1 when any copy would change.",
    ),
    "revert": CommandInfo(
        "patcher.commands.revert",
        "give every patched copy its original bytes back",
        "Revert the patch set on every copy (same targets as locate). Exit 0 when every copy ends unpatched; "
        "with --check (a dry run), exit 1 when any copy would change.",
    ),
    "verify": CommandInfo(
        "patcher.commands.verify",
        "prove each copy survives distributions vanishing",
        "Run each copy's own code in a real interpreter against a scratch site whose distributions vanish "
        "while it scans (race replay), fail one call at a time (fault sweep; not with --quick), and compare "
        "what it lists with its pristine text. Exit 0 only when every copy passes.",
    ),
    "drift": CommandInfo(
        "patcher.commands.drift",
        "check the patch set against upstream releases",
        "Check how the patch set fits upstream releases of setuptools, pip and pkg-resources-backport, "
        "fetched through pip. Exit 0 when nothing fails, needs fuzz or is out of range; 1 otherwise; "
        "3 when releases could not be fetched; 4 when the report could not be written to --output.",
    ),
    "refresh": CommandInfo(
        "patcher.commands.refresh",
        "write a new variant of a patch for an upstream release",
        "Derive a new variant of PATCH for the newest release matching --for from the nearest variant, "
        "with fresh context, and add it to series before that variant.",
    ),
    "export": CommandInfo(
        "patcher.commands.export",
        "write one release's patches for a distribution build",
        "Write the variant of each patch that fits one release (--for NAME==VERSION) as numbered -p1 patch "
        "files with DEP-3 headers, for the build of a distribution: sdist or wheel paths, a quilt series, or "
        "Spack's patch() lines. Exit 0 when written; 1 when a patch does not fit; 3 when the release could "
        "not be fetched.",
    ),
    "upstream": CommandInfo(
        "patcher.commands.upstream",
        "write the fix as a git am-able patch for upstream",
        "Write the variants that fit an upstream tree as one mbox patch (commit message from the DEP-3 "
        "descriptions, Bug trailers), with a regression test and a changelog fragment, checked with "
        "git apply --check; with --commit, applied with git am on a new branch.",
    ),
    "lock": CommandInfo(
        "patcher.commands.lock",
        "run a command holding a shared or exclusive lock on a file",
        "Run COMMAND holding a flock(2) lock on LOCKFILE (the lock util-linux flock(1) and Sage's sage-flock "
        "take): shared holders run together, an exclusive one alone. Signals SIGINT, SIGTERM and SIGHUP are "
        "passed on; the exit status is the command's (128+N when signal N killed it), 1 when the lock was not "
        "acquired, 126/127 when COMMAND cannot be run.",
    ),
    "pip": CommandInfo(
        "patcher.commands.pip",
        "run pip under its environment's reader/writer lock",
        "Run EXE -m pip PIP ARGS holding its environment's lock (--lock FILE; by default <sys.prefix of EXE>/var/lock/"
        "pip.lock when it exists, else one named after that prefix in /run/lock, the same for every user): shared for "
        "commands that only read or add files, exclusive for those that remove or replace installed files "
        "(uninstall, install -U/--force-reinstall/-I, an install pip says would replace a distribution). "
        "Exit status: pip's, 1 when the lock was not acquired.",
    ),
}


def load(name: str) -> Command:
    """The module of command ``name`` (imported now)."""
    module: Command = importlib.import_module(COMMANDS[name].module)
    return module
