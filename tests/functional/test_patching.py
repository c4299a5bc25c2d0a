"""apply / revert on real installs: venvs, eggs, wheels; atomicity, RECORD, locks, crashes."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from patcher.disk import atomic, copyio, locks
from patcher.model import Copy

from ..conftest import Venv, VenvFactory, byte_code_egg, cli, download, make_egg, pip_install, snapshot
from ..lib.records import record_row

SETUPTOOLS = "81.0.0"
PIP = "26.3"


def record_hash(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture
def venv(venv_factory: VenvFactory) -> Venv:
    env = venv_factory()
    env.install(download("setuptools", SETUPTOOLS), download("pip", PIP))
    # byte-code as an installer leaves it, to see that stale entries go away
    subprocess.run([env.python, "-m", "compileall", "-q", str(env.site / "pkg_resources")], check=True)
    return env


def test_apply_then_revert_gives_every_byte_back(venv: Venv) -> None:
    before = snapshot(venv.root)
    code, out, err = cli("apply", str(venv.root))
    assert code == 0, err
    assert err == ""
    assert out.count("patched ") == 2
    run = cli("locate", "--json", str(venv.root))
    assert run.code == 0, run.err
    states = {c["vendored_by"]: c["state"] for c in run.json["copies"]}
    assert states == {None: "patched", "pip": "patched"}

    init = venv.site / "pkg_resources" / "__init__.py"
    assert init.read_bytes() != before[str(init.relative_to(venv.root))][1]
    assert record_row(next(venv.site.glob("setuptools-*.dist-info")) / "RECORD", "pkg_resources/__init__.py")[1:] == [
        record_hash(init),
        str(init.stat().st_size),
    ]
    vendored = venv.site / "pip" / "_vendor" / "pkg_resources" / "__init__.py"
    assert record_row(next(venv.site.glob("pip-*.dist-info")) / "RECORD", "pip/_vendor/pkg_resources/__init__.py")[
        1:
    ] == [
        record_hash(vendored),
        str(vendored.stat().st_size),
    ]
    [pyc] = (venv.site / "pkg_resources" / "__pycache__").glob("__init__.*.pyc")
    assert pyc.read_bytes() != before[str(pyc.relative_to(venv.root))][1]  # compiled anew
    # the patched code imports and works in the venv's interpreter
    proc = venv.run(
        "import pkg_resources, pip._vendor.pkg_resources as v; print(len(list(pkg_resources.working_set)), len(list(v.working_set)))"
    )
    assert proc.returncode == 0, proc.stderr

    code, out, err = cli("revert", str(venv.root))
    assert code == 0, err
    assert out.count("reverted ") == 2
    after = snapshot(venv.root)
    changed = {k for k in before if before[k] != after.get(k)}
    assert changed == set()  # byte-code too: the original is put back
    # only byte-code is new: the import above compiled pip's (installed without)
    assert {k for k in after if k not in before and "__pycache__" not in k} == set()


def test_apply_twice_changes_nothing(venv: Venv) -> None:
    assert cli("apply", str(venv.root)).code == 0
    once = snapshot(venv.root)
    code, out, err = cli("apply", str(venv.root))
    assert code == 0, err
    assert out.count("already-patched") == 2
    assert snapshot(venv.root) == once


def test_dry_run_and_diff_write_nothing(venv: Venv) -> None:
    before = snapshot(venv.root)
    code, out, err = cli("apply", "--dry-run", "--diff", str(venv.root))
    assert code == 0, err
    assert err.count("would patch") == 2  # stdout holds only the diff
    assert "+        except OSError:" in out
    assert "--- a/pkg_resources/__init__.py\n+++ b/pkg_resources/__init__.py\n" in out
    assert snapshot(venv.root) == before


def test_locally_edited_copy_is_named_untouched_and_others_still_patched(venv: Venv) -> None:
    vendored = venv.site / "pip" / "_vendor" / "pkg_resources" / "__init__.py"
    text = vendored.read_bytes()
    edited = text.replace(b"mtime = os.stat(path).st_mtime", b"mtime = os.stat(path).st_mtime  # local edit")
    assert edited != text
    vendored.write_bytes(edited)
    code, out, err = cli("apply", str(venv.root))
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"pkgres-patcher: {vendored}: does not fit: ")
    assert "hunk #1: line " in lines[0] and "expected '        mtime = os.stat(path).st_mtime'" in lines[0]
    assert "Traceback" not in err
    assert vendored.read_bytes() == edited
    assert "except OSError" in (venv.site / "pkg_resources" / "__init__.py").read_text()
    run = cli("locate", "--json", str(venv.root))
    assert run.code == 0, run.err
    states = {c["vendored_by"]: c["state"] for c in run.json["copies"]}
    assert states == {None: "patched", "pip": "drifted"}


def test_read_only_file_is_an_error_and_untouched(venv: Venv) -> None:
    init = venv.site / "pkg_resources" / "__init__.py"
    init.chmod(0o444)
    before = init.read_bytes()
    code, _out, err = cli("apply", str(venv.root))
    assert code == 1
    assert err.strip() == f"pkgres-patcher: {init}: file is read-only: left unchanged"
    assert init.read_bytes() == before
    assert stat.S_IMODE(init.stat().st_mode) == 0o444
    assert [p for p in init.parent.iterdir() if atomic.TEMP_MARK in p.name] == []


def test_mode_is_kept(venv: Venv) -> None:
    init = venv.site / "pkg_resources" / "__init__.py"
    init.chmod(0o640)
    assert cli("apply", str(venv.root)).code == 0
    assert stat.S_IMODE(init.stat().st_mode) == 0o640


def test_zipped_and_directory_eggs_are_patched_in_place(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    site.mkdir()
    zegg = make_egg(download("setuptools", "44.1.1"), site, zipped=True)
    with zipfile.ZipFile(zegg, "a") as zf:  # byte-code of the module of an interpreter not here
        zf.writestr("pkg_resources/__init__.pyc", b"\xff\xff\r\n" + b"\0" * 12 + b"stale")
    degg = make_egg(download("pip", "20.3.4"), site, zipped=False)
    with zipfile.ZipFile(zegg) as zf:
        before_infos = [(i.filename, i.date_time) for i in zf.infolist()]
        before_members = {i.filename: zf.read(i) for i in zf.infolist()}
    before_dir = snapshot(degg)

    code, out, err = cli("apply", str(site))
    assert code == 0, err
    with zipfile.ZipFile(zegg) as zf:
        assert zf.testzip() is None
        infos = [(i.filename, i.date_time) for i in zf.infolist()]
        assert infos == [x for x in before_infos if x[0] != "pkg_resources/__init__.pyc"]
        for name, data in before_members.items():
            if name == "pkg_resources/__init__.py":
                assert b"except (IOError, OSError):" in zf.read(name) or b"except (OSError, IOError):" in zf.read(name)
            elif name != "pkg_resources/__init__.pyc":
                assert zf.read(name) == data, name
    assert "except" in (degg / "pip" / "_vendor" / "pkg_resources" / "__init__.py").read_text()

    assert cli("revert", str(site)).code == 0
    with zipfile.ZipFile(zegg) as zf:
        assert zf.read("pkg_resources/__init__.py") == before_members["pkg_resources/__init__.py"]
    assert snapshot(degg) == before_dir


def test_wheels_only_with_flag(tmp_path: Path) -> None:
    wheel = tmp_path / download("pip", PIP).name
    wheel.write_bytes(download("pip", PIP).read_bytes())
    original = wheel.read_bytes()
    code, out, err = cli("apply", str(tmp_path))
    assert (code, out) == (0, "1 wheel left alone (pass --wheels or name the wheel to patch it)\n")
    assert wheel.read_bytes() == original

    code, out, err = cli("apply", "--wheels", str(tmp_path))
    assert code == 0, err
    member = "pip/_vendor/pkg_resources/__init__.py"
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(member)
        record = next(n for n in zf.namelist() if n.endswith(".dist-info/RECORD"))
        rows = {r[0]: r for r in csv.reader(zf.read(record).decode().splitlines())}
    assert b"except OSError:" in data
    digest = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    assert rows[member][1:] == [digest, str(len(data))]
    # a real installer accepts the patched wheel
    env = Venv(tmp_path / "v")
    env.install(wheel)
    assert (env.site / member).read_bytes() == data

    assert cli("revert", "--wheels", str(tmp_path)).code == 0
    with zipfile.ZipFile(wheel) as zf, zipfile.ZipFile(download("pip", PIP)) as orig:
        assert [i.filename for i in zf.infolist()] == [i.filename for i in orig.infolist()]
        for info in orig.infolist():
            assert zf.read(info.filename) == orig.read(info), info.filename


def test_truncated_egg_is_named_and_counts_as_failure(tmp_path: Path, venv_factory: VenvFactory) -> None:
    site = tmp_path / "site"
    site.mkdir()
    egg = make_egg(download("setuptools", "44.1.1"), site)
    data = egg.read_bytes()
    egg.write_bytes(data[: len(data) // 2])
    good = make_egg(download("pip", "20.3.4"), site, zipped=False)
    code, out, err = cli("apply", str(site))
    assert code == 1
    assert err.startswith(f"pkgres-patcher: {egg}: not a valid zip archive")
    assert len(err.strip().splitlines()) == 1
    assert egg.read_bytes() == data[: len(data) // 2]
    assert "except" in (good / "pip" / "_vendor" / "pkg_resources" / "__init__.py").read_text()


def _run_apply(target: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "patcher", "apply", str(target), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_parallel_runs_end_as_one_run_would(tmp_path: Path, venv: Venv) -> None:
    reference = Venv(tmp_path / "reference")
    reference.install(download("setuptools", SETUPTOOLS), download("pip", PIP))
    assert cli("apply", str(reference.root)).code == 0
    expected = snapshot(reference.root)

    files_before = set(snapshot(venv.root))
    procs = [_run_apply(venv.root) for _ in range(8)]
    results = [p.communicate() + (p.returncode,) for p in procs]
    assert all(code == 0 for _o, _e, code in results), results
    outs = b"".join(o for o, _e, _c in results).decode()
    assert outs.count("patched  ") + outs.count("patched ") >= 2
    assert outs.count("\npatched ") + outs.startswith("patched ") <= 2  # each copy changed exactly once
    got = snapshot(venv.root)
    for key, value in expected.items():
        if key.endswith("pkg_resources/__init__.py"):
            assert got[key] == value, key
    vendored = venv.site / "pip" / "_vendor" / "pkg_resources" / "__init__.py"
    assert record_row(next(venv.site.glob("pip-*.dist-info")) / "RECORD", "pip/_vendor/pkg_resources/__init__.py")[
        1
    ] == record_hash(vendored)
    # nothing left behind in the tree: no lock files, no temporary files
    assert {k for k in set(got) - files_before if "__pycache__" not in k} == set()


def test_sigkill_leaves_each_copy_whole_and_next_run_finishes(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    eggs = [make_egg(download("setuptools", "44.1.1"), site)]
    for version in ("20.3.4", "19.3.1"):
        eggs.append(make_egg(download("pip", version), site, zipped=False))
    env = Venv(tmp_path / "venv")
    env.install(download("setuptools", SETUPTOOLS), download("pip", PIP))
    targets = [site, env.root]

    def sources() -> dict[str, str]:
        found: dict[str, str] = {}
        for t in targets:
            run = cli("locate", "--json", str(t))
            assert run.code == 0, run.err
            found.update({c["file"] + "!" + str(c["member"]): c["sha256"] for c in run.json["copies"]})
        return found

    original = sources()
    for t in targets:
        assert cli("apply", str(t)).code == 0
    patched = sources()
    for t in targets:
        assert cli("revert", str(t)).code == 0
    assert sources() == original

    rng = random.Random(21435)
    for _ in range(12):
        procs = [_run_apply(t) for t in targets]
        time.sleep(rng.uniform(0.05, 0.6))
        for p in procs:
            p.send_signal(signal.SIGKILL)
            p.wait()
        now = sources()
        for key, digest in now.items():
            assert digest in (original[key], patched[key]), key
    for t in targets:
        code, _out, err = cli("apply", str(t))
        assert code == 0, err
    assert sources() == patched
    assert [p for t in targets for p in t.rglob("*") if atomic.TEMP_MARK in p.name] == []
    # RECORD caught up too
    vendored = env.site / "pip" / "_vendor" / "pkg_resources" / "__init__.py"
    assert record_row(next(env.site.glob("pip-*.dist-info")) / "RECORD", "pip/_vendor/pkg_resources/__init__.py")[
        1
    ] == record_hash(vendored)


def test_lock_interoperates_with_flock_1(venv: Venv) -> None:
    """While flock(1) holds a copy's lock, apply waits for it."""
    init = venv.site / "pkg_resources" / "__init__.py"
    lock = locks.lock_path(str(init))
    os.makedirs(os.path.dirname(lock), exist_ok=True)
    holder = subprocess.Popen(["flock", lock, "sleep", "2"])
    import fcntl

    while True:  # until flock(1) really holds it
        fd = os.open(lock, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            break
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            time.sleep(0.01)
        finally:
            os.close(fd)
    start = time.monotonic()
    proc = _run_apply(venv.root)
    out, err = proc.communicate()
    waited = time.monotonic() - start
    holder.wait()
    assert proc.returncode == 0, err
    assert holder.returncode == 0
    assert waited >= 0.5  # it waited for flock(1) to let go, instead of writing under it
    assert b"except OSError" in init.read_bytes()


def test_usage_errors_exit_2() -> None:
    code, out, err = cli("apply", "--fuzz", "x")
    assert code == 2
    assert err.splitlines()[-1] == "pkgres-patcher apply: argument --fuzz: not a whole number: 'x'"
    code, out, err = cli("frobnicate")
    assert code == 2
    assert "invalid choice: 'frobnicate'" in err


def test_egg_with_only_byte_code_is_unpatchable(tmp_path: Path) -> None:
    """An egg built without sources (``bdist_egg --exclude-source-files``) cannot be patched."""
    egg = byte_code_egg(tmp_path)
    before = egg.read_bytes()
    run = cli("locate", "--json", str(tmp_path))
    assert run.code == 0, run.err
    [copy] = run.json["copies"]
    assert (copy["member"], copy["state"]) == ("pkg_resources/__init__.pyc", "unpatchable")
    run = cli("apply", str(tmp_path))
    assert run.code == 1
    assert run.err == f"pkgres-patcher: {egg}!pkg_resources/__init__.pyc: holds only byte-code, no source to patch\n"
    assert egg.read_bytes() == before


ROUND_TRIP = (
    [
        ("setuptools", v)
        for v in (
            "18.0",
            "24.0.2",
            "28.6.0",
            "36.4.0",
            "36.5.0",
            "40.8.0",
            "44.1.1",
            "49.6.0",
            "66.0.0",
            "70.1.0",
            "81.0.0",
        )
    ]
    + [("pip", v) for v in ("8.1.2", "10.0.1", "20.3.4", "23.1", "24.1", "26.3")]
    + [("pkg-resources-backport", "1.0.1")]
)


@pytest.mark.slow
@pytest.mark.parametrize(("project", "version"), ROUND_TRIP, ids=[f"{p}-{v}" for p, v in ROUND_TRIP])
def test_every_era_patches_cleanly_and_reverts_byte_for_byte(tmp_path: Path, project: str, version: str) -> None:
    with zipfile.ZipFile(download(project, version)) as zf:
        zf.extractall(tmp_path)
    member = "pip/_vendor/pkg_resources/__init__.py" if project == "pip" else "pkg_resources/__init__.py"
    copy = tmp_path / member
    original = copy.read_bytes()
    code, out, err = cli("apply", "--json", str(tmp_path))
    assert (code, err) == (0, "")
    [row] = json.loads(out)["copies"]
    assert row["outcome"] == "patched" and row["warnings"] == []  # in the declared range
    assert all(step["action"] == "change" and step["fuzz"] == 0 for step in row["patches"])
    patched = copy.read_bytes()
    assert patched.count(b"vanished under us") >= len(row["patches"])  # each patch says why, once or more
    if b"\r\n" in original:  # pip 10.0.x: CRLF throughout, and it stays so
        assert patched.count(b"\n") == patched.count(b"\r\n")
    assert cli("apply", str(tmp_path)).out.startswith("already-patched")
    assert copy.read_bytes() == patched
    assert cli("revert", str(tmp_path)).code == 0
    assert copy.read_bytes() == original


def test_copy_uninstalled_between_locate_and_apply_is_absent_not_an_error(venv: Venv) -> None:
    """In a parallel build the copy found a moment ago may be gone: nothing to patch, no failure."""
    import shutil

    from patcher import locate
    from patcher.disk.patching import change
    from patcher.engine.patchset import load_patchset

    copies = {c.vendored_by: c for c in locate([str(venv.root)]).copies}
    shutil.rmtree(venv.site / "pkg_resources")
    patchset = load_patchset()
    gone = change(copies[None], patchset)
    assert (gone.outcome, gone.state, gone.ok) == ("vanished", "absent", True)
    kept = change(copies["pip"], patchset)
    assert (kept.outcome, kept.ok) == ("patched", True)


# --- a copy's files change together or not at all ------------------------------------------------


def _setuptools_files(site: Path) -> tuple[dict[str, tuple[int, bytes]], dict[str, tuple[int, bytes]], int]:
    """What apply writes for setuptools' copy: source and byte-code, its RECORD; the source's mtime
    (its timestamp byte-code names it)."""
    dist_info = next(site.glob("setuptools-*.dist-info"))
    init = site / "pkg_resources" / "__init__.py"
    return snapshot(site / "pkg_resources"), snapshot(dist_info), init.stat().st_mtime_ns


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if atomic.TEMP_MARK in p.name]


