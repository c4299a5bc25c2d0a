"""The command line's commands: a lazy table of them (:mod:`.table`), what they say and the
status they end with (:mod:`.terminal`), the options they share (:mod:`._options`), and a
module per command. Nothing is imported here, so that ``locate`` pays for no other command."""
