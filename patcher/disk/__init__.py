"""Changing a copy on disk: all its files (source, byte-code, RECORD, conda-meta, its archive) together, atomically, under its lock."""
