#!/usr/bin/env python3
"""Check the patch set against every upstream copy of pkg_resources.

For every wheel (and sdist) in the cache, the copy of ``pkg_resources/__init__.py`` is
extracted (setuptools' own, pip's vendored one, pkg-resources-backport's), CRLF is turned
into LF and copies are de-duplicated by sha256.  Then, as the engine does, for each patch
in series order the first variant whose hunks all fit (GNU ``patch -F0``: exact or line
offset, never fuzz) is picked and applied, and the next patch is tried on the result.

Checked per release: every patch has a fitting variant, no hunk needs fuzz, the release is
within the picked variant's ``Upstream-Releases``, and the patched file byte-compiles with
the oldest and the newest interpreter (among ``pyenv versions``) that the release's
``Requires-Python`` allows.

The patch set is read with the package's own parser (``patcher.engine.patchset``, from this checkout);
a malformed one is an error (exit status 1, its message on stderr).  On top of it, the patch
files are linted: LF line endings, the DEP-3 fields in canonical order (Upstream-Releases last),
only known projects in Upstream-Releases, diff headers ``a/__init__.py`` and ``b/__init__.py``.

Usage: check_patchset.py [--patches DIR] [--wheels DIR] [--sdists DIR] [-v] [--overlaps] [--keep DIR]
Exit status 0 when every required release passes, 1 otherwise.
Needs: Python 3.9+, ``packaging`` and ``unidiff`` (for patcher), GNU patch, pyenv.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import email.parser
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

# the patcher package of this checkout, installed or not
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from patcher.engine.hunks import Mismatch, place_hunks
from patcher.engine.patchset import (
    DEP3_FIELDS,
    RANGES_FIELD,
    SPOT_FIELD,
    Patch,
    Variant,
    _split_header,
    load_patchset,
)
from patcher.errors import PatchSetError

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_PATCHES = os.path.join(ROOT, "patches")
CACHE = os.path.expanduser("~/.cache/pkgres-dev")
PATCH = shutil.which("patch") or "/usr/bin/patch"

#: releases the patch set must fit (name -> specifier); others are reported, not required
REQUIRED = {
    "setuptools": SpecifierSet(">=0.7"),
    "pip": SpecifierSet(">=1.5"),
    "pkg-resources-backport": SpecifierSet(">=0"),
}

#: where a release keeps its copy: a package, or (setuptools < 17.1, pip < 6.0.4) a single module
_MEMBERS = (
    "pkg_resources/__init__.py",
    "pip/_vendor/pkg_resources/__init__.py",
    "pkg_resources.py",
    "pip/_vendor/pkg_resources.py",
)


# --- upstream releases ---------------------------------------------------------------------


@dataclass
class Release:
    name: str  # canonical project name
    version: Version
    artifact: str
    sha: str | None = None  # of the LF-normalised copy; None: no pkg_resources package
    crlf: bool = False
    vendor: Version | None = None  # setuptools version pip vendors (vendor.txt)
    requires_python: str | None = None
    note: str = ""

    @property
    def label(self) -> str:
        return f"{self.name}-{self.version}"

    def identities(self) -> list[tuple[str, Version]]:
        ids = [(self.name, self.version)]
        if self.vendor is not None:
            ids.append(("setuptools", self.vendor))
        return ids

    @property
    def required(self) -> bool:
        spec = REQUIRED.get(self.name)
        return spec is not None and spec.contains(self.version, prereleases=True)


def _vendor_txt(data: bytes) -> Version | None:
    for raw in data.decode("utf-8", "replace").splitlines():
        m = re.match(r"\s*setuptools\s*==\s*([^\s#;]+)", raw)
        if m:
            return Version(m.group(1))
    return None


def _requires_python(metadata: bytes | None) -> str | None:
    if not metadata:
        return None
    msg = email.parser.BytesParser().parsebytes(metadata, headersonly=True)
    value = msg.get("Requires-Python")
    return str(value).strip() if value else None


def _store(data: bytes, store: str) -> tuple[str, bool]:
    crlf = b"\r\n" in data
    data = data.replace(b"\r\n", b"\n")
    sha = hashlib.sha256(data).hexdigest()
    path = os.path.join(store, sha + ".py")
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
    return sha, crlf


def _name_version(filename: str) -> tuple[str, Version]:
    base = os.path.basename(filename)
    for ext in (".whl", ".tar.gz", ".zip", ".tar.bz2"):
        if base.endswith(ext):
            base = base[: -len(ext)]
            break
    name, _, rest = base.partition("-")
    return canonicalize_name(name), Version(rest.split("-")[0])


def read_wheel(path: str, store: str) -> Release:
    name, version = _name_version(path)
    rel = Release(name, version, os.path.basename(path))
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        # the release's own metadata, not that of a package it vendors (setuptools ships ~16)
        meta = sorted(n for n in names if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
        rel.requires_python = _requires_python(zf.read(meta[0]) if meta else None)
        if "pip/_vendor/vendor.txt" in names:
            rel.vendor = _vendor_txt(zf.read("pip/_vendor/vendor.txt"))
        member = next((m for m in _MEMBERS if m in names), None)
        if member is None:
            other = sorted(n for n in names if "pkg_resources" in n and "/tests/" not in n)
            rel.note = "no pkg_resources package" + (f" ({other[0]})" if other else "")
            return rel
        rel.sha, rel.crlf = _store(zf.read(member), store)
    return rel


def read_sdist(path: str, store: str) -> Release:
    name, version = _name_version(path)
    rel = Release(name, version, os.path.basename(path))
    wanted = (*_MEMBERS, "PKG-INFO", "pip/_vendor/vendor.txt")
    members: dict[str, bytes] = {}  # by path below the sdist's top directory
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            for n in zf.namelist():
                if n.partition("/")[2] in wanted:
                    members[n.partition("/")[2]] = zf.read(n)
    else:
        with tarfile.open(path) as tf:
            for m in tf.getmembers():
                f = tf.extractfile(m) if m.isfile() and m.name.partition("/")[2] in wanted else None
                if f is not None:
                    members[m.name.partition("/")[2]] = f.read()
    rel.requires_python = _requires_python(members.get("PKG-INFO"))
    if "pip/_vendor/vendor.txt" in members:
        rel.vendor = _vendor_txt(members["pip/_vendor/vendor.txt"])
    member = next((m for m in _MEMBERS if m in members), None)
    if member is None:
        rel.note = "no pkg_resources"
        return rel
    rel.sha, rel.crlf = _store(members[member], store)
    return rel


def collect(wheels: str, sdists: str, store: str) -> list[Release]:
    found: dict[tuple[str, Version], Release] = {}
    for directory, reader in ((wheels, read_wheel), (sdists, read_sdist)):
        if not os.path.isdir(directory):
            continue
        for fn in sorted(os.listdir(directory)):
            if not fn.endswith((".whl", ".tar.gz", ".zip", ".tar.bz2")):
                continue
            try:
                name, version = _name_version(fn)
            except InvalidVersion:
                continue
            if name not in REQUIRED or (name, version) in found:
                continue  # a wheel wins over an sdist
            try:
                found[(name, version)] = reader(os.path.join(directory, fn), store)
            except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as exc:
                rel = Release(name, version, fn, note=f"unreadable: {exc}")
                found[(name, version)] = rel
    return sorted(found.values(), key=lambda r: (r.name, r.version))


# --- the patch set ---------------------------------------------------------------------------
# Read with the package's own parser (patcher.engine.patchset): series order, variants, DEP-3 header,
# Upstream-Releases ranges and diffs.  Below is only this tool's lint of the patch files, on top
# of the parsed variants: what the parser accepts but the patch set does not write.

#: the header fields in the order every variant writes them, Upstream-Releases last (after
#: ``Spot``, in a variant that declares its spot absent)
HEADER_FIELDS = [*DEP3_FIELDS, RANGES_FIELD]
ABSENT_HEADER_FIELDS = [*DEP3_FIELDS, SPOT_FIELD, RANGES_FIELD]
#: the diff headers of the one file every variant patches
DIFF_HEADERS = "--- a/__init__.py\n+++ b/__init__.py\n"


def covers(var: Variant, rel: Release) -> bool:
    """Whether the release (or the setuptools pip vendors) is within the variant's Upstream-Releases."""
    return var.in_range((name, str(version)) for name, version in rel.identities()) is True


