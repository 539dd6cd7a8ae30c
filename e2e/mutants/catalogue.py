"""The mutant catalogue: every broken variant the e2e suite must kill, and how to plug it in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from e2e.mutants.backends import BACKEND_MUTANTS

CLIENTS_DIR = Path(__file__).resolve().parent / "clients"
BACKENDS_MODULE = "e2e.mutants.backends"


@dataclass(frozen=True)
class Mutant:
    name: str
    side: str  # "client" (through --sse-client) or "backend" (through --backend-app)
    pytest_args: tuple[str, ...]
    summary: str


def _first_comment_line(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.removeprefix("//").strip()
        if text:
            return text.removeprefix("MUTANT:").strip()
    return path.stem


def client_mutants() -> list[Mutant]:
    return [
        Mutant(path.stem, "client", (f"--sse-client={path}",), _first_comment_line(path))
        for path in sorted(CLIENTS_DIR.glob("*.js"))
    ]


def backend_mutants() -> list[Mutant]:
    return [
        Mutant(
            name,
            "backend",
            (f"--backend-app={BACKENDS_MODULE}:{name}",),
            (factory.__doc__ or name).strip().splitlines()[0],
        )
        for name, factory in BACKEND_MUTANTS.items()
    ]


def all_mutants() -> list[Mutant]:
    return client_mutants() + backend_mutants()
