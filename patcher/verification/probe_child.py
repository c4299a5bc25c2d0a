# The code ``verify`` runs inside the target interpreter (Python 2.7 to 3.x): not imported by the
# tool, read as package data (importlib.resources) and passed to ``python -S -B -E -c``.
#
# argv[1]: a JSON object (see patcher/verification/run.py, ``_config``). It imports the copy under test
# from the scratch directories verify built, watches every file-system call the copy makes on
# the victims' files, and, by ``mode``:
#   list   nothing vanishes: what the copy lists (distributions, versions, entry points)
#   count  nothing vanishes: the calls the copy makes on victims' files (the fault points)
#   race   the victim named ``race`` is deleted at the first call the copy makes on its files
#   fault  at the ``fault``-th call the copy makes on victims' files, that victim is deleted
#          (the call, and every later one on it, fails with ENOENT)
# then prints one line: ``PKGRES-PATCHER-VERIFY <json>`` (escaped exceptions, listing, calls).
#   serve  a fork server for the fault sweep: imports the standard library modules listed in
#          ``preload`` (what a ``count`` run reported in ``stdlib``), then for each line of
#          stdin (a JSON config as above) forks a fresh process that runs it, waits for it
#          and prints ``PKGRES-PATCHER-DONE <status>``. Each run is still a process of its
#          own; only the interpreter's start-up and the standard library's import are shared.
#
# A call is the copy's when the nearest frame outside the standard library (os, posixpath,
# zipfile, zipimport, ...) belongs to the copy's module. Python >= 3.8: ``open``, ``os.listdir``,
# ``os.scandir`` are seen by an audit hook (so C-level opens, zipimport's included, are seen);
# ``os.stat``, ``os.lstat``, ``os.access`` have no audit event and are wrapped. Older Pythons:
# all of them are wrapped (zipimport's own reads in C are then not seen).
import json
import os
import shutil
import sys
import traceback

MARK = "PKGRES-PATCHER-VERIFY "
DONE = "PKGRES-PATCHER-DONE "
clean = [p for p in sys.path if p]
import site  # noqa: E402  (on Python 2 this adds the interpreter's own site-packages even under -S)

STDLIB = os.path.dirname(os.path.abspath(os.__file__))


def setup(config):
    global CONFIG, out, MODULE, MODE, VICTIMS, ROOTS, state
    CONFIG = config
    out = {"python": "%d.%d" % sys.version_info[:2], "escapes": [], "calls": [], "fired": [], "fault": None}
    if "cwd" in CONFIG:
        os.chdir(CONFIG["cwd"])
    if "egg_cache" in CONFIG:
        os.environ["PYTHON_EGG_CACHE"] = CONFIG["egg_cache"]
    sys.path[:] = list(CONFIG["paths"]) + clean
    site.addsitedir(CONFIG["site"])
    for extra in CONFIG.get("extra_paths", []):
        sys.path.append(extra)
    if getattr(site, "USER_BASE", None) is None:  # pip's __init__ wants them; unset under -S
        site.USER_BASE = CONFIG["userbase"]
    if getattr(site, "USER_SITE", None) is None:
        site.USER_SITE = os.path.join(CONFIG["userbase"], "site-packages")

    # A running program has already searched every path entry: the import system holds an
    # importer (a zipimporter for an egg) for each, as in the 2016 report.
    for name in CONFIG.get("preimport", []):
        try:
            __import__(name)
        except Exception:
            pass
    try:
        import pkgres_patcher_no_such_module  # noqa: F401
    except ImportError:
        pass

    MODULE = CONFIG["module"]
    MODE = CONFIG["mode"]
    VICTIMS = [(name, os.path.abspath(root)) for name, roots in sorted(CONFIG["victims"].items()) for root in roots]
    ROOTS = {}
    for _name, _root in VICTIMS:
        ROOTS.setdefault(_name, []).append(_root)
    state = {"busy": False, "count": 0, "fired": set()}


def fspath(path):
    if hasattr(os, "fspath") and path is not None and not isinstance(path, (str, bytes, int)):
        try:
            path = os.fspath(path)
        except TypeError:
            return None
    if isinstance(path, bytes) and sys.version_info[0] > 2:
        path = os.fsdecode(path)
    if isinstance(path, int) or path is None:
        return None
    try:
        return os.path.abspath(path)
    except Exception:
        return None


def victim_of(path):
    path = fspath(path)
    if path is None:
        return None, None
    for name, root in VICTIMS:
        if path == root or path.startswith(root + os.sep):
            return name, path
    return None, None


