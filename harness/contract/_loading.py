"""`--gate-contract MODULE:ATTR`: the contract of the app under test, imported by name."""

from __future__ import annotations

import importlib

from harness.contract._contract import AppContract


class ContractSpecError(ValueError):
    """`--gate-contract` does not name an `AppContract`."""


def load_contract(spec: str) -> AppContract:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ContractSpecError(f"--gate-contract wants MODULE:ATTR, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ContractSpecError(f"--gate-contract {spec!r}: cannot import {module_name!r}: {exc}") from exc
    contract: object = module
    for step in attr.split("."):  # ATTR may be dotted (a contract held by a class or namespace)
        contract = getattr(contract, step, None)
    if not isinstance(contract, AppContract):
        raise ContractSpecError(f"--gate-contract {spec!r} is not an AppContract: {contract!r}")
    return contract
