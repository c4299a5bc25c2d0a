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

Usage: check_patchset.py [--patches DIR] [--wheels DIR] [--sdists DIR] [-v] [--overlaps] [--keep DIR]
Exit status 0 when every required release passes, 1 otherwise.
Needs: Python 3.9+, ``packaging``, GNU patch, pyenv.
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
from dataclasses import dataclass, field
from typing import Optional

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PATCHES = os.path.join(os.path.dirname(HERE), "patches")
CACHE = os.path.expanduser("~/.cache/pkgres-dev")
PATCH = shutil.which("patch") or "/usr/bin/patch"

#: releases the patch set must fit (name -> specifier); others are reported, not required
REQUIRED = {
    "setuptools": SpecifierSet(">=18.0"),
    "pip": SpecifierSet(">=8.0"),
    "pkg-resources-backport": SpecifierSet(">=0"),
}

_MEMBERS = ("pkg_resources/__init__.py", "pip/_vendor/pkg_resources/__init__.py")


# --- upstream releases ---------------------------------------------------------------------


@dataclass
class Release:
    name: str  # canonical project name
    version: Version
    artifact: str
    sha: Optional[str] = None  # of the LF-normalised copy; None: no pkg_resources package
    crlf: bool = False
    vendor: Optional[Version] = None  # setuptools version pip vendors (vendor.txt)
    requires_python: Optional[str] = None
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


def _vendor_txt(data: bytes) -> Optional[Version]:
    for raw in data.decode("utf-8", "replace").splitlines():
        m = re.match(r"\s*setuptools\s*==\s*([^\s#;]+)", raw)
        if m:
            return Version(m.group(1))
    return None


def _requires_python(metadata: Optional[bytes]) -> Optional[str]:
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
        meta = [n for n in names if n.endswith(".dist-info/METADATA")]
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
    members: dict[str, bytes] = {}
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            for n in zf.namelist():
                if n.endswith(("/pkg_resources/__init__.py", "/PKG-INFO")) and n.count("/") <= 2:
                    members[n.split("/", 1)[1]] = zf.read(n)
    else:
        with tarfile.open(path) as tf:
            for m in tf.getmembers():
                n = m.name
                if m.isfile() and n.endswith(("/pkg_resources/__init__.py", "/PKG-INFO")) and n.count("/") <= 2:
                    f = tf.extractfile(m)
                    if f is not None:
                        members[n.split("/", 1)[1]] = f.read()
    rel.requires_python = _requires_python(members.get("PKG-INFO"))
    if "pkg_resources/__init__.py" not in members:
        rel.note = "no pkg_resources package"
        return rel
    rel.sha, rel.crlf = _store(members["pkg_resources/__init__.py"], store)
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


@dataclass(eq=False)
class Variant:
    patch: str
    name: str
    path: str
    diff: str  # the unified diff, header removed
    releases: list[Requirement] = field(default_factory=list)
    header_errors: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.patch}/{self.name}"

    def covers(self, rel: Release) -> bool:
        for req in self.releases:
            for name, version in rel.identities():
                if canonicalize_name(req.name) == name and req.specifier.contains(version, prereleases=True):
                    return True
        return False


HEADER_FIELDS = [
    "Description",
    "Author",
    "Origin",
    "Bug",
    "Forwarded",
    "Applied-Upstream",
    "Last-Update",
    "Upstream-Releases",
]


def parse_variant(patch: str, path: str) -> Variant:
    with open(path, "rb") as f:
        raw = f.read()
    name = os.path.basename(path)[: -len(".patch")]
    var = Variant(patch, name, path, "")
    if b"\r" in raw:
        var.header_errors.append("not LF line endings")
    text = raw.decode("utf-8")
    lines = text.split("\n")
    try:
        sep = lines.index("---")
    except ValueError:
        var.header_errors.append("no '---' line ending the header")
        return var
    var.diff = "\n".join(lines[sep + 1 :])
    fields: list[tuple[str, list[str]]] = []
    for line in lines[:sep]:
        if line.startswith(" ") and fields:
            fields[-1][1].append(line[1:])
        elif ":" in line:
            key, _, value = line.partition(":")
            fields.append((key, [value.strip()] if value.strip() else []))
        else:
            var.header_errors.append(f"bad header line {line!r}")
    keys = [k for k, _ in fields]
    if keys != HEADER_FIELDS:
        var.header_errors.append(f"header fields {keys} != {HEADER_FIELDS}")
    for key, values in fields:
        if key == "Upstream-Releases":
            for v in values:
                try:
                    req = Requirement(v)
                except Exception as exc:  # packaging.requirements.InvalidRequirement
                    var.header_errors.append(f"bad Upstream-Releases entry {v!r}: {exc}")
                    continue
                if canonicalize_name(req.name) not in REQUIRED:
                    var.header_errors.append(f"unknown project in Upstream-Releases: {req.name}")
                var.releases.append(req)
    if not var.releases:
        var.header_errors.append("no Upstream-Releases")
    if "--- a/__init__.py\n+++ b/__init__.py\n" not in var.diff:
        var.header_errors.append("diff headers are not a/__init__.py, b/__init__.py")
    return var


