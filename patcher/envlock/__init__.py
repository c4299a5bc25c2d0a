"""The environment's reader/writer lock around pip: the ``flock(2)`` lock (:mod:`.rwlock`), the
command run as a supervised child with signals passed on (:mod:`.supervise`), which mode a pip
command needs (:mod:`.policy`), and an interpreter's facts remembered between runs
(:mod:`.facts`)."""