@pytest.mark.parametrize("command", ["apply", "revert"])
def test_immutable_record_leaves_the_copy_unchanged(venv: Venv, freeze: Callable[[Path], None], command: str) -> None:
    vendored = venv.site / "pip" / "_vendor" / "pkg_resources" / "__init__.py"
    pristine = vendored.read_bytes()
    if command == "revert":
        assert cli("apply", str(venv.root)).code == 0
    record = next(venv.site.glob("setuptools-*.dist-info")) / "RECORD"
    init = venv.site / "pkg_resources" / "__init__.py"
    before = _setuptools_files(venv.site)
    freeze(record)

    code, out, err = cli(command, str(venv.root))
    assert code == 1
    said = f"{record}: file is immutable (chattr +i): {init} left unchanged"
    assert err == f"pkgres-patcher: {said}\n"
    assert f"{'failed':<18} {init}\n" in out
    assert _setuptools_files(venv.site) == before
    assert _temp_files(venv.root) == []
    assert (vendored.read_bytes() == pristine) is (command == "revert")  # the other copy is done

    run = cli(command, "--json", str(venv.root))
    assert run.code == 1
    [row] = [c for c in run.json["copies"] if c["vendored_by"] is None]
    assert (row["outcome"], row["message"]) == ("failed", said)
    assert row["unwritable"] == {"subject": str(record), "reason": "file is immutable (chattr +i)"}
    assert row["state"] == ("unpatched" if command == "apply" else "patched")  # as it was, and still is
    assert _setuptools_files(venv.site) == before


