"""The wire mutants around the production-shaped app's gate factory, for
`--backend-app e2e.mutants.wire_production_shape:NAME` (names resolved through `__getattr__`).

Generated from its contract (its event names and payload paths); the operators that edit the
reference backend's settings are replaced by wire-level ones (see `wire_catalogue`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from starlette.types import ASGIApp

from e2e.mutants.wire import WireMutant, wire_catalogue, wire_equivalents
from examples.production_shape.contract import CONTRACT
from examples.production_shape.gate import create_gate_app

WIRE_CATALOGUE: tuple[WireMutant, ...] = wire_catalogue(CONTRACT, app_settings=False)
EQUIVALENTS: tuple[WireMutant, ...] = wire_equivalents(CONTRACT, app_settings=False)
WIRE_MUTANTS: Mapping[str, Callable[..., ASGIApp]] = MappingProxyType(
    {m.name: m.factory(create_gate_app) for m in (*WIRE_CATALOGUE, *EQUIVALENTS)}
)


def __getattr__(name: str) -> Callable[..., ASGIApp]:
    try:
        return WIRE_MUTANTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no wire mutant {name!r}") from None
