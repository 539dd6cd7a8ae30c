"""Names the plugin's hooks and fixtures share, in a module that imports nothing heavy (see harness.plugin)."""

from __future__ import annotations

import pytest

FRESH_CONTEXT_MARK = "gate_fresh_context"

TEST_FAILED: pytest.StashKey[bool] = pytest.StashKey()
"""On a test item: False once its setup passed, True once its setup or call failed (the plugin sets it)."""
