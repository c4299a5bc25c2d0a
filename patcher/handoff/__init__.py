"""Handing the fix on: ``export`` (patch files for a distribution's build, :mod:`.export`; into
a Debian source package, :mod:`.debian`), ``upstream`` (one ``git am``-able patch with a
regression test, :mod:`.upstream`), and what both report (:mod:`.render`)."""
