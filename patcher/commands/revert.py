"""``pkgres-patcher revert``: give every patched copy its original bytes back."""

from __future__ import annotations

import argparse
from typing import TextIO

from patcher.commands.apply import add_change_arguments, change, failure
from patcher.errors import PatcherError

__all__ = ["add_arguments", "json_failure", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_change_arguments(parser, revert=True)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return change(args, out, err, revert=True)


def json_failure(args: argparse.Namespace, error: PatcherError) -> str | None:
    return failure(args, error, revert=True)
