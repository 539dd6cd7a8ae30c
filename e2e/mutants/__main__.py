"""`python -m e2e.mutants` (`make mutants`): the e2e suite against every mutant in one pytest session.

One pytest session (`-p e2e.mutants.plugin`) runs the browser tests once per mutant and once for the
control (the correct system, which must pass in full), the browser launched once, servers swapped
per mutant, each mutant stopped at its first failing test. The table shows, per mutant, its
operator, the verdict, the killing test and the first line of the gate's diagnosis, and whether
that line was named by a rule (or is the fallback summary); then the kill rate per operator.
Exit status 1 when a mutant survives, a mutant errors or the control fails, so `make test` fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2e.mutants.catalogue import CONTROL, all_mutants

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Row:
    """One mutant's result as the plugin wrote it."""

    name: str
    side: str
    operator: str
    verdict: str
    failed: tuple[str, ...]
    diagnosis: str
    named: bool
    errors: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Row:
        return cls(
            data["name"],
            data["side"],
            data["operator"],
            data["verdict"],
            tuple(data["failed"]),
            data["diagnosis"],
            bool(data["named"]),
            tuple(data["errors"]),
        )

    @property
    def ok(self) -> bool:
        return self.verdict in ("killed", "passed")


def _cells(rows: list[tuple[str, ...]], limits: tuple[int, ...]) -> str:
    widths = [min(max(len(row[i]) for row in rows), limit) for i, limit in enumerate(limits)]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell if len(cell) <= width else cell[: width - 1] + "…" for cell, width in zip(row, widths, strict=True)
        ]
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def format_table(rows: Sequence[Row]) -> str:
    table: list[tuple[str, ...]] = [
        ("mutant", "operator", "verdict", "failing test", "named", "diagnosis (first line)")
    ]
    for row in rows:
        test = row.failed[0].split("[")[0] if row.failed else "-"
        named = ("yes" if row.named else "fallback") if row.verdict == "killed" else "-"
        table.append((row.name, row.operator, row.verdict, test, named, row.diagnosis or "-"))
    return _cells(table, (34, 24, 9, 60, 8, 400))


def format_operators(rows: Sequence[Row]) -> str:
    by_operator: dict[str, list[Row]] = {}
    for row in rows:
        if row.side != "control":
            by_operator.setdefault(row.operator, []).append(row)
    table: list[tuple[str, ...]] = [("operator", "mutants", "killed", "kill rate", "named")]
    for operator, group in sorted(by_operator.items()):
        killed = [r for r in group if r.verdict == "killed"]
        named = sum(1 for r in killed if r.named)
        table.append(
            (operator, str(len(group)), str(len(killed)), f"{len(killed) / len(group):.0%}", f"{named}/{len(killed)}")
        )
    return _cells(table, (30, 7, 6, 9, 7))


def format_totals(rows: Sequence[Row], seconds: float) -> str:
    mutants = [r for r in rows if r.side != "control"]
    killed = [r for r in mutants if r.verdict == "killed"]
    named = sum(1 for r in killed if r.named)
    control = next((r.verdict for r in rows if r.side == "control"), "not run")
    return (
        f"mutants: {len(killed)} of {len(mutants)} killed ({len(killed) / max(len(mutants), 1):.0%}); "
        f"{named} of {len(killed)} kills named specifically ({named / max(len(killed), 1):.0%}); "
        f"control {control}; {seconds:.0f} s"
    )


def pytest_command(args: argparse.Namespace, report: Path) -> list[str]:
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
        "-p",
        "e2e.mutants.plugin",
        f"--gate-mutants={args.only or 'all'}",
        f"--gate-mutants-dir={args.workdir}",
        f"--gate-mutants-report={report}",
        f"--output={args.workdir / 'evidence'}",
        f"--junitxml={args.workdir / 'mutants.xml'}",
    ]
    if args.workers > 0:
        command += ["-n", str(args.workers), "--dist", "loadgroup"]
    else:
        command += ["-n", "0"]
    return [*command, *args.pytest_args]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.mutants", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers",
        type=int,
        default=max(0, min(2, os.cpu_count() or 1)),
        help="pytest-xdist workers (default: 2 on two or more cores; 0 runs in this process's pytest serially)",
    )
    parser.add_argument("--only", default="", help="comma-separated mutant names (the control always runs)")
    parser.add_argument("--fail-fast", action="store_true", help="kept for old callers: every mutant is fail-fast")
    parser.add_argument("--list", action="store_true", help="list the catalogue and exit")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=REPO_ROOT / ".mutants",
        help="generated mutants, the results, the JUnit report and evidence (default .mutants/)",
    )
    parser.add_argument("pytest_args", nargs="*", help="passed on to pytest (after --)")
    args = parser.parse_args(argv)

    args.workdir = args.workdir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    catalogue = all_mutants(args.workdir)
    if args.list:
        for mutant in catalogue:
            print(f"{mutant.name:34} {mutant.side:8} {mutant.operator:24} {mutant.summary}")
        return 0
    if args.only:
        unknown = {n.strip() for n in args.only.split(",") if n.strip()} - {m.name for m in catalogue}
        if unknown:
            parser.error(f"unknown mutants {sorted(unknown)}; see --list")

    report = args.workdir / "results.json"
    report.unlink(missing_ok=True)
    count = len(args.only.split(",")) if args.only else len(catalogue)
    print(f"mutants: {count} mutants + the control in one pytest session; files in {args.workdir}", flush=True)
    started = time.monotonic()
    completed = subprocess.run(pytest_command(args, report), cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    (args.workdir / "pytest.log").write_text(completed.stdout + completed.stderr, encoding="utf-8")
    if not report.is_file():
        print(completed.stdout[-3000:] + completed.stderr[-3000:], file=sys.stderr)
        print(f"mutants: pytest wrote no results (exit {completed.returncode})", file=sys.stderr)
        return 1
    rows = [Row.from_json(r) for r in json.loads(report.read_text(encoding="utf-8"))["results"]]
    print(format_table(rows))
    print()
    print(format_operators(rows))
    print(format_totals(rows, time.monotonic() - started))
    bad = [row for row in rows if not row.ok]
    for row in bad:
        why = f": {'; '.join(row.errors)[:300]}" if row.errors else ""
        print(f"mutants: {row.name}: {row.verdict}{why}; log: {args.workdir / 'pytest.log'}", file=sys.stderr)
    if not any(row.name == CONTROL.name for row in rows):
        print("mutants: the control did not run", file=sys.stderr)
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
