"""The fixtures that swap a mutant in: the gate's options, overridden per session-scoped mutant parameter.

Every server fixture of the gate depends on `gate_options`, so overriding it with a version that
depends on the parametrized `gate_mutant` makes pytest group the tests by mutant and rebuild the
servers (frontend with the mutant's client, backend with the mutant's app) when the mutant changes,
while the browser, which does not depend on the options, is launched once for the whole session.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from playwright.sync_api import expect

from e2e.mutants.catalogue import Mutant
from harness.plugin import GateOptions


@pytest.fixture(scope="session")
def gate_mutant(request: pytest.FixtureRequest) -> Mutant:
    """The mutant under test (parametrized by `e2e.mutants.plugin`; the control is the correct system)."""
    mutant: Mutant = request.param
    return mutant


@pytest.fixture(scope="session")
def gate_options(gate_options: GateOptions, gate_mutant: Mutant) -> GateOptions:
    """The gate's options with the mutant's client, page or backend in place of the real one."""
    return replace(
        gate_options,
        sse_client=gate_mutant.sse_client or gate_options.sse_client,
        backend_app=gate_mutant.backend_app or gate_options.backend_app,
        frontend_dir=gate_mutant.frontend_dir or gate_options.frontend_dir,
    )


@pytest.fixture(autouse=True)
def gate_mutant_expect_timeout(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> None:
    """A shorter wait for what the page must show: a kill usually is an `expect` running out, and on
    loopback a healthy page shows each step within milliseconds (the control proves the bound holds).
    The equivalent variants keep Playwright's default: one of them redirects 1.5 s late on purpose."""
    callspec = getattr(request.node, "callspec", None)
    mutant = callspec.params.get("gate_mutant") if callspec is not None else None
    if isinstance(mutant, Mutant) and mutant.side == "equivalent":
        expect.set_options(timeout=5000)
    else:
        expect.set_options(timeout=int(pytestconfig.getoption("gate_mutants_expect_ms")))
