"""Pure and fast: the engine, planning, hunks, the patch set, the layout of the code and its docs."""
