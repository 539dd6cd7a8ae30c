"""The public API is what our own code uses: scenarios, conftest files, backend factories, the
benchmark and these tests import from `harness` or its public subpackages, never a private module.

A private module (`harness.proxy._faults`) may be imported only by a test of its internals, and the
import line must say so in a comment containing "internals".
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import harness

REPO_ROOT = Path(__file__).resolve().parents[1]
OUR_CODE = ("e2e", "bench", "tests", "scripts")
HEAVY_MODULES = ("fastapi", "uvicorn", "starlette", "fakeredis", "redis", "drafts_api", "playwright")


def our_python_files() -> Iterator[Path]:
    yield from sorted(REPO_ROOT.glob("conftest.py"))
    for folder in OUR_CODE:
        yield from sorted(path for path in (REPO_ROOT / folder).rglob("*.py") if "__pycache__" not in path.parts)


def private_imports(path: Path, root: Path = REPO_ROOT) -> list[str]:
    """`file:line: import` for each import of a private harness module or name, unless marked."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            modules, names = [alias.name for alias in node.names], []
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] != "harness":
                continue
            private = [p for p in parts[1:] if p.startswith("_") and p != "__main__"]
            private += [name for name in names if name.startswith("_") and name != "__main__"]
            statement = "\n".join(lines[node.lineno - 1 : (node.end_lineno or node.lineno)])
            if private and "internals" not in statement:
                found.append(f"{path.relative_to(root)}:{node.lineno}: {statement.strip()}")
    return found


def test_our_code_imports_only_the_public_api() -> None:
    files = list(our_python_files())
    assert len(files) > 30, files
    found = [line for path in files for line in private_imports(path)]
    assert found == [], "imports of private harness modules:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "source",
    [
        "from harness.servers._frontend import frontend_app",
        "from harness.proxy import _helper",
        "import harness.plugin._fixtures",
    ],
)
def test_the_scan_catches_private_imports(tmp_path: Path, source: str) -> None:
    (tmp_path / "example.py").write_text(source + "\n")
    found = private_imports(tmp_path / "example.py", tmp_path)
    assert found, source


def test_a_test_of_internals_may_say_so(tmp_path: Path) -> None:
    (tmp_path / "example.py").write_text("from harness.proxy._faults import _X  # tests the internals of X\n")
    assert private_imports(tmp_path / "example.py", tmp_path) == []


def test_every_exported_name_resolves_from_a_public_module() -> None:
    assert sorted(harness.__all__) == sorted(harness._EXPORTS), "__all__ and _EXPORTS differ"
    for name, module in harness._EXPORTS.items():
        assert not any(part.startswith("_") for part in module.split(".")), (name, module)
        assert getattr(harness, name) is getattr(sys.modules[module], name), name
    assert set(harness.__all__) <= set(dir(harness))
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        _ = harness.NoSuchThing


def test_the_public_api_covers_what_users_need() -> None:
    """The pieces the README and the issue name: fault classes, page objects, fixture return types,
    what a `--backend-app` factory is given, the app contract."""
    needed = {
        "PassThrough", "BufferUnlessAccelOff", "Gzip", "CutAfterBytes", "CutAfterEvents", "IdleTimeout",
        "Latency", "CannedStatus", "FaultProxy", "EDITOR_URL", "NewDraftPage", "EditorPage", "LiveBackend",
        "FrontendConfig", "WireLog", "RedisProvider", "RedisOutage", "BackendParts", "AppContract", "DRAFTS_API",
        "ScriptedGenerator", "EvidenceCollector", "GateOptions",
    }  # fmt: skip
    assert needed <= set(harness.__all__), needed - set(harness.__all__)


def test_importing_harness_imports_none_of_the_heavy_dependencies() -> None:
    """The plugin imports `harness` in every pytest session: its package must cost (almost) nothing."""
    probe = "import sys, harness; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    loaded = set(result.stdout.split())
    assert loaded.isdisjoint(HEAVY_MODULES), sorted(loaded & set(HEAVY_MODULES))