def load_series(patches: str) -> list[tuple[str, list[Variant]]]:
    order: list[str] = []
    variants: dict[str, list[Variant]] = {}
    with open(os.path.join(patches, "series"), encoding="utf-8") as f:
        for raw in f:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            patch, _, vname = line.partition("/")
            if patch not in variants:
                order.append(patch)
                variants[patch] = []
            variants[patch].append(parse_variant(patch, os.path.join(patches, line)))
    return [(p, variants[p]) for p in order]


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
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    out = p.stdout + p.stderr
    fuzzed = bool(_FUZZ.search(out))
    offsets = [int(m.group(3)) for m in _OFFSET.finditer(out)]
    bad = p.returncode != 0 or "FAILED" in out or "Reversed" in out or "malformed" in out
    return Fit(not bad and not fuzzed, offsets, fuzzed, out.strip())


@dataclass
class Pick:
    patch: str
    variant: Optional[Variant]
    offsets: list[int]
    note: str = ""


@dataclass
class Result:
    sha: str
    picks: list[Pick]
    patched: Optional[str]  # path of the patched file


def apply_series(sha: str, store: str, series: list[tuple[str, list[Variant]]], diffdir: str, outdir: str) -> Result:
    work = tempfile.mkdtemp(prefix="chk-", dir=outdir)
    target = os.path.join(work, "__init__.py")
    shutil.copyfile(os.path.join(store, sha + ".py"), target)
    picks: list[Pick] = []
    for patch, variants in series:
        chosen: Optional[Pick] = None
        fuzzed = []
        for var in variants:
            dfile = os.path.join(diffdir, var.label.replace("/", "__") + ".diff")
            fit = try_patch(work, dfile, dry_run=True)
            if fit.fuzz:
                fuzzed.append(var.name)
            if not fit.ok:
                continue
            real = try_patch(work, dfile, dry_run=False)
            if not real.ok:
                chosen = Pick(patch, None, [], f"{var.name}: dry run fitted but applying failed: {real.output}")
            else:
                chosen = Pick(patch, var, real.offsets)
            break
        if chosen is None:
            note = "no variant fits"
            for var in variants:  # say which would fit if fuzz were allowed (it is not)
                dfile = os.path.join(diffdir, var.label.replace("/", "__") + ".diff")
                if try_patch(work, dfile, dry_run=True, fuzz=3).fuzz:
                    fuzzed.append(var.name)
            if fuzzed:
                note += f" (would need fuzz: {', '.join(fuzzed)})"
            chosen = Pick(patch, None, [], note)
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
    found = []
    try:
        out = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return found
    for line in out.split():
        try:
            v = Version(line)
        except InvalidVersion:
            continue
        prefix = subprocess.run(["pyenv", "prefix", line], capture_output=True, text=True).stdout.strip()
        exe = os.path.join(prefix, "bin", "python")
        if os.path.exists(exe):
            found.append((v, exe))
    return sorted(found)


def compile_many(exe: str, files: list[str]) -> dict[str, str]:
    """Return {file: error} for files that do not compile with exe."""
    errors: dict[str, str] = {}
    for i in range(0, len(files), 200):
        chunk = files[i : i + 200]
        p = subprocess.run(
            [exe, "-W", "ignore", "-c", _COMPILER, *chunk], capture_output=True, text=True
        )
        if p.returncode != 0:
            for f in chunk:
                errors[f] = f"compiler crashed: {p.stderr.strip()[-200:]}"
        for line in p.stdout.splitlines():
            fn, _, err = line.partition(": ")
            errors[fn] = err
    return errors