def read_variant(var: Variant) -> tuple[bytes, str, str]:
    """The variant file's raw bytes, its DEP-3 header and its diff, split where the parser splits them."""
    with open(var.path, "rb") as f:
        raw = f.read()
    header, diff = _split_header(raw.decode("utf-8"), var.path)
    return raw, header, diff


#: the first releases whose Pythons can all be had here: before them, releases also ran on
#: Python 2.6 and 3.2/3.3, which pyenv cannot build, so their syntax is checked by this lint
MODULE_ERA_ENDS = {"setuptools": Version("18.0"), "pip": Version("8.0")}
#: what Python 2.6 or 3.2 cannot compile (set literals and comprehensions, dict comprehensions,
#: a with of several items, u'' strings), and later syntax: conservative, a dict literal counts
_NEWER_SYNTAX = re.compile(r"\{[^}]|\bu['\"]|\bnonlocal\b|\byield from\b|\b(?:f|fr|rf)['\"]|:=|\basync\b|\bawait\b|->")
_MULTI_WITH = re.compile(r"\bwith\b[^:]*,")  # on the line with its parentheses emptied


#: before setuptools 2.0, releases also claimed Python 2.4 and 2.5: no ``with`` (2.5 needs a
#: __future__ import), no ``except ... as``, no conditional expression
PY24_ERA_ENDS = {"setuptools": Version("2.0")}
_PY24_SYNTAX = re.compile(r"\bwith\b|\bexcept\b.*\bas\b|=.*\bif\b.*\belse\b")


