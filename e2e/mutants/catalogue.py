"""The mutant catalogue: every broken variant the e2e suite must kill, and how it plugs into the gate.

A mutant is applied by overriding two of the gate's options for the duration of its tests: the
page's EventSource module (`sse_client`, a generated file) or the backend app (`backend_app`,
a factory in `e2e.mutants.backends`). Each carries the operator that made it, for the table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from e2e.mutants.backends import BACKEND_MUTANTS, OPERATORS
from e2e.mutants.clients import CLIENT_MUTANTS
from e2e.mutants.generated_clients import client_mutants as generated_client_mutants
from e2e.mutants.generated_clients import page_equivalents, page_mutants
from e2e.mutants.logic import LOGIC_MUTANTS
from e2e.mutants.wire import EQUIVALENTS, WIRE_CATALOGUE

ORIGINAL_CLIENT = Path(__file__).resolve().parent / "clients" / "original_onmessage.js"
BACKENDS_MODULE = "e2e.mutants.backends"


@dataclass(frozen=True)
class Mutant:
    name: str
    side: str  # "client", "backend", "page"; "control" and "equivalent" must pass
    operator: str  # the mutation operator that produced it ("regression" for the shipped client)
    summary: str
    sse_client: Path | None = None
    backend_app: str | None = None
    frontend_dir: Path | None = None

    @property
    def must_pass(self) -> bool:
        return self.side in ("control", "equivalent")


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


def client_mutants(workdir: Path) -> list[Mutant]:
    """The regression fixture as shipped, then the derived mutants, written into `workdir/clients`."""
    mutants = [
        Mutant(
            "original_onmessage",
            "client",
            "regression",
            _first_comment_line(ORIGINAL_CLIENT),
            sse_client=ORIGINAL_CLIENT,
        )
    ]
    for mutant in (*CLIENT_MUTANTS, *generated_client_mutants()):
        path = workdir / "clients" / f"{mutant.name}.js"
        _write_atomically(path, mutant.render_production())
        mutants.append(Mutant(mutant.name, "client", mutant.operator or mutant.name, mutant.summary, sse_client=path))
    return mutants


def backend_mutants() -> list[Mutant]:
    """Generated wire mutants, then the hand-written transport and logic ones."""
    mutants = [
        Mutant(m.name, "backend", m.operator, m.summary, backend_app=f"e2e.mutants.wire:{m.name}")
        for m in WIRE_CATALOGUE
    ]
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


def page_side_mutants(workdir: Path) -> list[Mutant]:
    return [
        Mutant(p.name, "page", p.mutant.operator, p.mutant.summary, frontend_dir=p.write(workdir / "pages"))
        for p in page_mutants()
    ]


def all_mutants(workdir: Path) -> list[Mutant]:
    return client_mutants(workdir) + backend_mutants() + page_side_mutants(workdir)


def equivalent_mutants(workdir: Path) -> list[Mutant]:
    """Equivalent variants, run with the catalogue: each must pass like the control (a failure is a false alarm)."""
    mutants = [
        Mutant(m.name, "equivalent", m.operator, m.summary, backend_app=f"e2e.mutants.wire:{m.name}")
        for m in EQUIVALENTS
    ]
    mutants += [
        Mutant(p.name, "equivalent", p.mutant.operator, p.mutant.summary, frontend_dir=p.write(workdir / "pages"))
        for p in page_equivalents()
    ]
    return mutants
