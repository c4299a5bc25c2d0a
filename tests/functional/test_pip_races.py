"""Real pip, real races (issue #10): real ``pip install`` / ``pip uninstall`` of dist-info wheels,
zipped and directory eggs and an egg-info, while real ``pip list`` / ``pip freeze`` (pip's
pkg_resources backend) and a long-lived process calling pkg_resources run beside them
(tests/lib/pip_races.py). Unpatched copies must crash (or the test proves nothing); patched ones
must not.

The writers wait for the long-lived reader to go round once with what they uninstalled gone, so
every uninstall is seen; nothing here asserts on time.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import NamedTuple

import pytest

from ..conftest import cli, download, pyenv_python, venv_python
from ..lib.pip_races import REQUIRE_EARLIER, Figures, Stack, prepare, run_workloads

#: uninstall-install cycles of each writer (the figures in the closing note use more: benchmarks/bench_pip_races.py)
CYCLES = 1


class Races(NamedTuple):
    """The figures of one stack, unpatched then patched."""

    unpatched: Figures
    patched: Figures


@pytest.fixture(scope="module", params=["running", "3.10"])
def races(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Races]:
    """pip 26.3 and setuptools 81.0.0 in a venv of the running interpreter (of 3.11 when it is
    older than pip 26.3 allows) with ``_PIP_USE_IMPORTLIB_METADATA=0``, and of Python 3.10
    (pyenv), where pip uses pkg_resources by default: raced unpatched, then patched."""
    if request.param == "running":
        python = venv_python()
    else:
        if sys.version_info[:2] == (3, 10):
            pytest.skip("the running interpreter is Python 3.10: its case is the 'running' one")
        found = pyenv_python(request.param)
        if found is None:
            pytest.skip(
                "Python 3.10 is not installed (pyenv has no 3.10.x): pip's default pkg_resources backend not raced"
            )
        python = found
    tmp = tmp_path_factory.mktemp(f"races-{request.param}")
    stack = Stack(python, str(download("pip", "26.3")), str(download("setuptools", "81.0.0")))
    stress = prepare(stack, str(tmp))
    unpatched = run_workloads(stress, CYCLES, str(tmp))
    applied = cli("apply", stress.root)
    assert applied.code == 0 and "2 patched" in applied.out, applied.out + applied.err
    patched = run_workloads(stress, CYCLES, str(tmp))
    name = f"pip 26.3, setuptools 81.0.0, Python {stress.version}"
    print(f"\n{name}: unpatched\n{unpatched.table()}{name}: patched\n{patched.table()}")
    yield Races(unpatched, patched)


def test_unpatched_copies_crash(races: Races) -> None:
    unpatched = races.unpatched
    assert unpatched.failures, "nothing crashed unpatched: the stress proves nothing\n" + unpatched.table()
    # the 2016 traceback: a zipped egg uninstalled under a cached zipimporter
    assert any(f.where.endswith(" in load") for f in unpatched.failures), unpatched.table()


def test_patched_copies_never_crash(races: Races) -> None:
    patched = races.patched
    assert not patched.failures, patched.table()
    # require() met a distribution that vanished after its working set was built: the patched
    # copy answers DistributionNotFound (resolve-requires), which the workload counts as absent
    assert patched.workloads[REQUIRE_EARLIER].stale > 0, "no require() met a vanished distribution"
