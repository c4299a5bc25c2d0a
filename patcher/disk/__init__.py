"""Changing a copy on disk, all its files together or none, under its lock (:mod:`.locks`):
one copy patched or reverted (:mod:`.patching`), read and written (:mod:`.copyio`) with its
byte-code (:mod:`.transaction`), atomic writes that keep mode and owner (:mod:`.atomic`), an
archive member rewritten byte for byte back (:mod:`.archive`), the installer's ``RECORD``
(:mod:`.record`) and conda's record (:mod:`.conda_meta`) kept true, a seeding tool's table of its
wheels' digests (virtualenv's, :mod:`.seeding`), and ``--output``'s archives written elsewhere
(:mod:`.artefacts`)."""
