#!/usr/bin/env python3
"""Show that a copy of pkg_resources survives distributions vanishing while it scans sys.path.

For one release (a setuptools, pip or pkg-resources-backport wheel, or a directory that is an
import root holding ``pkg_resources/`` or ``pip/_vendor/pkg_resources/``) and one or more
interpreters, every scenario below is run in a fresh child process started with ``-S`` (no
site-packages), once on the unpatched copy and, with ``--patched``, once on a copy with the
patch set applied (the variant of each patch picked as the engine does).  A scenario builds a
small sys.path, arranges for one distribution to vanish at the right moment, imports
pkg_resources and reports whether the import survived and whether the vanished distribution
is absent from the working set.

How things vanish: on Python >= 3.8 an audit hook (``sys.addaudithook``) on the ``os.listdir``
and ``open`` events removes the file or directory right before the call; on older Pythons
(2.7, 3.6, 3.7 have no audit hooks) ``os.listdir`` / ``open`` are wrapped to do the same.  ``os.stat`` and ``os.access`` have no audit event: they are wrapped on
every Python.  In every case the error pkg_resources sees comes from the real call.

Scenarios:
  dist-info      a .dist-info directory removed right before pkg_resources lists it
  egg-info       an .egg-info directory removed right before pkg_resources lists it
  path-dir       a sys.path directory removed right before pkg_resources lists it
  dir-egg        a directory egg on sys.path removed right after the os.path.isdir() and
                 os.access() checks of find_on_path (before setuptools 36.4) passed
  zip-egg        a zipped egg on sys.path, imported from, then removed before the import
                 of pkg_resources (the zipimporter stays cached): a real race, no injection
  zip-egg-stat   a zipped egg on sys.path removed right before MemoizedZipManifests.load()
                 stats it (setuptools >= 49.6 checks os.path.isfile() first: a race remains)
  zip-egg-open   a zipped egg on sys.path removed right after MemoizedZipManifests.load()
                 stat'ed it, i.e. before ZipManifests.build() opens it
  nested-egg     a zipped egg inside a sys.path directory removed right before
                 MemoizedZipManifests.load() stats it (seen by the full scan only)
  egg-link       a develop install's .egg-link removed right before it is opened (full scan)
  ns-meta        an .egg-info directory removed between has_metadata('namespace_packages.txt')
                 and the open() of that file in Distribution.activate() (via _get_metadata();
                 patch metadata-read); the distribution was found before it vanished, so it
                 stays in the working set ("still listed"), as if it vanished after the scan

After the import, a full scan (``Environment(sys.path)``, ``only=False``) is run too: nested
eggs and .egg-link files are only looked at by such scans (and by ``WorkingSet.require`` for
scripts with ``__requires__``), not by the import's own working-set build.

Usage:
  vanish_check.py [--patched] [--python 2.7 --python 3.12 ...] [--scenario NAME ...] RELEASE
  (RELEASE: a wheel, an sdist (.tar.gz, .zip: unpacked, never built) or an import root directory; --python takes a pyenv version or a path)
Exit status 1 when a patched copy crashes.  "still listed" is reported, not failed: it means
the copy yielded the distribution from its name without reading anything after it vanished
(e.g. a directory egg before setuptools 36.2.6), the same as if it vanished after the scan.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from typing import TypedDict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

SCENARIOS = [
    "dist-info",
    "egg-info",
    "path-dir",
    "dir-egg",
    "zip-egg",
    "zip-egg-stat",
    "zip-egg-open",
    "nested-egg",
    "egg-link",
    "ns-meta",
]
#: races outside the patch set, run only when named with --scenario (none at present)
EXTRA_SCENARIOS: list[str] = []


class Outcome(TypedDict, total=False):
    """What a child reported on its ``RESULT`` line (or what went wrong running it), and the copy it ran."""

    scenario: str
    python: str
    fired: bool
    result: str  # "survived", "crash" or "harness-error"
    vanish_present: bool
    keep_present: bool
    phase: str
    error: str
    where: str
    copy: str  # "unpatched" or "patched": added by the parent


# The child: runs under any Python from 2.7 on; argv: root module scenario workdir
CHILD = r'''
import os, sys, json, shutil, zipfile, traceback
root, modname, scenario, work = sys.argv[1:5]
out = {"scenario": scenario, "python": sys.version.split()[0], "fired": False}
egg_tag = "py%d.%d" % sys.version_info[:2]
W = lambda *p: os.path.join(work, *p)

def write(path, text):
    d = os.path.dirname(path)
    if not os.path.isdir(d):
        os.makedirs(d)
    with open(path, "w") as f:
        f.write(text)

def make_zip_egg(path):
    z = zipfile.ZipFile(path, "w")
    z.writestr("EGG-INFO/PKG-INFO", "Metadata-Version: 1.1\nName: vanish\nVersion: 1.0\n")
    z.writestr("vanishmod.py", "X = 1\n")
    z.close()

def remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)

state = {"armed": True, "busy": False}
def fire(target):
    target = hooks.get("open-remove", target)   # remove a whole directory on opening a file in it
    if state["armed"] and not state["busy"]:
        state["armed"] = False
        state["busy"] = True
        try:
            remove(target)
        finally:
            state["busy"] = False
        out["fired"] = True

def same(a, b):
    try:
        a = os.fsdecode(a) if hasattr(os, "fsdecode") else a
    except Exception:
        pass
    return isinstance(a, str) and os.path.normcase(os.path.normpath(a)) == os.path.normcase(os.path.normpath(b))

AUDIT = hasattr(sys, "addaudithook")
hooks = {}   # event -> target

def install(event, target):
    """event: 'listdir' | 'open' (before the call), 'stat' | 'stat-after' (before/after the
    os.stat() in MemoizedZipManifests.load), 'access' (after os.access() said True)."""
    hooks[event] = target
    if event in ("listdir", "open") and AUDIT:
        if not install.audit:
            install.audit = True
            def hook(ev, args):
                if ev == "os.listdir" and "listdir" in hooks and args and same(args[0], hooks["listdir"]):
                    fire(hooks["listdir"])
                elif ev == "open" and "open" in hooks and args and same(args[0], hooks["open"]):
                    fire(hooks["open"])
            sys.addaudithook(hook)
        return
    if event == "listdir":
        real_listdir = os.listdir
        def listdir(p="."):
            if same(p, target):
                fire(target)
            return real_listdir(p)
        os.listdir = listdir
    elif event == "open":
        try:
            import builtins
        except ImportError:
            import __builtin__ as builtins
        real_open = builtins.open
        def open_(f, *a, **k):
            if same(f, target):
                fire(target)
            return real_open(f, *a, **k)
        builtins.open = open_
    elif event in ("stat", "stat-after"):
        # only the os.stat() of MemoizedZipManifests.load(), not e.g. the one in os.path.isfile()
        real_stat = os.stat
        def stat(p, *a, **k):
            hit = same(p, target) and sys._getframe(1).f_code.co_name == "load"
            if hit and event == "stat":
                fire(target)
            r = real_stat(p, *a, **k)
            if hit and event == "stat-after":
                fire(target)
            return r
        os.stat = stat
    elif event == "access":
        real_access = os.access
        def access(p, mode, *a, **k):
            r = real_access(p, mode, *a, **k)
            if r and same(p, target):
                fire(target)
            return r
        os.access = access
install.audit = False

site = W("site")
os.makedirs(site)
write(W("site", "keep-1.0.dist-info", "METADATA"), "Metadata-Version: 2.1\nName: keep\nVersion: 1.0\n")
extra = []
if scenario == "dist-info":
    write(W("site", "vanish-1.0.dist-info", "METADATA"), "Metadata-Version: 2.1\nName: vanish\nVersion: 1.0\n")
    install("listdir", W("site", "vanish-1.0.dist-info"))
elif scenario == "egg-info":
    write(W("site", "vanish-1.0-%s.egg-info" % egg_tag, "PKG-INFO"), "Metadata-Version: 1.1\nName: vanish\nVersion: 1.0\n")
    install("listdir", W("site", "vanish-1.0-%s.egg-info" % egg_tag))
elif scenario == "path-dir":
    write(W("vanish-dir", "vanish-1.0.dist-info", "METADATA"), "Metadata-Version: 2.1\nName: vanish\nVersion: 1.0\n")
    extra.append(W("vanish-dir"))
    install("listdir", W("vanish-dir"))
elif scenario == "dir-egg":
    egg = W("vanish-1.0-%s.egg" % egg_tag)
    write(os.path.join(egg, "EGG-INFO", "PKG-INFO"), "Metadata-Version: 1.1\nName: vanish\nVersion: 1.0\n")
    extra.append(egg)
    install("access", egg)
elif scenario in ("zip-egg", "zip-egg-stat", "zip-egg-open"):
    egg = W("vanish-1.0-%s.egg" % egg_tag)
    make_zip_egg(egg)
    extra.append(egg)
elif scenario == "nested-egg":
    egg = W("site", "vanish-1.0-%s.egg" % egg_tag)
    make_zip_egg(egg)
    install("stat", egg)
elif scenario == "ns-meta":
    info = W("site", "vanish-1.0-%s.egg-info" % egg_tag)
    write(os.path.join(info, "PKG-INFO"), "Metadata-Version: 1.1\nName: vanish\nVersion: 1.0\n")
    write(os.path.join(info, "namespace_packages.txt"), "vanishns\n")
    install("open", os.path.join(info, "namespace_packages.txt"))
    hooks["open-remove"] = info
elif scenario == "egg-link":
    write(W("proj", "vanish.egg-info", "PKG-INFO"), "Metadata-Version: 1.1\nName: vanish\nVersion: 1.0\n")
    write(W("site", "vanish.egg-link"), W("proj") + "\n.\n")
    install("open", W("site", "vanish.egg-link"))

sys.path[:] = [root, site] + extra + sys.path
if scenario in ("zip-egg", "zip-egg-stat", "zip-egg-open"):
    import vanishmod          # the zipimporter for the egg is now cached in sys.path_importer_cache
    if scenario == "zip-egg":
        os.remove(egg)        # "pip uninstall" removes it before pkg_resources is imported
        out["fired"] = True
    else:
        install("stat" if scenario == "zip-egg-stat" else "stat-after", egg)

if modname.startswith("pip."):
    # pip's own __init__ (imported first) needs the user site, unset under -S
    import site
    if getattr(site, "USER_BASE", None) is None:
        site.USER_BASE = W("userbase")
    if getattr(site, "USER_SITE", None) is None:
        site.USER_SITE = W("userbase", "site-packages")

phase = "import"
try:
    __import__(modname)
    pr = sys.modules[modname]
    keys = set(d.key for d in pr.working_set)
    # a full scan (only=False: nested eggs, .egg-link files), as Environment() and
    # WorkingSet.require() of a script with __requires__ do
    phase = "Environment()"
    env = pr.Environment(sys.path)
    keys.update(k for k in env)
    out["result"] = "survived"
    out["vanish_present"] = "vanish" in keys
    out["keep_present"] = "keep" in keys
except BaseException as e:
    out["phase"] = phase
    tb = traceback.extract_tb(sys.exc_info()[2])
    where = [f for f in tb if "pkg_resources" in f[0]]
    f = where[-1] if where else tb[-1]
    out["result"] = "crash"
    out["error"] = "%s: %s" % (type(e).__name__, e)
    out["where"] = "%s:%s in %s: %s" % (os.path.basename(os.path.dirname(f[0])) + "/" + os.path.basename(f[0]), f[1], f[2], (f[3] or "").strip())
sys.stdout.write("RESULT " + json.dumps(out) + "\n")
'''


def resolve_python(spec: str) -> str:
    if os.path.sep in spec or spec.startswith("python"):
        return shutil.which(spec) or spec
    sys.path.insert(0, os.path.dirname(HERE))
    from patcher.pythons import pyenv_python

    found = pyenv_python(spec)
    if found is None:
        raise SystemExit(f"no pyenv version matching {spec!r}")
    return found


#: where a copy lies in an import root, and the module it is imported as (packages, then the
#: single modules of setuptools < 8 and pip < 6.0.4)
COPIES = (
    ("pkg_resources/__init__.py", "pkg_resources"),
    ("pip/_vendor/pkg_resources/__init__.py", "pip._vendor.pkg_resources"),
    ("pkg_resources.py", "pkg_resources"),
    ("pip/_vendor/pkg_resources.py", "pip._vendor.pkg_resources"),
)
SDISTS = (".tar.gz", ".tgz", ".tar.bz2", ".zip")


def _unpack_sdist(release: str, root: str) -> None:
    """An sdist's files (no code of it run), its top directory as the import root."""
    import tarfile

    tmp = root + ".sdist"
    if release.endswith(".zip"):
        with zipfile.ZipFile(release) as zf:
            zf.extractall(tmp)
    else:
        with tarfile.open(release) as tf:
            if hasattr(tarfile, "data_filter"):
                tf.extractall(tmp, filter="data")
            else:
                tf.extractall(tmp)
    (top,) = os.listdir(tmp)
    os.rename(os.path.join(tmp, top), root)
    os.rmdir(tmp)


