"""Copies where real tools put them (#22): pex's vendored setuptools fork, zc.buildout's copy under
a namespace package, pipenv's patched pip, virtualenv's seeding wheels -- each project's real
wheel installed by real pip, found walking the tree and in ``--python`` mode."""

import base64
import csv
import hashlib
import json
import os
import struct
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ...conftest import (
    Venv,
    cli,
    download,
)
from ...lib.locating import (
    PIP_VENDORED,
    PKG,
    dist,
    keyed,
    locate,
    setuptools,
    sha_file,
)

PEX_SETUPTOOLS = "pex/vendor/_vendored/setuptools/" + PKG
BUILDOUT = "zc/buildout/_vendor/" + PKG
PIPENV_PIP = "pipenv/patched/" + PIP_VENDORED
EMBED = "virtualenv/seed/wheels/embed"


#: the tool venv's base interpreter is shared with every other test (and the machine): its
#: ensurepip wheels are never patched here (``--wheels`` with ``--python`` would)
NOT_ENSUREPIP = ("--exclude", "*/ensurepip/_bundled/*")


def wild(venv: Venv) -> None:
    """pex (its wheel for Python <= 3.11), zc.buildout and pipenv, and pdm for its look-alike
    (``pdm/models/working_set.py``), installed by real pip."""
    venv.install(
        download("pex", "2.105.2"),
        download("zc.buildout", "6.0.1"),
        download("pipenv", "2026.11.0"),
        download("pdm", "2.29.4"),
    )


def ours(copies: list[dict[str, Any]], venv: Venv) -> dict[str, dict[str, Any]]:
    return {os.path.relpath(c["file"], venv.site): c for c in copies if c["file"].startswith(str(venv.site) + "/")}


@pytest.mark.parametrize("mode", ["tree", "python"])
def test_copies_other_tools_keep(venv: Venv, patches: Path, mode: str) -> None:
    wild(venv)
    assert (venv.site / "pex/vendor/_vendored/setuptools/__init__.py").is_file()  # a package: the rules reject it
    assert not (venv.site / "zc/__init__.py").exists()  # a namespace package
    target = ["--python", venv.python] if mode == "python" else [str(venv.root)]

    code, copies, err = locate(patches, *target)

    assert code == 0, err
    found = ours(copies, venv)
    pex = found[PEX_SETUPTOOLS]
    assert (pex["owner"], pex["vendored_by"], pex["container"]) == (dist("pex", "2.105.2"), "pex", "directory")
    # pex's build of setuptools 44 keeps its metadata beside it: setuptools-44.0.0+<hash>.dist-info
    assert pex["upstream"] == setuptools("44.0.0")
    assert pex["sha256"] == sha_file(venv.site / PEX_SETUPTOOLS)
    buildout = found[BUILDOUT]
    assert buildout["owner"] == dist("zc.buildout", "6.0.1")  # its RECORD lies above the namespace package
    assert buildout["sha256"] == sha_file(venv.site / BUILDOUT)
    # pipenv's patched pip says where its pkg_resources comes from beside it (vendor.txt)
    assert found[PIPENV_PIP]["upstream"] == setuptools("70.3.0")
    assert found[PIPENV_PIP]["owner"] == dist("pipenv", "2026.11.0")
    # nothing else: pex's pip wrapper modules, pdm's working_set.py, the tests of each are no copies
    assert sorted(found) == sorted(
        [PEX_SETUPTOOLS, "pex/vendor/_vendored/pip/pip/_vendor/" + PKG, BUILDOUT, PIPENV_PIP]
    ), sorted(found)


