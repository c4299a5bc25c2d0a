"""Byte-code: which files were compiled from a copy's source and what their headers say
(:mod:`.files`), and compiling the new source by the interpreter each is for (:mod:`.compiler`,
in a child running ``compile_child.py``, Python 2.7 to 3.x)."""