def by_copy():
    """Whether the running call comes from the copy's code (see the top of this file)."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename or ""
        if filename == "<string>" or (filename.startswith("<frozen ") and "importlib" not in filename):
            frame = frame.f_back
            continue
        if filename.startswith(STDLIB + os.sep) and "-packages" not in filename:
            frame = frame.f_back
            continue
        name = frame.f_globals.get("__name__") or ""
        return name == MODULE or name.startswith(MODULE + ".")
    return False


def remove(name):
    for root in ROOTS.get(name, []):
        if os.path.isdir(root) and not os.path.islink(root):
            shutil.rmtree(root)
        elif os.path.lexists(root):
            os.unlink(root)


def seen(call, path):
    """One call: counted; in ``race`` mode it may delete its victim first, in ``fault`` mode fail."""
    if state["busy"]:
        return
    name, full = victim_of(path)
    if name is None or not by_copy():
        return
    state["busy"] = True
    try:
        state["count"] += 1
        rel = (
            name
            + os.sep
            + os.path.relpath(full, [r for r in ROOTS[name] if full == r or full.startswith(r + os.sep)][0])
        )
        if MODE == "count":
            out["calls"].append([call, rel.rstrip(os.sep + ".")])
        elif MODE == "race" and name == CONFIG["race"] and name not in state["fired"]:
            state["fired"].add(name)
            out["fired"].append(name)
            remove(name)
        elif MODE == "fault" and state["count"] == CONFIG["fault"]:
            # the distribution goes right now, as an uninstall in another process would take
            # it: this call fails with ENOENT for real, and so does every later one
            out["fault"] = [call, rel.rstrip(os.sep + "."), name]
            remove(name)
    finally:
        state["busy"] = False


def wrap(module, attr, call):
    real = getattr(module, attr, None)
    if real is None:
        return

    def wrapper(*args, **kwargs):
        seen(call, args[0] if args else kwargs.get("path", kwargs.get("file", ".")))
        return real(*args, **kwargs)

    setattr(module, attr, wrapper)


def install():
    wrap(os, "stat", "stat")
    wrap(os, "lstat", "lstat")
    wrap(os, "access", "access")
    if hasattr(sys, "addaudithook"):
        events = {"open": "open", "os.listdir": "listdir", "os.scandir": "scandir"}

        def hook(event, args):
            call = events.get(event)
            if call is not None:
                seen(call, args[0] if args else ".")

        sys.addaudithook(hook)
        return
    wrap(os, "listdir", "listdir")
    wrap(os, "scandir", "scandir")
    try:
        import builtins
    except ImportError:
        import __builtin__ as builtins
    import io

    wrap(builtins, "open", "open")
    wrap(io, "open", "open")


def where(tb):
    frames = traceback.extract_tb(tb)
    mine = [f for f in frames if "pkg_resources" in f[0]]
    f = mine[-1] if mine else frames[-1]
    return "%s:%s in %s" % (os.path.basename(os.path.dirname(f[0])) + "/" + os.path.basename(f[0]), f[1], f[2])


def escaped(phase, exc_info):
    error = exc_info[1]
    out["escapes"].append(
        {
            "phase": phase,
            "type": type(error).__name__,
            "message": str(error)[:300],
            "where": where(exc_info[2]),
        }
    )


def run(config):
    setup(config)
    install()
    pr = None
    try:
        __import__(MODULE)
        pr = sys.modules[MODULE]
    except Exception:
        escaped("import", sys.exc_info())

    listing = {}

    def note(dist):
        eps = []
        for group, entries in sorted(dist.get_entry_map().items()):
            for ep_name in sorted(entries):
                eps.append("%s:%s" % (group, str(entries[ep_name])))
        listing[dist.key] = [dist.version, eps]

    if pr is not None:
        ws = env = None
        phases = [
            ("WorkingSet()", lambda: pr.WorkingSet()),
            ("Environment()", lambda: pr.Environment()),
        ]
        for phase, make in phases:
            try:
                made = make()
                if phase == "WorkingSet()":
                    ws = made
                else:
                    env = made
            except Exception:
                escaped(phase, sys.exc_info())
        for entry in list(sys.path):
            try:
                found = list(pr.find_distributions(entry))
            except Exception:
                escaped("find_distributions(%s)" % os.path.basename(entry), sys.exc_info())
                continue
            for dist in found:
                try:
                    note(dist)
                except Exception:
                    escaped("listing", sys.exc_info())
        try:
            pr.require(CONFIG["require"])
        except Exception:
            info = sys.exc_info()
            fault = out["fault"]
            absent = type(info[1]).__name__ == "DistributionNotFound"
            if not (absent and fault is not None and fault[2] == CONFIG["require"]):
                escaped("require(%s)" % CONFIG["require"], info)
        for source in (ws, env):
            if source is None:
                continue
            try:
                dists = list(source) if source is ws else [d for key in source for d in source[key]]
                for dist in dists:
                    note(dist)
                if source is ws:
                    list(ws.iter_entry_points("console_scripts"))
            except Exception:
                escaped("entry points", sys.exc_info())

    out["listing"] = listing
    out["count"] = state["count"]
    if MODE == "count":
        out["stdlib"] = stdlib_modules()
    sys.stdout.write(MARK + json.dumps(out, sort_keys=True) + "\n")
    sys.stdout.flush()


def stdlib_modules():
    """The standard library modules loaded now (a fork server imports them once)."""
    names = []
    for name, module in list(sys.modules.items()):
        filename = getattr(module, "__file__", None) or ""
        if filename.startswith(STDLIB + os.sep) and "-packages" not in filename:
            names.append(name)
    return sorted(names)


def serve(config):
    for name in config.get("preload", []):
        try:
            __import__(name)
        except Exception:
            pass
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        pid = os.fork()
        if pid == 0:
            try:
                run(json.loads(line))
            finally:
                sys.stdout.flush()
                os._exit(0)
        status = os.waitpid(pid, 0)[1]
        sys.stdout.write(DONE + str(status) + "\n")
        sys.stdout.flush()


FIRST = json.loads(sys.argv[1])
if FIRST["mode"] == "serve":
    serve(FIRST)
else:
    run(FIRST)
