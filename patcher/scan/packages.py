"""Which package of another package manager installed a copy's file: conda, dpkg or rpm.

Asked once per copy found, after the walk (never per file walked). conda's records are read
where a copy lies in a conda prefix (``<prefix>/conda-meta/*.json``); dpkg's file lists
(``<admindir>/info/*.list``) are read once per run, and rpm is asked (one ``rpm -qf`` per copy),
only for files under the system prefixes those managers install into -- a venv in ``/tmp`` costs
nothing -- unless a database is named by environment variable (then every copy is looked up in
it): ``PKGRES_PATCHER_DPKG_ADMINDIR`` (``dpkg --admindir``), ``PKGRES_PATCHER_RPM_DBPATH``
(``rpm --dbpath``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from patcher.model import Copy, Manager, Package

__all__ = ["DPKG_ADMINDIR_ENV", "RPM_DBPATH_ENV", "Packages", "with_packages"]

DPKG_ADMINDIR_ENV = "PKGRES_PATCHER_DPKG_ADMINDIR"
RPM_DBPATH_ENV = "PKGRES_PATCHER_RPM_DBPATH"
#: where dpkg and rpm install files; elsewhere (a venv, a home directory) they are not asked
SYSTEM_PREFIXES = ("/usr/", "/opt/", "/lib/", "/lib32/", "/lib64/", "/libx32/", "/bin/", "/sbin/", "/etc/", "/srv/")
_RPM_DBS = ("/var/lib/rpm", "/usr/lib/sysimage/rpm")


def with_packages(copies: Iterable[Copy]) -> tuple[Copy, ...]:
    """``copies``, each with the package that installed its file, if any."""
    packages = Packages()
    found = []
    for copy in copies:
        package = packages.owner(copy)
        found.append(copy if package is None else copy._replace(package=package))
    return tuple(found)


class Packages:
    """Answers "which package installed this file?" for one run, reading each database once."""

    def __init__(self) -> None:
        self._conda_prefixes: dict[str, str | None] = {}
        self._conda_records: dict[str, list[tuple[str, str]]] = {}
        self._dpkg: _Dpkg | None = None

    def owner(self, copy: Copy) -> Package | None:
        """The package whose records list the copy's file (or the path it was found at)."""
        paths = [copy.file] if copy.via is None else [copy.file, copy.via]
        for path in paths:
            found = self._conda(path)
            if found is not None:
                return found
        admindir = os.environ.get(DPKG_ADMINDIR_ENV)
        if admindir or any(p.startswith(SYSTEM_PREFIXES) for p in paths):
            if self._dpkg is None:
                self._dpkg = _Dpkg(admindir or "/var/lib/dpkg")
            for path in paths:
                found = self._dpkg.owner(path)
                if found is not None:
                    return found
        dbpath = os.environ.get(RPM_DBPATH_ENV)
        if dbpath or (any(p.startswith(SYSTEM_PREFIXES) for p in paths) and _rpm_has_packages()):
            for path in paths:
                found = _rpm_owner(path, dbpath)
                if found is not None:
                    return found
        return None

    # conda

    def _conda(self, path: str) -> Package | None:
        prefix = self._conda_prefix(os.path.dirname(path))
        if prefix is None:
            return None
        import json  # only in a conda prefix

        entry = os.path.relpath(path, prefix).replace(os.sep, "/")
        needles = {json.dumps(entry), json.dumps(entry, ensure_ascii=False)}
        for meta, text in self._records(prefix):
            if not any(n in text for n in needles):
                continue  # most records do not mention the file: not parsed
            try:
                record = json.loads(text)
                paths = record.get("paths_data", {}).get("paths", [])
                if entry in record.get("files", ()) or any(p.get("_path") == entry for p in paths):
                    return Package(Manager.CONDA, str(record["name"]), str(record["version"]), meta, entry)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
        return None

    def _conda_prefix(self, directory: str) -> str | None:
        """The conda prefix (a directory holding ``conda-meta``) ``directory`` lies in, or None."""
        seen = []
        found: str | None = None
        while True:
            if directory in self._conda_prefixes:
                found = self._conda_prefixes[directory]
                break
            seen.append(directory)
            if os.path.isdir(os.path.join(directory, "conda-meta")):
                found = directory
                break
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
        for d in seen:
            self._conda_prefixes[d] = found
        return found

    def _records(self, prefix: str) -> list[tuple[str, str]]:
        found = self._conda_records.get(prefix)
        if found is None:
            import glob

            found = []
            for meta in sorted(glob.glob(os.path.join(glob.escape(prefix), "conda-meta", "*.json"))):
                try:
                    with open(meta, encoding="utf-8") as f:
                        found.append((meta, f.read()))
                except (OSError, UnicodeDecodeError):
                    continue
            self._conda_records[prefix] = found
        return found


