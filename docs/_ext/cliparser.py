"""The command line's whole parser, for sphinx-argparse: every command's arguments added (the
tool itself adds only the running command's, so that ``locate`` imports nothing else). The
reference pages and the man page are made from it, so ``--help`` and the docs cannot disagree."""

from __future__ import annotations

import argparse

from patcher.cli import build_parser
from patcher.commands import table as commands


def parser() -> argparse.ArgumentParser:
    whole = build_parser()
    for action in whole._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command_parser in action.choices.items():
                commands.load(name).add_arguments(command_parser)
    return whole
