"""``verify``: the proof, on the user's machine, that each copy survives distributions vanishing
while it scans. :mod:`.scratch` lays out the copy and its victims in a temporary directory,
:mod:`patcher.pythons` finds a Python that can run it, :mod:`.run` runs the copy's own code there
(the code in ``probe_child.py``), :mod:`.results` holds what was found and :mod:`.render` shows
it."""
