"""Upstream releases: listed and fetched through pip (:mod:`.index`; sdists fetched as files from
the index pip is configured with, never built: :mod:`.simple`; parallel work that Ctrl-C stops:
:mod:`.workers`), checked against the patch set (:mod:`.drift`), reported (:mod:`.render`), and
new variants derived for them (:mod:`.refresh`)."""