def test_a_look_alike_inside_a_package_is_no_copy(venv: Venv, patches: Path) -> None:
    """Where the path rules give way to the text: pdm's ``working_set.py`` (a ``WorkingSet`` class
    of its own) named ``pkg_resources.py`` inside pdm, and pip's wrapper modules, are no copies; a
    real pkg_resources at the same place is one."""
    wild(venv)
    models = venv.site / "pdm/models"
    (models / "pkg_resources.py").write_bytes((models / "working_set.py").read_bytes())
    (models / "pkg_resources").mkdir()
    (models / "pkg_resources/__init__.py").write_bytes((models / "working_set.py").read_bytes())
    real = venv.site / "pdm/_vendored/pkg_resources/__init__.py"
    real.parent.mkdir(parents=True)
    (real.parent.parent / "__init__.py").write_text("")
    real.write_bytes((venv.site / PEX_SETUPTOOLS).read_bytes())

    for target in ([str(venv.root)], ["--python", venv.python]):
        code, copies, err = locate(patches, *target)
        assert code == 0, err
        found = ours(copies, venv)
        assert [f for f in found if f.startswith("pdm/")] == ["pdm/_vendored/pkg_resources/__init__.py"], target
        assert found["pdm/_vendored/pkg_resources/__init__.py"]["vendored_by"] == "pdm"


def test_archives_of_those_tools(patches: Path) -> None:
    wheels = [download("pex", "2.105.2"), download("zc.buildout", "6.0.1"), download("pipenv", "2026.11.0")]

    code, copies, err = locate(patches, *map(str, wheels))

    assert code == 0, err
    found = keyed(copies)
    assert sorted(found) == sorted(
        [
            (str(wheels[0]), "pex/vendor/_vendored/pip/pip/_vendor/" + PKG),
            (str(wheels[0]), PEX_SETUPTOOLS),
            (str(wheels[1]), BUILDOUT),
            (str(wheels[2]), PIPENV_PIP),
        ]
    )
    assert found[(str(wheels[2]), PIPENV_PIP)]["upstream"] == setuptools("70.3.0")


#: a release of every era, and each kind of copy: single module, package, pip's vendored ones, forks
ERAS = [
    ("setuptools", "0.9.8", "pkg_resources.py"),
    ("setuptools", "3.4.4", "pkg_resources.py"),
    ("setuptools", "20.0", PKG),
    ("setuptools", "44.1.1", PKG),
    ("setuptools", "70.3.0", PKG),
    ("setuptools", "81.0.0", PKG),
    ("pip", "1.5.6", "pip/_vendor/pkg_resources.py"),
    ("pip", "9.0.3", PIP_VENDORED),
    ("pip", "26.3", PIP_VENDORED),
    ("pex", "2.105.2", PEX_SETUPTOOLS),
    ("zc.buildout", "6.0.1", BUILDOUT),
]


def test_every_era_says_it_is_pkg_resources_and_look_alikes_do_not() -> None:
    from patcher.scan.rules import looks_like_pkg_resources

    for name, version, member in ERAS:
        with zipfile.ZipFile(download(name, version)) as zf:
            assert looks_like_pkg_resources(zf.read(member)), (name, version, member)
    with zipfile.ZipFile(download("pip", "21.1")) as zf:
        for wrapper in ("pip/_internal/utils/pkg_resources.py", "pip/_internal/metadata/pkg_resources.py"):
            assert not looks_like_pkg_resources(zf.read(wrapper)), wrapper
    with zipfile.ZipFile(download("pdm", "2.29.4")) as zf:
        working_set = zf.read("pdm/models/working_set.py")
    assert b"class WorkingSet" in working_set
    assert not looks_like_pkg_resources(working_set)


# --- virtualenv's seeding wheels --------------------------------------------------------------------

VIRTUALENV = [
    ("virtualenv", "21.15.14"),
    ("distlib", "0.4.4"),
    ("filelock", "4.3.2"),
    ("packaging", "26.4"),
    ("platformdirs", "4.14.9"),
    ("python-discovery", "1.9.9"),
]


def virtualenv_tool(tmp_path: Path) -> tuple[Venv, list[str]]:
    """Real virtualenv and its dependencies installed by real pip into a venv; its pip wheels."""
    tool = Venv(tmp_path / "tool")
    tool.install(*(download(name, version) for name, version in VIRTUALENV))
    wheels = sorted(str(w) for w in (tool.site / EMBED).glob("pip-*.whl"))
    assert wheels
    return tool, wheels


def create(tool: Venv, tmp_path: Path, name: str) -> subprocess.CompletedProcess[str]:
    """``virtualenv`` creating an environment, from its wheels as they are now (no app data yet)."""
    return subprocess.run(
        [
            str(tool.root / "bin" / "virtualenv"),
            *("--app-data", str(tmp_path / f"app-data-{name}"), "--no-periodic-update", str(tmp_path / name)),
        ],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "VIRTUALENV_CONFIG_FILE": os.devnull},
    )