def reaches_module_era(var: Variant, ends: dict[str, Version] = MODULE_ERA_ENDS) -> bool:
    """Whether a declared range admits a release older than the era's end."""
    for req in var.ranges:
        end = ends.get(canonicalize_name(req.name))
        floors = [Version(s.version) for s in req.specifier if s.operator in (">=", ">", "==", "~=")]
        if end is not None and (not floors or min(floors) < end):
            return True
    return False


def newer_syntax(var: Variant) -> list[str]:
    """Added lines (comments aside) that Python 2.6 or 3.2 (2.4 before setuptools 2.0) may not compile."""
    found = []
    for hunk in var.hunks():
        for line in hunk.lines:
            code = line.text.decode("utf-8").split("#", 1)[0]
            flat = code
            while re.search(r"\([^()]*\)", flat):
                flat = re.sub(r"\([^()]*\)", "", flat)
            if line.kind != "+":
                continue
            if _NEWER_SYNTAX.search(code) or _MULTI_WITH.search(flat):
                found.append(code.strip())
            elif reaches_module_era(var, PY24_ERA_ENDS) and _PY24_SYNTAX.search(code):
                found.append(code.strip())
    return found


def lint_variant(var: Variant, raw: bytes, header: str, diff: str) -> list[str]:
    errors: list[str] = []
    if reaches_module_era(var):
        errors.extend(f"may not compile on the module era's oldest Pythons: {code!r}" for code in newer_syntax(var))
    if b"\r" in raw:
        errors.append("not LF line endings")
    # the parser also takes a header that runs straight into "--- a/...": the patch set writes "---"
    if raw.decode("utf-8").splitlines()[len(header.splitlines())] != "---":
        errors.append("no '---' line ending the header")
    # the parser keeps the fields, not their order: read the field names off the header's lines
    keys = [line.partition(":")[0] for line in header.splitlines() if not line[:1].isspace()]
    fields = ABSENT_HEADER_FIELDS if var.spot_absent else HEADER_FIELDS
    if keys != fields:
        errors.append(f"header fields {keys} != {fields}")
    for req in var.ranges:
        if canonicalize_name(req.name) not in REQUIRED:
            errors.append(f"unknown project in Upstream-Releases: {req.name}")
    if DIFF_HEADERS not in diff or any(fp.path != "__init__.py" for fp in var.files):
        errors.append("diff headers are not a/__init__.py, b/__init__.py")
    return errors


# --- applying --------------------------------------------------------------------------------

_OFFSET = re.compile(r"Hunk #(\d+) succeeded at (\d+) \(offset (-?\d+) lines?\)\.")
_FUZZ = re.compile(r"Hunk #(\d+) succeeded at (\d+)(?: \(offset (-?\d+) lines?\))? with fuzz (\d+)")


@dataclass
class Fit:
    ok: bool
    offsets: list[int]  # per non-exact hunk offset
    fuzz: bool
    output: str


