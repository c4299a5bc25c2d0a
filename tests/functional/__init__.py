"""Real processes, real releases, real interpreters: what a user runs, as a user runs it."""