def test_virtualenvs_seeding_wheels_are_its_artefacts(tmp_path: Path) -> None:
    """virtualenv seeds every environment from its embedded wheels, as venv does from ensurepip's:
    listed in ``--python`` mode as its artefacts; ``apply`` leaves them alone unless ``--wheels``."""
    tool, wheels = virtualenv_tool(tmp_path)
    embed = tool.site / EMBED

    code, out, err = cli("locate", "--json", "--python", tool.python)
    assert (code, err) == (0, "")
    seeding = {c["file"]: c for c in json.loads(out)["copies"] if c["file"].startswith(str(embed) + "/")}
    assert sorted(seeding) == wheels
    assert {c["bundled_by"] for c in seeding.values()} == {"virtualenv"}
    assert {c["member"] for c in seeding.values()} == {PIP_VENDORED}
    table = cli("locate", "--python", tool.python).out
    assert all("(virtualenv)" in line for line in table.splitlines() if f"{EMBED}/pip-" in line), table

    before = {w: Path(w).read_bytes() for w in wheels}
    code, out, err = cli("apply", *NOT_ENSUREPIP, "--python", tool.python)
    assert code == 0, err
    assert {w: Path(w).read_bytes() for w in wheels} == before  # left alone
    made = create(tool, tmp_path, "seeded")
    assert made.returncode == 0, made.stderr
    assert created_pips(tmp_path / "seeded") == ["unpatched"]


# virtualenv's own record of its files, checked as ``pip check``/``pip verify`` would: every file
# listed with a hash has that hash and size (computed here, not by the patcher's code)


def record_problems(tool: Venv) -> list[str]:
    (record,) = tool.site.glob("virtualenv-*.dist-info/RECORD")
    problems = []
    for row in csv.reader(record.read_text(encoding="utf-8").splitlines()):
        path, digest, size = row[0], row[1], row[2]
        if not digest:
            continue
        data = (tool.site / path).read_bytes()
        algorithm, _, expected = digest.partition("=")
        actual = base64.urlsafe_b64encode(hashlib.new(algorithm, data).digest()).rstrip(b"=").decode()
        if actual != expected or int(size) != len(data):
            problems.append(path)
    return problems


def bundle_table(tool: Venv) -> dict[str, str]:
    """virtualenv's BUNDLE_SHA256, as virtualenv itself reads it."""
    run = subprocess.run(
        [tool.python, "-c", "import json, virtualenv.seed.wheels.embed as e; print(json.dumps(e.BUNDLE_SHA256))"],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(run.stdout))


def created_pips(env: Path) -> list[str]:
    code, out, err = cli("locate", "--json", str(env))
    assert code == 0, err
    pips = [c for c in json.loads(out)["copies"] if c["file"].endswith("/site-packages/" + PIP_VENDORED)]
    return [c["state"] for c in pips]


def compiled(tool: Venv, module: Path) -> Path:
    """``module``'s byte-code, compiled as an import would (pip here writes none)."""
    subprocess.run([tool.python, "-m", "py_compile", str(module)], check=True)
    (pyc,) = (module.parent / "__pycache__").glob(f"{module.stem}.*.pyc")
    return pyc


def names_source(pyc: Path, source: Path) -> bool:
    """Whether a timestamp byte-code file is that of ``source`` as it is (its mtime and size)."""
    head = pyc.read_bytes()[:16]
    st = source.stat()
    return (struct.unpack("<I", head[4:8])[0], struct.unpack("<II", head[8:16])) == (
        0,
        (int(st.st_mtime) & 0xFFFFFFFF, st.st_size & 0xFFFFFFFF),
    )


