"""Applying the patch set to a text, purely (no file is read or written here): the set itself, a
quilt series of DEP-3 headed diffs (:mod:`.patchset`, its headers read by :mod:`.headers`), where
each hunk fits (:mod:`.hunks`), which variant of each patch fits a copy and what results
(:mod:`.planning`), and placed hunks written back as a diff (:mod:`.difftext`)."""
