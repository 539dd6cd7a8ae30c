"""The mutant catalogue: every broken variant the e2e suite must kill, and how to plug it in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from e2e.mutants.backends import BACKEND_MUTANTS
from e2e.mutants.clients import CLIENT_MUTANTS

ORIGINAL_CLIENT = Path(__file__).resolve().parent / "clients" / "original_onmessage.js"
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


def client_mutants(workdir: Path) -> list[Mutant]:
    """The regression fixture as shipped, then the derived mutants, written into `workdir/clients`."""
    # `--opt=value`: pytest would also take a separate absolute path for a rootdir candidate.
    mutants = [
        Mutant(
            "original_onmessage", "client", (f"--sse-client={ORIGINAL_CLIENT}",), _first_comment_line(ORIGINAL_CLIENT)
        )
    ]
    for mutant in CLIENT_MUTANTS:
        path = mutant.write(workdir / "clients")
        mutants.append(Mutant(mutant.name, "client", (f"--sse-client={path}",), mutant.summary))
    return mutants


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


def all_mutants(workdir: Path) -> list[Mutant]:
    return client_mutants(workdir) + backend_mutants()