def test_read_only_dist_info_leaves_the_copy_unchanged(tmp_path: Path) -> None:
    """A user who may write the source but not the dist-info directory (pip installed it as root,
    say): the RECORD cannot be replaced, so the source is not patched either."""
    world = Path(tempfile.mkdtemp(prefix="pkgres-patcher-disk-"))
    try:
        world.chmod(0o755)
        prefix = world / "prefix"
        pip_install("install", "--ignore-installed", "--prefix", str(prefix), str(download("setuptools", SETUPTOOLS)))
        [site] = prefix.glob("lib/python*/site-packages")
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(site / "pkg_resources")], check=True)
        (world / "locks").mkdir()
        (world / "cache").mkdir()
        wrapper = _unprivileged(world)
        dist_info = next(site.glob("setuptools-*.dist-info"))
        dist_info.chmod(0o555)
        init = site / "pkg_resources" / "__init__.py"
        before = snapshot(prefix), init.stat().st_mtime_ns
        env = {k: v for k, v in os.environ.items() if not k.startswith("PKGRES_PATCHER_")}
        env.update(PKGRES_PATCHER_LOCK_DIR=str(world / "locks"), PKGRES_PATCHER_CACHE_DIR=str(world / "cache"))

        run = subprocess.run(
            [*wrapper, sys.executable, "-m", "patcher", "apply", str(prefix)],
            capture_output=True,
            text=True,
            env=env,
            cwd="/",
        )
        assert run.returncode == 1, run.stderr
        reason = "its directory cannot be written (Permission denied)"
        assert run.stderr == f"pkgres-patcher: {dist_info / 'RECORD'}: {reason}: {init} left unchanged\n"
        assert (snapshot(prefix), init.stat().st_mtime_ns) == before
        assert _temp_files(world) == []
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(world)], check=False)
        shutil.rmtree(world, ignore_errors=True)


