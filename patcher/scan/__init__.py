"""Finding every copy of pkg_resources: in directories, directory eggs, zipped eggs and wheels.

Finding a copy never modifies anything. The parts, each readable alone: :mod:`.rules` (which
paths are copies), :mod:`.metadata` and :mod:`.origin` (what the files around a copy say of
it), :mod:`.owners` (who installed it), :mod:`.archives` (copies in eggs and wheels),
:mod:`.walk` (the walk, and :func:`~patcher.scan.walk.scan` over paths and interpreters),
:mod:`.sharing` (the walk shared between processes), :mod:`.bounds` (what a walk does not
enter: ``/proc``, ``/sys``, ``/dev``, other file systems, ``--exclude``), :mod:`.packages`
(conda, dpkg and rpm packages that installed a copy) and :mod:`.syspath` (the ``sys.path`` of
an interpreter, asked, and where its ensurepip wheels lie).

Imports are kept to what a scan needs: ``locate`` is timed against ``find``, and a Python
start-up with a few imports already costs a fair part of find's whole run (see
benchmarks/bench_locate.py).
"""
