"""Registers the gate's pytest plugin for this repository, also when it is not pip-installed.

Installed (`pip install -e .`), the `pytest11` entry point named `harness.plugin` registers it first
and this line is a no-op: pytest skips a plugin name that is already registered.
"""

import pytest

pytest_plugins = ["harness.plugin", "pytester"]

# The plugins pyproject's addopts turns off (see the comment there), for sessions that do not read it.
UNUSED_PLUGINS_OFF = "-p no:hypothesispytest -p no:schemathesis"


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester, whose sessions skip the plugins no test uses, as ours do (1.4 CPU-s each): pytester
    clears PYTEST_ADDOPTS for isolation and its sessions have a rootdir of their own, so neither our
    environment nor pyproject's addopts reaches them."""
    monkeypatch.setenv("PYTEST_ADDOPTS", UNUSED_PLUGINS_OFF)
    return pytester