def prepare(release: str, dest: str) -> tuple[str, str, str]:
    """Copy the release (a wheel, an sdist or an import root) into dest; return (import root,
    module name, the copy's file)."""
    root = os.path.join(dest, "root")
    if os.path.isdir(release):
        shutil.copytree(release, root)
    elif release.endswith(SDISTS):
        os.makedirs(dest, exist_ok=True)
        _unpack_sdist(release, root)
    else:
        with zipfile.ZipFile(release) as zf:
            zf.extractall(root)
    for rel, mod in COPIES:
        if os.path.exists(os.path.join(root, rel)):
            return root, mod, os.path.join(root, rel)
    raise SystemExit(f"{release}: no pkg_resources in it")


def patch_copy(init: str, patches: str) -> list[str]:
    """Apply the patch set to init (CRLF kept as the engine does: convert, patch, convert back)."""
    import check_patchset as cp  # puts the patcher package of this checkout on sys.path

    from patcher.engine.patchset import load_patchset

    with open(init, "rb") as f:
        data = f.read()
    crlf = b"\r\n" in data
    series = load_patchset(patches).patches
    tmp = tempfile.mkdtemp(prefix="vanish-patch-")
    try:
        store = os.path.join(tmp, "store")
        diffdir = os.path.join(tmp, "diffs")
        out = os.path.join(tmp, "out")
        for d in (store, diffdir, out):
            os.makedirs(d)
        for patch in series:
            for var in patch.variants:
                with open(os.path.join(diffdir, var.id.replace("/", "__") + ".diff"), "w") as f:
                    f.write(cp.read_variant(var)[2])
        sha, _ = cp._store(data, store)
        res = cp.apply_series(sha, store, series, diffdir, out)
        picked = [p.variant.id if p.variant else f"{p.patch}=NONE" for p in res.picks]
        assert res.patched is not None  # apply_series always leaves the file, patched or not
        with open(res.patched, "rb") as f:
            new = f.read()
        if crlf:
            new = new.replace(b"\n", b"\r\n")
        with open(init, "wb") as f:
            f.write(new)
        for pyc in ("__pycache__",):
            shutil.rmtree(os.path.join(os.path.dirname(init), pyc), ignore_errors=True)
        return picked
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(python: str, root: str, mod: str, scenario: str) -> Outcome:
    work = tempfile.mkdtemp(prefix="vanish-")
    try:
        script = os.path.join(work, "child.py")
        with open(script, "w") as f:
            f.write(CHILD)
        scen = os.path.join(work, "s")
        os.mkdir(scen)
        p = subprocess.run(
            [python, "-S", "-B", "-W", "ignore", script, root, mod, scenario, scen],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=work,
        )
        for line in p.stdout.splitlines():
            if line.startswith("RESULT "):
                outcome: Outcome = json.loads(line[7:])
                return outcome
        return {"scenario": scenario, "result": "harness-error", "error": (p.stderr or p.stdout).strip()[-400:]}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def verdict(r: Outcome) -> str:
    if r.get("result") == "crash":
        return f"CRASH in {r.get('phase')}: {r['error']}  @ {r['where']}"
    if r.get("result") != "survived":
        return f"? {r.get('error', '')}"
    if not r.get("fired"):
        return "ok (vanish not reached)"
    bits = "ok, vanished dist absent" if not r.get("vanish_present") else "ok BUT vanished dist still listed"
    if not r.get("keep_present"):
        bits += ", and 'keep' LOST"
    return bits


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("release", help="wheel, sdist or import root directory")
    ap.add_argument(
        "--python", action="append", default=[], help="pyenv version (e.g. 2.7) or interpreter path; repeatable"
    )
    ap.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS + EXTRA_SCENARIOS,
        help="default: all" + (f" but {', '.join(EXTRA_SCENARIOS)}" if EXTRA_SCENARIOS else ""),
    )
    ap.add_argument("--patched", action="store_true", help="also run on a copy with the patch set applied")
    ap.add_argument("--only-patched", action="store_true", help="run only the patched copy")
    ap.add_argument("--patches", default=os.path.join(os.path.dirname(HERE), "patches"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    pythons = [resolve_python(p) for p in (args.python or [sys.executable])]
    scenarios = args.scenario or SCENARIOS
    status = 0
    tmp = tempfile.mkdtemp(prefix="vanish-check-")
    try:
        copies: list[tuple[str, str, str, list[str] | None]] = []  # (label, import root, module, variants picked)
        if not args.only_patched:
            root, mod, _copy = prepare(args.release, os.path.join(tmp, "unpatched"))
            copies.append(("unpatched", root, mod, None))
        if args.patched or args.only_patched:
            root, mod, copy = prepare(args.release, os.path.join(tmp, "patched"))
            copies.append(("patched", root, mod, patch_copy(copy, args.patches)))
        results: list[Outcome] = []
        for python in pythons:
            for label, root, mod, picked in copies:
                if picked is not None and python == pythons[0]:
                    print(f"# patched with: {' '.join(picked)}")
                for scen in scenarios:
                    r = run(python, root, mod, scen)
                    r["copy"] = label
                    results.append(r)
                    if not args.json:
                        print(
                            f"{os.path.basename(args.release.rstrip('/'))} py{r.get('python', '?'):8} {label:9} {scen:13} {verdict(r)}"
                        )
                    if label == "patched" and r.get("result") != "survived":
                        status = 1
        if args.json:
            print(json.dumps(results, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