def try_patch(workdir: str, diff_file: str, dry_run: bool, fuzz: int = 0) -> Fit:
    cmd = [PATCH, "-p1", f"-F{fuzz}", "-N", "--no-backup-if-mismatch", "-r", "-", "-d", workdir, "-i", diff_file]
    if dry_run:
        cmd.append("--dry-run")
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    out = p.stdout + p.stderr
    fuzzed = bool(_FUZZ.search(out))
    offsets = [int(m.group(3)) for m in _OFFSET.finditer(out)]
    bad = p.returncode != 0 or "FAILED" in out or "Reversed" in out or "malformed" in out
    return Fit(not bad and not fuzzed, offsets, fuzzed, out.strip())


def anchor_offsets(target: str, var: Variant) -> list[int] | None:
    """Offsets of a ``Spot: absent`` variant's context hunks in the file, exactly; None if not found."""
    with open(target, "rb") as f:
        placed = place_hunks(f.read(), var.hunks())
    return None if isinstance(placed, Mismatch) else [p.offset for p in placed if p.offset]


@dataclass
class Pick:
    patch: str
    variant: Variant | None
    offsets: list[int]
    note: str = ""


@dataclass
class Result:
    sha: str
    picks: list[Pick]
    patched: str | None  # path of the patched file


def apply_series(sha: str, store: str, series: tuple[Patch, ...], diffdir: str, outdir: str) -> Result:
    work = tempfile.mkdtemp(prefix="chk-", dir=outdir)
    target = os.path.join(work, "__init__.py")
    shutil.copyfile(os.path.join(store, sha + ".py"), target)
    picks: list[Pick] = []
    for patch in series:
        chosen: Pick | None = None
        fuzzed = []
        for var in patch.variants:
            if var.spot_absent:  # nothing for patch(1) to apply: its anchor is found where it is
                anchor = anchor_offsets(target, var)
                if anchor is None:
                    continue
                chosen = Pick(patch.name, var, anchor, "not needed")
                break
            dfile = os.path.join(diffdir, var.id.replace("/", "__") + ".diff")
            fit = try_patch(work, dfile, dry_run=True)
            if fit.fuzz:
                fuzzed.append(var.name)
            if not fit.ok:
                continue
            real = try_patch(work, dfile, dry_run=False)
            if not real.ok:
                chosen = Pick(patch.name, None, [], f"{var.name}: dry run fitted but applying failed: {real.output}")
            else:
                chosen = Pick(patch.name, var, real.offsets)
            break
        if chosen is None:
            note = "no variant fits"
            for var in patch.variants:  # say which would fit if fuzz were allowed (it is not)
                dfile = os.path.join(diffdir, var.id.replace("/", "__") + ".diff")
                if try_patch(work, dfile, dry_run=True, fuzz=3).fuzz:
                    fuzzed.append(var.name)
            if fuzzed:
                note += f" (would need fuzz: {', '.join(fuzzed)})"
            chosen = Pick(patch.name, None, [], note)
        picks.append(chosen)
    final = os.path.join(outdir, sha + ".patched.py")
    shutil.move(target, final)
    shutil.rmtree(work)
    return Result(sha, picks, final)


# --- compiling -------------------------------------------------------------------------------

_COMPILER = r"""
import sys
bad = []
for fn in sys.argv[1:]:
    try:
        with open(fn, 'rb') as f:
            src = f.read()
        compile(src, fn, 'exec', 0, True)
    except SyntaxError as e:
        bad.append('%s: %s' % (fn, e))
for b in bad:
    sys.stdout.write(b + '\n')
"""


def interpreters() -> list[tuple[Version, str]]:
    found: list[tuple[Version, str]] = []
    try:
        out = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return found
    for line in out.split():
        try:
            v = Version(line)
        except InvalidVersion:
            continue
        prefix = subprocess.run(["pyenv", "prefix", line], capture_output=True, text=True, check=False).stdout.strip()
        exe = os.path.join(prefix, "bin", "python")
        if os.path.exists(exe):
            found.append((v, exe))
    return sorted(found)


def compile_many(exe: str, files: list[str]) -> dict[str, str]:
    """Return {file: error} for files that do not compile with exe."""
    errors: dict[str, str] = {}
    for i in range(0, len(files), 200):
        chunk = files[i : i + 200]
        p = subprocess.run([exe, "-W", "ignore", "-c", _COMPILER, *chunk], capture_output=True, text=True, check=False)
        if p.returncode != 0:
            for f in chunk:
                errors[f] = f"compiler crashed: {p.stderr.strip()[-200:]}"
        for line in p.stdout.splitlines():
            fn, _, err = line.partition(": ")
            errors[fn] = err
    return errors


