"""The apps the mutant catalogue runs against: our reference backend and the production-shaped example.

An app brings its EventSource client (the source the client mutants are rendered from), its gate
factory (which the wire mutants wrap), its frontend overlay (under the page mutants) and the pytest
options that point the gate at it. The reference backend also has hand-written transport and logic
mutants (subclasses of its parts); another app's logic is its own, so only the generated client,
wire and page operators apply to it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from e2e.mutants.wire import WireMutant
from harness.contract import DRAFTS_API, AppContract

REPO_ROOT = Path(__file__).resolve().parents[2]
REFERENCE = "drafts_api"


@dataclass(frozen=True)
class MutantApp:
    name: str
    contract: AppContract
    client: Path  # the app's lib/draft-stream.js
    wire_module: str  # `--backend-app MODULE:NAME` resolves its wire mutants by name
    frontend_overlay: Path | None = None  # the app's `--frontend-dir` (files over the stub page)
    pytest_args: tuple[str, ...] = ()  # what points the gate at the app
    own_mutants: bool = False  # the reference backend's hand-written transport and logic mutants

    def wire_mutants(self) -> tuple[WireMutant, ...]:
        catalogue: tuple[WireMutant, ...] = importlib.import_module(self.wire_module).WIRE_CATALOGUE
        return catalogue

    def wire_equivalents(self) -> tuple[WireMutant, ...]:
        equivalents: tuple[WireMutant, ...] = importlib.import_module(self.wire_module).EQUIVALENTS
        return equivalents


_PRODUCTION_SHAPE_FRONTEND = REPO_ROOT / "examples" / "production_shape" / "frontend"


def _production_shape() -> MutantApp:
    from examples.production_shape.contract import CONTRACT  # noqa: PLC0415 - only when that app is chosen

    return MutantApp(
        name="production_shape",
        contract=CONTRACT,
        client=_PRODUCTION_SHAPE_FRONTEND / "lib" / "draft-stream.js",
        wire_module="e2e.mutants.wire_production_shape",
        frontend_overlay=_PRODUCTION_SHAPE_FRONTEND,
        pytest_args=(
            "--gate-contract=examples.production_shape.contract:CONTRACT",
            "--backend-app=examples.production_shape.gate:create_gate_app",
            f"--frontend-dir={_PRODUCTION_SHAPE_FRONTEND}",
        ),
    )


def _reference() -> MutantApp:
    return MutantApp(
        name=REFERENCE,
        contract=DRAFTS_API,
        client=REPO_ROOT / "stub_frontend" / "lib" / "draft-stream.js",
        wire_module="e2e.mutants.wire",
        own_mutants=True,
    )


APPS = MappingProxyType({REFERENCE: _reference, "production_shape": _production_shape})
"""App name -> how to describe it (a function: the example is imported only when it is chosen)."""


def mutant_app(name: str) -> MutantApp:
    try:
        return APPS[name]()
    except KeyError:
        raise ValueError(f"no mutant app {name!r}; known: {sorted(APPS)}") from None