def allowed(pythons: list[tuple[Version, str]], requires: Optional[str]) -> list[tuple[Version, str]]:
    if not requires:
        return pythons
    try:
        spec = SpecifierSet(requires)
    except Exception:
        return pythons
    # Requires-Python compares release versions: use major.minor.micro of the interpreter
    return [(v, e) for v, e in pythons if spec.contains(v, prereleases=True)]


# --- main ------------------------------------------------------------------------------------


def main(argv: Optional[list[str]] = None) -> int:
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
    series = load_series(args.patches)
    for _, variants in series:
        for var in variants:
            for err in var.header_errors:
                failures.append(f"{var.label}: {err}")

    tmp = tempfile.mkdtemp(prefix="check-patchset-")
    try:
        store = os.path.join(tmp, "orig")
        diffdir = os.path.join(tmp, "diffs")
        outdir = args.keep or os.path.join(tmp, "patched")
        for d in (store, diffdir, outdir):
            os.makedirs(d, exist_ok=True)
        for _, variants in series:
            for var in variants:
                with open(os.path.join(diffdir, var.label.replace("/", "__") + ".diff"), "w") as f:
                    f.write(var.diff)

        releases = collect(args.wheels, args.sdists, store)
        shas = sorted({r.sha for r in releases if r.sha})
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 4) as pool:
            results = {
                r.sha: r
                for r in pool.map(lambda s: apply_series(s, store, series, diffdir, outdir), shas)
            }

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
            for fn, err in compile_many(exe, files).items():
                compile_errors[(exe, fn)] = err

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
                picked.setdefault(pick.variant.label, []).append(rel)
                off = ""
                if pick.offsets:
                    off = "@" + ",".join(f"{o:+d}" for o in pick.offsets)
                parts.append(f"{pick.variant.label}{off}")
                if not pick.variant.covers(rel):
                    problems.append(f"{pick.variant.label}: release not in Upstream-Releases")
            # ranges must not claim a release for a variant that is not picked for it
            for patch, variants in series:
                got = next((p.variant for p in res.picks if p.patch == patch), None)
                for var in variants:
                    if var is not got and var.covers(rel):
                        problems.append(f"{var.label}: declares this release but is not picked for it")
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
        for _, variants in series:
            for var in variants:
                rels = picked.get(var.label, [])
                if not rels:
                    print(f"  {var.label:42} never picked")
                    continue
                by_name: dict[str, list[Release]] = {}
                for r in rels:
                    by_name.setdefault(r.name, []).append(r)
                desc = "; ".join(
                    f"{n} {min(rs, key=lambda r: r.version).version}..{max(rs, key=lambda r: r.version).version} ({len(rs)})"
                    for n, rs in sorted(by_name.items())
                )
                print(f"  {var.label:42} {desc}")
        if args.overlaps:
            print("\nShadowed fits (variant fits the unpatched copy alone, but another variant is picked):")
            jobs = [(var, sha) for _, variants in series for var in variants for sha in shas]

            def fits_alone(job: tuple[Variant, str]) -> bool:
                var, sha = job
                work = tempfile.mkdtemp(prefix="ovl-", dir=outdir)
                try:
                    shutil.copyfile(os.path.join(store, sha + ".py"), os.path.join(work, "__init__.py"))
                    return try_patch(work, os.path.join(diffdir, var.label.replace("/", "__") + ".diff"), True).ok
                finally:
                    shutil.rmtree(work, ignore_errors=True)

            with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 4) as pool:
                fit_alone = dict(zip(jobs, pool.map(fits_alone, jobs)))
            for _, variants in series:
                for var in variants:
                    extra_rels = [
                        r
                        for r in releases
                        if r.sha
                        and fit_alone[(var, r.sha)]
                        and next(p.variant for p in results[r.sha].picks if p.patch == var.patch) is not var
                    ]
                    if extra_rels:
                        by: dict[str, list[Version]] = {}
                        for r in extra_rels:
                            by.setdefault(r.name, []).append(r.version)
                        desc = "; ".join(f"{n} {min(v)}..{max(v)} ({len(v)})" for n, v in sorted(by.items()))
                        print(f"  {var.label:42} {desc}")
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
