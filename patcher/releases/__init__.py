"""Upstream releases: fetched through pip (:mod:`.index`), checked against the patch set
(:mod:`.drift`), reported (:mod:`.render`), and new variants derived for them (:mod:`.refresh`)."""
