"""Handing the fix on: ``export`` (patch files for a distribution's build) and ``upstream`` (one ``git am``-able patch)."""
