"""Where a copy's code comes from: the setuptools release it is (or pip vendors it from).

For a pip copy without ``_vendor/vendor.txt`` (wheels before pip 20.1) the release is looked up
in a table built from every pip release.
"""

from __future__ import annotations

from patcher.model import Dist

__all__ = ["normalize", "pip_vendored_setuptools", "upstream", "vendoring_pip"]


#: The setuptools release whose pkg_resources pip vendors, from the first pip release of each
#: run on (the list is sorted; a run ends where the next begins). Used only when a copy's
#: ``_vendor/vendor.txt`` is absent: pip's wheels before 20.1 leave it out, and before 10.0 it
#: does not name setuptools at all. Sources: ``pip/_vendor/README.rst`` ("pkg_resources has been
#: pulled in from setuptools X") in the sdists of pip 6.0 to 9.0.3, ``src/pip/_vendor/vendor.txt``
#: in the sdists of pip 10.0.0 to 20.0.2, and ``pip/_vendor/vendor.txt`` in every wheel of pip
#: 20.1 to 26.3. pip 1.5.x states no source: nothing is guessed for it.
_PIP_VENDORED_SETUPTOOLS: tuple[tuple[str, str], ...] = (
    ("6.0", "8.2.1"),
    ("6.0.4", "11.0"),
    ("6.1.0", "15.0"),
    ("7.1.0", "18.0"),
    ("7.1.1", "18.2"),
    ("8.0.0", "19.4"),
    ("8.1.2", "21.0.0"),
    ("9.0.0", "27.3.0"),
    ("9.0.1", "28.8.0"),
    ("10.0.0", "39.0.1"),
    ("18.0", "39.2.0"),
    ("18.1", "40.4.3"),
    ("19.0", "40.6.3"),
    ("19.1", "41.0.1"),
    ("19.3", "41.4.0"),
    ("20.0", "44.0.0"),
    ("23.1", "67.6.1"),
    ("23.1.1", "65.6.3"),
    ("23.1.2", "67.7.2"),
    ("23.2", "68.0.0"),
    ("24.1", "69.5.1"),
    ("24.2", "70.3.0"),
)
#: the newest pip release the table was checked against: nothing is guessed past it
_PIP_VENDOR_TABLE_END = "26.3"


def _release(version: str) -> tuple[int, ...] | None:
    """The numeric release of a version, trailing zeros trimmed (``10.0.0b1`` -> ``(10,)``)."""
    numbers: list[int] = []
    for part in version.strip().split("."):
        digits = ""
        for char in part:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        numbers.append(int(digits))
        if len(digits) != len(part):
            break
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers) or None


def pip_vendored_setuptools(pip_version: str) -> Dist | None:
    """The setuptools release a pip release vendors pkg_resources from, when known."""
    release = _release(pip_version)
    end = _release(_PIP_VENDOR_TABLE_END)
    if release is None or end is None or release > end:
        return None
    found = None
    for first, setuptools in _PIP_VENDORED_SETUPTOOLS:
        start = _release(first)
        if start is not None and release >= start:
            found = setuptools
    return None if found is None else Dist("setuptools", found)


def upstream(owner: Dist | None, vendored_by: str | None, vendor: Dist | None) -> Dist | None:
    if vendored_by is not None:
        if vendor is None and vendored_by == "pip" and owner is not None and normalize(owner.name) == "pip":
            return pip_vendored_setuptools(owner.version)
        return vendor
    if owner is not None and normalize(owner.name) == "setuptools":
        return Dist("setuptools", owner.version)
    return None


def vendoring_pip(owner: Dist | None, vendored_by: str | None) -> Dist | None:
    """pip's own release, for a copy pip vendors: variants may name pip versions in their range."""
    if vendored_by == "pip" and owner is not None and normalize(owner.name) == "pip":
        return owner
    return None


def normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