def test_every_environment_virtualenv_creates_starts_with_a_patched_pip(tmp_path: Path) -> None:
    """``apply --wheels`` patches virtualenv's seeding wheels with its table of their digests
    (``BUNDLE_SHA256``, its byte-code, its RECORD): every environment it creates then starts with a
    patched pip; ``revert`` gives every file back as it was."""
    tool, wheels = virtualenv_tool(tmp_path)
    module = tool.site / EMBED / "__init__.py"
    pyc = compiled(tool, module)
    tree = [*map(Path, wheels), module, pyc, *tool.site.glob("virtualenv-*.dist-info/RECORD")]
    before = {p: p.read_bytes() for p in tree}
    table = bundle_table(tool)
    assert {w: table[Path(w).name] for w in wheels} == {w: sha_file(Path(w)) for w in wheels}

    code, out, err = cli("apply", "--wheels", *NOT_ENSUREPIP, "--python", tool.python)

    assert code == 0, err
    assert all(Path(w).read_bytes() != before[Path(w)] for w in wheels)
    table = bundle_table(tool)
    assert {w: table[Path(w).name] for w in wheels} == {w: sha_file(Path(w)) for w in wheels}
    text, old = module.read_text(encoding="utf-8"), before[module].decode("utf-8")
    assert len(text) == len(old)
    assert [a != b for a, b in zip(text.splitlines(), old.splitlines())].count(True) == len(wheels)  # digests only
    assert names_source(pyc, module) and pyc.read_bytes() != before[pyc]
    assert record_problems(tool) == []
    made = create(tool, tmp_path, "seeded")
    assert made.returncode == 0, made.stderr
    assert created_pips(tmp_path / "seeded") == ["patched"]

    code, out, err = cli("revert", "--wheels", *NOT_ENSUREPIP, "--python", tool.python)

    assert code == 0, err
    assert {p: p.read_bytes() for p in tree} == before
    assert record_problems(tool) == []
    made = create(tool, tmp_path, "reverted")
    assert made.returncode == 0, made.stderr
    assert created_pips(tmp_path / "reverted") == ["unpatched"]


def test_a_virtualenv_whose_table_is_not_found_keeps_its_wheels(tmp_path: Path) -> None:
    """Another virtualenv, whose table of digests is no dict literal: its wheels are left alone
    with ``--wheels``, and the report says why; named, one is patched, with a warning."""
    tool, wheels = virtualenv_tool(tmp_path)
    module = tool.site / EMBED / "__init__.py"
    with module.open("a", encoding="utf-8") as f:
        f.write("BUNDLE_SHA256 = dict(BUNDLE_SHA256)\n")
    before = {w: Path(w).read_bytes() for w in wheels}
    text = module.read_bytes()

    code, out, err = cli("apply", "--wheels", *NOT_ENSUREPIP, "--python", tool.python)

    assert code == 0, err
    assert {w: Path(w).read_bytes() for w in wheels} == before
    assert (
        f"{wheels[0]}: left alone: virtualenv checks the sha256 of its seeding wheels, and {module} has no BUNDLE_SHA256 dict literal"
        in err
    )
    assert module.read_bytes() == text

    code, out, err = cli("apply", wheels[0])

    assert code == 0, err
    assert Path(wheels[0]).read_bytes() != before[wheels[0]]
    assert "it will refuse this wheel" in err
    assert module.read_bytes() == text


def test_an_immutable_table_leaves_the_wheel_as_it_was(tmp_path: Path, freeze: Callable[[Path], None]) -> None:
    """virtualenv's module of digests cannot be replaced (``chattr +i``): no wheel, no table, no
    record changes, and one line says which file."""
    tool, wheels = virtualenv_tool(tmp_path)
    module = tool.site / EMBED / "__init__.py"
    tree = [*map(Path, wheels), module, *tool.site.glob("virtualenv-*.dist-info/RECORD")]
    before = {p: p.read_bytes() for p in tree}
    freeze(module)

    code, out, err = cli("apply", "--wheels", *NOT_ENSUREPIP, "--python", tool.python)

    assert code == 1, err
    assert {p: p.read_bytes() for p in tree} == before
    lines = [line for line in err.splitlines() if str(module) in line]
    assert lines == [
        f"pkgres-patcher: {module}: file is immutable (chattr +i): {w}!{PIP_VENDORED} left unchanged" for w in wheels
    ]
    made = create(tool, tmp_path, "seeded")
    assert made.returncode == 0, made.stderr
