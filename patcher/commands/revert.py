"""``pkgres-patcher revert``: give every patched copy its original bytes back."""

from __future__ import annotations

import argparse
from typing import TextIO

from patcher.commands.apply import add_arguments, change

__all__ = ["add_arguments", "run"]


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    return change(args, out, err, revert=True)
