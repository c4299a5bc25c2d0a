"""``locate --python``: other interpreters' ``sys.path`` and ensurepip wheels, 2.7 to 3.x."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ...conftest import (
    Venv,
    download,
    json_output,
    make_egg,
    pyenv_python,
)
from ...lib.locating import (
    PIP_VENDORED,
    PKG,
    copy_entry,
    dist,
    keyed,
    locate,
    setuptools,
    sha_file,
    sha_member,
)


def test_python27_sys_path_after_site_processing(
    tmp_path: Path, patches: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python27 = pyenv_python("2.7")
    if python27 is None:
        pytest.skip("pyenv has no Python 2.7.x: cannot ask a 2.7 interpreter for its sys.path")
    # Eggs kept outside every directory that is on sys.path, reachable only through a .pth
    # file in the user site directory: only an interpreter that processed its site directories
    # has them on sys.path.
    eggs = tmp_path / "eggs"
    eggs.mkdir()
    zipped = make_egg(download("setuptools", "24.0.2"), eggs, "2.7", zipped=True)
    unzipped = make_egg(download("pip", "8.1.2"), eggs, "2.7", zipped=False)
    userbase = tmp_path / "userbase"
    user_site = userbase / "lib/python2.7/site-packages"
    user_site.mkdir(parents=True)
    (user_site / "eggs.pth").write_text(f"{zipped}\n{unzipped}\n")
    monkeypatch.setenv("PYTHONUSERBASE", str(userbase))
    probe = subprocess.run(
        [python27, "-c", "import sys; print(sys.version_info[:2]); print('\\n'.join(sys.path))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert probe[0] == "(2, 7)"
    assert str(zipped) in probe and str(unzipped) in probe
    # without site processing (-S) the eggs are not there: the scan must use the processed path
    bare = subprocess.run(
        [python27, "-S", "-c", "import sys; print('\\n'.join(sys.path))"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert str(zipped) not in bare

    code, copies, err = locate(patches, "--python", python27)

    assert code == 0, err
    found = keyed(copies)
    ours = {k: v for k, v in found.items() if k[0].startswith(str(tmp_path))}
    dir_copy = unzipped / PIP_VENDORED
    assert ours == {
        (str(dir_copy), None): copy_entry(
            dir_copy,
            container="egg-dir",
            vendored_by="pip",
            owner=dist("pip", "8.1.2"),
            upstream=setuptools("21.0.0"),
            sha256=sha_file(dir_copy),
        ),
        (str(zipped), PKG): copy_entry(
            zipped,
            member=PKG,
            container="egg-zip",
            owner=setuptools("24.0.2"),
            upstream=setuptools("24.0.2"),
            sha256=sha_member(zipped, PKG),
        ),
    }
    # and the rest is the 2.7 installation's own copies, each under an entry of its sys.path
    entries = [e for e in probe[1:] if e]
    for file, _member in found:
        assert any(file == e or file.startswith(e.rstrip("/") + "/") for e in entries), file


def test_python3_venv_through_python_option(venv: Venv, patches: Path) -> None:
    venv.install(download("setuptools", "81.0.0"))
    code, copies, err = locate(patches, "--python", venv.python)
    assert code == 0, err
    files = [c["file"] for c in copies]
    assert str(venv.site / PKG) in files
    path = venv.run("import sys; print('\\n'.join(sys.path))").stdout.splitlines()
    for file in files:
        assert any(file.startswith(e.rstrip("/") + "/") for e in path if e), file


def test_no_arguments_scans_the_running_interpreter(tmp_path: Path, patches: Path) -> None:
    """``python -m patcher locate`` from a venv: the copies of that venv's sys.path."""
    venv = Venv(tmp_path / "venv")
    venv.install(download("setuptools", "81.0.0"), download("pip", "26.3"))
    # the tool itself and its dependencies, without any copy of pkg_resources beside them
    deps = tmp_path / "deps"
    deps.mkdir()
    import packaging
    import unidiff

    import patcher

    for module in (patcher, packaging, unidiff):
        os.symlink(os.path.dirname(module.__file__ or ""), deps / module.__name__)
    (venv.site / "tool.pth").write_text(f"{deps}\n")
    egg = make_egg(download("setuptools", "24.0.2"), tmp_path, "2.7", zipped=True)
    (venv.site / "egg.pth").write_text(f"{egg}\n")

    proc = subprocess.run(
        [venv.python, "-m", "patcher", "locate", "--json", "--patches", str(patches)],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        check=False,
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    copies = keyed(json_output(proc.stdout)["copies"])
    top, vendored = venv.site / PKG, venv.site / PIP_VENDORED
    assert copies[(str(top), None)]["owner"] == setuptools("81.0.0")
    assert copies[(str(top), None)]["sha256"] == sha_file(top)
    assert copies[(str(vendored), None)]["upstream"] == setuptools("70.3.0")
    assert copies[(str(egg), PKG)]["container"] == "egg-zip"  # added to sys.path by a .pth file
    path = [e for e in venv.run("import sys; print('\\n'.join(sys.path))").stdout.splitlines() if e]
    for file, _member in copies:
        assert any(file == e or file.startswith(e.rstrip("/") + "/") for e in path), file
    # a directory on sys.path is scanned, a site directory below it that is not is left alone:
    # the base interpreter's own site-packages (below its stdlib directory) is not this venv's
    base_site = Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    assert not [f for f, _m in copies if f.startswith(str(base_site) + "/")]
