"""Registers the gate's pytest plugin for this repository, also when it is not pip-installed.

Installed (`pip install -e .`), the `pytest11` entry point named `harness.plugin` registers it first
and this line is a no-op: pytest skips a plugin name that is already registered.
"""

pytest_plugins = ["harness.plugin", "pytester"]