class _Dpkg:
    """dpkg's database, read directly (``info/*.list``, ``status``): one read per run."""

    def __init__(self, admindir: str) -> None:
        self.admindir = admindir
        self._lists: list[tuple[str, str]] | None = None
        self._versions: dict[tuple[str, str], str] | None = None

    def owner(self, path: str) -> Package | None:
        needle = "\n" + path + "\n"
        for package, text in self._file_lists():
            if needle in text:
                name, _, arch = package.partition(":")
                version = self._installed().get((name, arch)) or self._installed().get((name, ""))
                if version is not None:
                    return Package(Manager.DPKG, name, version)
        return None

    def _file_lists(self) -> list[tuple[str, str]]:
        if self._lists is None:
            import glob

            self._lists = []
            for listed in sorted(glob.glob(os.path.join(glob.escape(self.admindir), "info", "*.list"))):
                try:
                    with open(listed, encoding="utf-8", errors="surrogateescape") as f:
                        text = "\n" + f.read()
                except OSError:
                    continue
                self._lists.append((os.path.basename(listed)[: -len(".list")], text))
        return self._lists

    def _installed(self) -> dict[tuple[str, str], str]:
        """(package, architecture) -> version of every installed package (``status``)."""
        if self._versions is None:
            self._versions = {}
            try:
                with open(os.path.join(self.admindir, "status"), encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except OSError:
                text = ""
            for stanza in text.split("\n\n"):
                fields = {}
                for line in stanza.splitlines():
                    key, sep, value = line.partition(":")
                    if sep and not line.startswith((" ", "\t")):
                        fields[key.lower()] = value.strip()
                if "package" in fields and "version" in fields and fields.get("status", "").endswith(" installed"):
                    arch = fields.get("architecture", "")
                    self._versions[(fields["package"], arch)] = fields["version"]
                    self._versions.setdefault((fields["package"], ""), fields["version"])
        return self._versions


def _rpm_has_packages() -> bool:
    """Whether the default rpm database holds anything (rpm on a Debian machine has none)."""
    import shutil

    if shutil.which("rpm") is None:
        return False
    for db in _RPM_DBS:
        try:
            if os.listdir(db):
                return True
        except OSError:
            continue
    return False


def _rpm_owner(path: str, dbpath: str | None) -> Package | None:
    """``rpm -qf``: the package that owns ``path`` (the first, if several do)."""
    import shutil
    import subprocess

    rpm = shutil.which("rpm")
    if rpm is None:
        return None
    command = [rpm, *(["--dbpath", dbpath] if dbpath else []), "-qf", "--queryformat", _RPM_FORMAT, path]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    for line in proc.stdout.splitlines():
        name, sep, rest = line.partition("\t")
        epoch, sep2, version = rest.partition("\t")
        if sep and sep2 and name:
            return Package(Manager.RPM, name, version if epoch in ("", "(none)") else f"{epoch}:{version}")
    return None


_RPM_FORMAT = "%{NAME}\\t%{EPOCH}\\t%{VERSION}-%{RELEASE}\\n"
