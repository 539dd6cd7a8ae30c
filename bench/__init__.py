"""`make bench`: how fast the gate is, against the floor of a bare Playwright script (see `bench/run.py`)."""
