"""The ``locate`` tests' fixtures: the marker patch set, a venv."""

from pathlib import Path

import pytest

from ...conftest import (
    Venv,
)
from ...lib.locating import (
    write_patchset,
)


@pytest.fixture
def patches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_patchset(tmp_path_factory.mktemp("patchset"))


@pytest.fixture
def venv(tmp_path: Path) -> Venv:
    return Venv(tmp_path / "venv")
