"""What a walk does not enter: the kernel's and the devices' file systems, other devices (when
asked: ``--one-file-system``) and paths the user excluded (``--exclude``).

``/proc`` alone would lead a walk through the whole machine again (``/proc/<pid>/root``), and
through ``/proc/kcore`` and device nodes nothing good: such file systems are known by device
(what ``stat`` says, however the path reached them: a link, ``..``, a bind mount, a chroot's own
``/proc``) and by name below ``/`` (when ``/dev`` is a plain directory).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

__all__ = ["SYSTEM_DIRS", "Excluder", "excluder", "system_devices"]

#: directories of ``/`` that are the kernel's or the devices' (never walked)
SYSTEM_DIRS = frozenset({"proc", "sys", "dev"})

#: kernel file systems: never walked, wherever they are mounted
_KERNEL_TYPES = frozenset(
    {
        "proc",
        "sysfs",
        "devtmpfs",
        "devpts",
        "cgroup",
        "cgroup2",
        "securityfs",
        "debugfs",
        "tracefs",
        "pstore",
        "bpf",
        "configfs",
        "fusectl",
        "mqueue",
        "binfmt_misc",
        "efivarfs",
        "selinuxfs",
        "nsfs",
        "autofs",
        "rpc_pipefs",
        "hugetlbfs",
    }
)

#: ``(name, path) -> excluded?``
Excluder = Callable[[str, str], bool]


def system_devices() -> frozenset[int]:
    """The devices a walk never enters: those of ``/proc``, ``/sys`` and ``/dev`` (when they
    are mount points), of what is mounted below ``/proc`` and ``/sys``, and of every kernel file
    system mounted anywhere (a chroot's ``/proc``, a bind mount of ``/dev``)."""
    devices = set()
    try:
        root = os.stat("/").st_dev
    except OSError:
        root = None
    for name in SYSTEM_DIRS:
        try:
            device = os.stat("/" + name).st_dev
        except OSError:
            continue
        if device != root:
            devices.add(device)
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            lines = f.read().decode("utf-8", "surrogateescape").splitlines()
    except OSError:
        lines = []  # no /proc: the stats above are all there is to go by
    for line in lines:
        mount, sep, fs = line.partition(" - ")
        fields = mount.split()
        if not sep or len(fields) < 5 or ":" not in fields[2] or not fs:
            continue
        major, minor = fields[2].split(":", 1)
        point = fields[4]
        if fs.split()[0] in _KERNEL_TYPES or point.startswith(("/proc/", "/sys/")):
            try:
                devices.add(os.makedev(int(major), int(minor)))
            except ValueError:
                continue
    return frozenset(devices)


def excluder(globs: Iterable[str]) -> Excluder | None:
    """What ``--exclude GLOB`` leaves out (None: nothing).

    A glob without ``/`` is matched against the name of each file and directory (like ``find
    -name``); one with ``/`` against the whole path as walked (like ``find -path``: ``*`` matches
    ``/`` too). A trailing ``/`` is ignored.
    """
    names: list[str] = []
    paths: list[str] = []
    for glob in globs:
        glob = glob.rstrip("/") or "/"
        (paths if "/" in glob else names).append(glob)
    if not names and not paths:
        return None
    import fnmatch
    import re

    def matcher(globs: list[str]) -> Callable[[str], object] | None:
        return re.compile("|".join(fnmatch.translate(g) for g in globs)).match if globs else None

    by_name, by_path = matcher(names), matcher(paths)

    def excluded(name: str, path: str) -> bool:
        return bool((by_name is not None and by_name(name)) or (by_path is not None and by_path(path)))

    return excluded
