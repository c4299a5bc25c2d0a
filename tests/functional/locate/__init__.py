"""``locate`` on real prefixes built from real upstream wheels (issue #2), one file per concern.

Every prefix here is made of real releases: wheels installed by real pip into real venvs, eggs
laid out from real wheels as easy_install did, wheels lying in a tree as ensurepip keeps them.
The expected values (owners, upstream releases, members, hashes) are computed independently of
the code under test: from the wheels themselves and from ``hashlib`` over the files on disk.
"""