def allowed(pythons: list[tuple[Version, str]], requires: str | None) -> list[tuple[Version, str]]:
    if not requires:
        return pythons
    try:
        spec = SpecifierSet(requires)
    except InvalidSpecifier:
        return pythons
    # Requires-Python compares release versions: use major.minor.micro of the interpreter
    return [(v, e) for v, e in pythons if spec.contains(v, prereleases=True)]


# --- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--patches", default=DEFAULT_PATCHES)
    ap.add_argument("--wheels", default=os.path.join(CACHE, "wheels"))
    ap.add_argument("--sdists", default=os.path.join(CACHE, "sdists"))
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per release")
    ap.add_argument("--keep", metavar="DIR", help="keep patched files in DIR")
    ap.add_argument(
        "--overlaps",
        action="store_true",
        help="also list, per variant, the releases it would fit on its own but is not picked for "
        "(shadowed by an earlier variant: informational)",
    )
    args = ap.parse_args(argv)

    failures: list[str] = []
    diffs: dict[str, str] = {}  # variant id -> its diff, header removed
    try:
        series = load_patchset(args.patches).patches
        for patch in series:
            for var in patch.variants:
                raw, header, diffs[var.id] = read_variant(var)
                failures.extend(f"{var.id}: {e}" for e in lint_variant(var, raw, header, diffs[var.id]))
    except PatchSetError as exc:
        print(exc, file=sys.stderr)
        return 1

    tmp = tempfile.mkdtemp(prefix="check-patchset-")
    try:
        store = os.path.join(tmp, "orig")
        diffdir = os.path.join(tmp, "diffs")
        outdir = args.keep or os.path.join(tmp, "patched")
        for d in (store, diffdir, outdir):
            os.makedirs(d, exist_ok=True)
        for var_id, diff in diffs.items():
            with open(os.path.join(diffdir, var_id.replace("/", "__") + ".diff"), "w") as out:
                out.write(diff)

        releases = collect(args.wheels, args.sdists, store)
        shas = sorted({r.sha for r in releases if r.sha})
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 4) as pool:
            results = {r.sha: r for r in pool.map(lambda s: apply_series(s, store, series, diffdir, outdir), shas)}

        # compile: per release the oldest and newest allowed interpreter (that compiles upstream)
        pythons = interpreters()
        if not pythons:
            failures.append("no interpreters found with pyenv: cannot byte-compile")
        wanted: dict[str, set[tuple[str, str]]] = {}  # exe -> {(orig, patched)}
        plan: dict[str, list[tuple[Version, str]]] = {}
        for rel in releases:
            if rel.sha:
                cands = allowed(pythons, rel.requires_python)
                plan[rel.label] = cands
                for _, exe in cands:
                    wanted.setdefault(exe, set()).add((rel.sha, results[rel.sha].patched or ""))
        compile_errors: dict[tuple[str, str], str] = {}  # (exe, file) -> error
        for exe, pairs in wanted.items():
            files = sorted({os.path.join(store, s + ".py") for s, _ in pairs} | {p for _, p in pairs if p})
            for fn, message in compile_many(exe, files).items():
                compile_errors[(exe, fn)] = message

        # per release verdicts
        picked: dict[str, list[Release]] = {}
        n_required = n_ok = 0
        lines: list[str] = []
        skipped: list[str] = []
        for rel in releases:
            if not rel.sha:
                skipped.append(f"{rel.label}: {rel.note}")
                continue
            res = results[rel.sha]
            problems: list[str] = []
            parts: list[str] = []
            for pick in res.picks:
                if pick.variant is None:
                    problems.append(f"{pick.patch}: {pick.note}")
                    parts.append(f"{pick.patch}=NONE")
                    continue
                picked.setdefault(pick.variant.id, []).append(rel)
                off = ""
                if pick.offsets:
                    off = "@" + ",".join(f"{o:+d}" for o in pick.offsets)
                parts.append(f"{pick.variant.id}{off}")
                if not covers(pick.variant, rel):
                    problems.append(f"{pick.variant.id}: release not in Upstream-Releases")
            # ranges must not claim a release for a variant that is not picked for it
            for patch in series:
                got = next((p.variant for p in res.picks if p.patch == patch.name), None)
                for var in patch.variants:
                    if var is not got and covers(var, rel):
                        problems.append(f"{var.id}: declares this release but is not picked for it")
            # compile
            cands = plan.get(rel.label, [])
            orig = os.path.join(store, rel.sha + ".py")
            usable = [(v, e) for v, e in cands if (e, orig) not in compile_errors]
            if not cands:
                problems.append(f"no interpreter allowed by Requires-Python {rel.requires_python!r}")
            elif not usable:
                problems.append("upstream copy compiles with no allowed interpreter")
            else:
                ends = [usable[0]] if len(usable) == 1 else [usable[0], usable[-1]]
                for v, e in ends:
                    err = compile_errors.get((e, res.patched or ""))
                    if err:
                        problems.append(f"does not compile with Python {v}: {err}")
                parts.append("py" + "/".join(str(v) for v, _ in ends))
                skippedpy = [str(v) for v, e in cands if (e, orig) in compile_errors]
                if skippedpy:
                    parts.append(f"(upstream fails to compile on {','.join(skippedpy)})")
            extra = " [CRLF]" if rel.crlf else ""
            status = "ok" if not problems else ("FAIL" if rel.required else "fail (not required)")
            if rel.required:
                n_required += 1
                n_ok += not problems
                for p in problems:
                    failures.append(f"{rel.label}: {p}")
            if args.verbose or problems:
                lines.append(f"{status:5} {rel.label}{extra} [{rel.sha[:12]}]: {' '.join(parts)}")
                for p in problems:
                    lines.append(f"        {p}")

        print("\n".join(lines))
        print()
        print("Variants picked (first .. last release, count):")
        for patch in series:
            for var in patch.variants:
                rels = picked.get(var.id, [])
                if not rels:
                    print(f"  {var.id:42} never picked")
                    continue
                by_name: dict[str, list[Release]] = {}
                for r in rels:
                    by_name.setdefault(r.name, []).append(r)
                desc = "; ".join(
                    f"{n} {min(rs, key=lambda r: r.version).version}..{max(rs, key=lambda r: r.version).version} ({len(rs)})"
                    for n, rs in sorted(by_name.items())
                )
                print(f"  {var.id:42} {desc}")
        if args.overlaps:
            print("\nShadowed fits (variant fits the unpatched copy alone, but another variant is picked):")
            jobs = [(var, sha) for patch in series for var in patch.variants for sha in shas]

            def fits_alone(job: tuple[Variant, str]) -> bool:
                var, sha = job
                work = tempfile.mkdtemp(prefix="ovl-", dir=outdir)
                try:
                    shutil.copyfile(os.path.join(store, sha + ".py"), os.path.join(work, "__init__.py"))
                    return try_patch(work, os.path.join(diffdir, var.id.replace("/", "__") + ".diff"), True).ok
                finally:
                    shutil.rmtree(work, ignore_errors=True)

            with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 4) as pool:
                # keyed by variant id: a parsed Variant (its header a dict) is not hashable
                fit_alone = {(var.id, sha): ok for (var, sha), ok in zip(jobs, pool.map(fits_alone, jobs))}
            for patch in series:
                for var in patch.variants:
                    extra_rels = [
                        r
                        for r in releases
                        if r.sha
                        and fit_alone[(var.id, r.sha)]
                        and next(p.variant for p in results[r.sha].picks if p.patch == var.patch) is not var
                    ]
                    if extra_rels:
                        by: dict[str, list[Version]] = {}
                        for r in extra_rels:
                            by.setdefault(r.name, []).append(r.version)
                        desc = "; ".join(f"{n} {min(v)}..{max(v)} ({len(v)})" for n, v in sorted(by.items()))
                        print(f"  {var.id:42} {desc}")
        if skipped:
            print(f"\nSkipped ({len(skipped)} releases without a pkg_resources package), e.g.:")
            for s in skipped[:3] + (["  ..."] if len(skipped) > 4 else []) + skipped[-1:]:
                print(f"  {s}")
        n_all = sum(1 for r in releases if r.sha)
        print(
            f"\nReleases with a copy: {n_all} ({len(shas)} distinct files); required: {n_required}, "
            f"passing: {n_ok}; interpreters: {', '.join(str(v) for v, _ in pythons)}"
        )
        if failures:
            print(f"\n{len(failures)} FAILURE(S):")
            for f in failures:
                print(f"  {f}")
            return 1
        print("ALL PASS")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
