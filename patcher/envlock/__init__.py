"""The environment's reader/writer lock around pip: the lock, the supervised child, and which mode a pip command needs."""
