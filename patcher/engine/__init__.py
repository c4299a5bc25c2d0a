"""Applying the patch set to a text: the set itself (a quilt series of DEP-3 headed diffs), hunk placement, planning, diff text."""
