"""`python -m e2e.mutants` (`make mutants`): run the e2e suite against every mutant, print who killed it.

Each mutant gets its own pytest run (serial inside, several runs side by side with `--jobs`); the
correct system runs too, as the control that must pass. A mutant is killed when its run has a failing
test; the table shows the failing tests and the first line of the gate's diagnosis, read from the run's
JUnit XML (the plugin puts the diagnosis first in each failure message). Exit status 1 when a mutant
survives or the control fails, so `make test` fails with it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from e2e.mutants.catalogue import Mutant, all_mutants

REPO_ROOT = Path(__file__).resolve().parents[2]
DIAGNOSIS_PREFIX = "[sse-gate] "
CONTROL = Mutant("(correct system)", "control", (), "the real backend and the production client")


@dataclass(frozen=True)
class RunResult:
    mutant: Mutant
    exit_code: int
    failed_tests: tuple[str, ...]
    diagnosis: str
    seconds: float
    passed: int = 0
    errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def verdict(self) -> str:
        if self.mutant is CONTROL:
            return "passed" if self.exit_code == 0 else "FAILED"
        if self.failed_tests:
            return "killed"
        return "SURVIVED" if self.exit_code == 0 else f"ERROR (pytest exit {self.exit_code})"

    @property
    def ok(self) -> bool:
        return self.verdict in ("killed", "passed")


def read_junit(path: Path) -> tuple[int, tuple[str, ...], str, tuple[str, ...]]:
    """(passed, failed test names, first diagnosis line, errors) from a JUnit XML report."""
    if not path.is_file():
        return 0, (), "", ("no JUnit report was written",)
    root = ElementTree.parse(path).getroot()
    passed, failed, errors, diagnosis = 0, [], [], ""
    for case in root.iter("testcase"):
        name = case.get("name", "?")
        failure = case.find("failure")
        error = case.find("error")
        if failure is None and error is None:
            if case.find("skipped") is None:
                passed += 1
            continue
        node = failure if failure is not None else error
        assert node is not None
        message = node.get("message", "")
        if failure is not None:
            failed.append(name)
        else:
            errors.append(f"{name}: {message[:200]}")
        if not diagnosis and message.startswith(DIAGNOSIS_PREFIX):
            diagnosis = message.removeprefix(DIAGNOSIS_PREFIX).split(" | ", 1)[0]
        elif not diagnosis and failure is not None:
            diagnosis = "(no gate diagnosis) " + message.splitlines()[0][:160] if message else ""
    return passed, tuple(failed), diagnosis, tuple(errors)


def run_mutant(mutant: Mutant, workdir: Path, *, fail_fast: bool, extra: Sequence[str]) -> RunResult:
    slug = mutant.name.strip("()").replace(" ", "-")
    junit = workdir / f"{slug}.xml"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "e2e",
        "-m",
        "not slow",
        "-q",
        "-p",
        "no:cacheprovider",
        "-n",
        "0",
        f"--junitxml={junit}",
        f"--output={workdir / slug}",
        *mutant.pytest_args,
        *extra,
    ]
    if fail_fast and mutant is not CONTROL:
        command.append("-x")
    started = time.monotonic()
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    (workdir / f"{slug}.log").write_text(completed.stdout + completed.stderr, encoding="utf-8")
    passed, failed, diagnosis, errors = read_junit(junit)
    return RunResult(mutant, completed.returncode, failed, diagnosis, time.monotonic() - started, passed, errors)


def format_table(results: Sequence[RunResult]) -> str:
    rows = [("mutant", "side", "verdict", "failed tests", "diagnosis (first failure)")]
    for result in results:
        failed = ", ".join(name.split("[")[0] for name in result.failed_tests[:3])
        if len(result.failed_tests) > 3:
            failed += f" (+{len(result.failed_tests) - 3})"
        rows.append((result.mutant.name, result.mutant.side, result.verdict, failed or "-", result.diagnosis or "-"))
    widths = [min(max(len(row[i]) for row in rows), limit) for i, limit in enumerate((32, 8, 10, 60, 400))]
    lines = []
    for index, row in enumerate(rows):
        pairs = zip(row, widths, strict=True)
        cells = [cell if len(cell) <= width else cell[: width - 1] + "…" for cell, width in pairs]
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.mutants", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--jobs",
        type=int,
        default=max(1, min(2, os.cpu_count() or 1)),
        help="pytest runs side by side (default: 2 on two or more cores)",
    )
    parser.add_argument("--only", default="", help="comma-separated mutant names")
    parser.add_argument(
        "--fail-fast", action="store_true", help="stop each mutant's run at its first failure (a kill is a kill)"
    )
    parser.add_argument("--list", action="store_true", help="list the catalogue and exit")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=REPO_ROOT / ".mutants",
        help="JUnit reports, logs and evidence of each run (default .mutants/)",
    )
    parser.add_argument("pytest_args", nargs="*", help="passed on to every pytest run (after --)")
    args = parser.parse_args(argv)

    args.workdir.mkdir(parents=True, exist_ok=True)
    catalogue = all_mutants(args.workdir)
    if args.list:
        for mutant in catalogue:
            print(f"{mutant.name:32} {mutant.side:8} {mutant.summary}")
        return 0
    if args.only:
        wanted = {name.strip() for name in args.only.split(",") if name.strip()}
        unknown = wanted - {m.name for m in catalogue}
        if unknown:
            parser.error(f"unknown mutants {sorted(unknown)}; see --list")
        catalogue = [m for m in catalogue if m.name in wanted]

    print(f"mutants: {len(catalogue)} mutants + the control, {args.jobs} at a time; logs in {args.workdir}")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(
            pool.map(
                lambda m: run_mutant(m, args.workdir, fail_fast=args.fail_fast, extra=args.pytest_args),
                [CONTROL, *catalogue],
            )
        )
    print(format_table(results))
    killed = sum(1 for r in results[1:] if r.verdict == "killed")
    bad = [r for r in results if not r.ok]
    print(
        f"mutants: {killed} of {len(results) - 1} killed; control {results[0].verdict}; "
        f"{time.monotonic() - started:.0f} s"
    )
    for result in bad:
        print(
            f"mutants: {result.mutant.name}: {result.verdict}; log: {args.workdir}/"
            f"{result.mutant.name.strip('()').replace(' ', '-')}.log",
            file=sys.stderr,
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
