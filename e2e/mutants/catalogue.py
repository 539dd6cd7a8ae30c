"""The mutant catalogue: every broken variant the e2e suite must kill, and how it plugs into the gate.

A mutant is applied by overriding two of the gate's options for the duration of its tests: the
page's EventSource module (`sse_client`, a generated file) or the backend app (`backend_app`,
a factory in `e2e.mutants.backends`). Each carries the operator that made it, for the table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from e2e.mutants.apps import REFERENCE, MutantApp, mutant_app
from e2e.mutants.backends import BACKEND_MUTANTS, OPERATORS
from e2e.mutants.clients import CLIENT_MUTANTS, ClientMutant, MutantDrift
from e2e.mutants.generated_clients import client_mutants as generated_client_mutants
from e2e.mutants.generated_clients import page_equivalents, page_mutants
from e2e.mutants.logic import LOGIC_MUTANTS

ORIGINAL_CLIENT = Path(__file__).resolve().parent / "clients" / "original_onmessage.js"
BACKENDS_MODULE = "e2e.mutants.backends"
PRODUCTION_BUG_RULE = "named_event_mismatch"


@dataclass(frozen=True)
class Mutant:
    name: str
    side: str  # "client", "backend", "page"; "control" and "equivalent" must pass
    operator: str  # the mutation operator that produced it ("regression" for the shipped client)
    summary: str
    sse_client: Path | None = None
    backend_app: str | None = None
    frontend_dir: Path | None = None
    # Run every scenario (no fail-fast), and each failure's first line must come from this rule: the
    # regression fixture must be named as such wherever it fails, not only where it fails first.
    expected_rule: str = ""

    @property
    def must_pass(self) -> bool:
        return self.side in ("control", "equivalent")

    @property
    def runs_in_full(self) -> bool:
        """No fail-fast: every scenario it takes runs (the control, the equivalents, the regression)."""
        return self.must_pass or bool(self.expected_rule)


CONTROL = Mutant("(correct system)", "control", "control", "the real backend and the production client")


def _first_comment_line(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.removeprefix("//").strip()
        if text:
            return text.removeprefix("MUTANT:").strip()
    return path.stem


def _write_atomically(path: Path, text: str) -> None:
    """Several pytest workers may write the same mutant file: none may ever read a half-written one."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _applicable(mutant: ClientMutant, app: MutantApp, source: str) -> str | None:
    """The mutant rendered over the app's client; None when its text is not in another app's client
    (that client is written otherwise: the operator has nothing to change there). Over the reference
    client a mutant that does not apply is an error (`MutantDrift`): the client changed under it."""
    try:
        return mutant.render(source)
    except MutantDrift:
        if app.own_mutants:
            raise
        return None


def client_mutants(workdir: Path, app: MutantApp | None = None) -> list[Mutant]:
    """The regression fixture as shipped, then the derived mutants, written into `workdir/clients`."""
    app = app or mutant_app(REFERENCE)
    mutants = [
        Mutant(
            "original_onmessage",
            "client",
            "regression",
            _first_comment_line(ORIGINAL_CLIENT),
            sse_client=ORIGINAL_CLIENT,
            expected_rule=PRODUCTION_BUG_RULE,
        )
    ]
    source = app.client.read_text(encoding="utf-8")
    for mutant in (*CLIENT_MUTANTS, *generated_client_mutants()):
        text = _applicable(mutant, app, source)
        if text is None:
            continue
        path = workdir / "clients" / f"{mutant.name}.js"
        _write_atomically(path, text)
        mutants.append(Mutant(mutant.name, "client", mutant.operator or mutant.name, mutant.summary, sse_client=path))
    return mutants


def not_applicable(app: MutantApp) -> list[str]:
    """Client mutants whose text the app's client does not have (listed with the table)."""
    source = app.client.read_text(encoding="utf-8")
    return [m.name for m in (*CLIENT_MUTANTS, *generated_client_mutants()) if _applicable(m, app, source) is None]


def backend_mutants(app: MutantApp | None = None) -> list[Mutant]:
    """Generated wire mutants, then (for the reference backend) the hand-written transport and logic ones."""
    app = app or mutant_app(REFERENCE)
    mutants = [
        Mutant(m.name, "backend", m.operator, m.summary, backend_app=f"{app.wire_module}:{m.name}")
        for m in app.wire_mutants()
    ]
    if not app.own_mutants:
        return mutants
    mutants += [
        Mutant(
            name,
            "backend",
            OPERATORS.get(name, name),
            (factory.__doc__ or name).strip().splitlines()[0],
            backend_app=f"{BACKENDS_MODULE}:{name}",
        )
        for name, factory in BACKEND_MUTANTS.items()
    ]
    mutants += [
        Mutant(
            name,
            "backend",
            str(getattr(factory, "operator", name)),
            (factory.__doc__ or name).strip().splitlines()[0],
            backend_app=f"e2e.mutants.logic:{name}",
        )
        for name, factory in LOGIC_MUTANTS.items()
    ]
    return mutants


def page_side_mutants(workdir: Path, app: MutantApp | None = None) -> list[Mutant]:
    overlay = (app or mutant_app(REFERENCE)).frontend_overlay
    return [
        Mutant(p.name, "page", p.mutant.operator, p.mutant.summary, frontend_dir=p.write(workdir / "pages", overlay))
        for p in page_mutants()
    ]


def all_mutants(workdir: Path, app: MutantApp | None = None) -> list[Mutant]:
    return client_mutants(workdir, app) + backend_mutants(app) + page_side_mutants(workdir, app)


def equivalent_mutants(workdir: Path, app: MutantApp | None = None) -> list[Mutant]:
    """Equivalent variants, run with the catalogue: each must pass like the control (a failure is a false alarm)."""
    app = app or mutant_app(REFERENCE)
    mutants = [
        Mutant(m.name, "equivalent", m.operator, m.summary, backend_app=f"{app.wire_module}:{m.name}")
        for m in app.wire_equivalents()
    ]
    mutants += [
        Mutant(
            p.name,
            "equivalent",
            p.mutant.operator,
            p.mutant.summary,
            frontend_dir=p.write(workdir / "pages", app.frontend_overlay),
        )
        for p in page_equivalents()
    ]
    return mutants