def _unprivileged(world: Path) -> tuple[str, ...]:
    """A wrapper that runs a program as an unprivileged user (root writes anywhere; none needed
    when not root); ``world`` is handed over to that user."""
    if os.getuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a directory cannot be made unwritable")
    wrapper = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    if subprocess.run([*wrapper, sys.executable, "-c", "import patcher"], capture_output=True, cwd="/").returncode:
        pytest.skip("the unprivileged user (65534) cannot run this Python and import patcher")
    for path in [world, *world.rglob("*")]:
        os.chown(path, 65534, 65534, follow_symlinks=False)
    return wrapper


def test_record_made_immutable_midway_puts_source_and_byte_code_back(
    venv: Venv, freeze: Callable[[Path], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The RECORD passes the check, then becomes immutable once the source and its byte-code are
    written (a real ``chattr +i`` at that moment): they are put back, byte for byte, mtime too."""
    record = next(venv.site.glob("setuptools-*.dist-info")) / "RECORD"
    init = venv.site / "pkg_resources" / "__init__.py"
    [pyc] = (venv.site / "pkg_resources" / "__pycache__").glob("__init__.*.pyc")
    before, old_pyc = _setuptools_files(venv.site), pyc.read_bytes()
    write = copyio.write
    written = []

    def write_then_freeze(copy: Copy, *args: Any, **kwargs: Any) -> tuple[str, ...]:
        warnings = write(copy, *args, **kwargs)
        if copy.vendored_by is None:
            written.append((b"except OSError" in init.read_bytes(), pyc.read_bytes() != old_pyc))
            freeze(record)
        return warnings

    monkeypatch.setattr(copyio, "write", write_then_freeze)
    code, _out, err = cli("apply", str(venv.root))
    assert written == [(True, True)]  # source and byte-code really were written
    assert code == 1
    assert err == f"pkgres-patcher: {record}: file is immutable (chattr +i): {init} left unchanged\n"
    assert _setuptools_files(venv.site) == before
    assert _temp_files(venv.root) == []
