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
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from e2e.mutants import _kill_order
from e2e.mutants.apps import APPS, REFERENCE, MutantApp, mutant_app
from e2e.mutants.catalogue import CONTROL, all_mutants, equivalent_mutants, not_applicable
from harness.evidence import SCHEMA_VERSION

REPO_ROOT = Path(__file__).resolve().parents[2]


# Workers for the catalogue: twice the cores, at most 8. Its work waits more than it computes (a kill
# is mostly an `expect` running out, 2 s of an idle browser): on 2 cores, one run of the reference
# catalogue kept 0.71 CPUs busy under `-n 2` (192.6 s, 137.5 CPU-s), and took 113 s under `-n 4` and
# 105 s under `-n 6` (the same CPU-s), before the tests of the mutants that run in full were spread.
def default_workers(cpus: int | None = None) -> int:
    return min(8, 2 * (cpus or os.cpu_count() or 1))


# Survivors the catalogue knows of, with the reason no scenario kills them yet. They are shown in the
# table as "survived (known)" and do not fail `make test`; a new survivor does.
KNOWN_SURVIVORS: Mapping[str, str] = MappingProxyType({})


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
    expected_rule: str = ""  # every scenario ran, and each failure had to be diagnosed by this rule

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
            str(data.get("expected_rule", "")),
        )

    @property
    def ok(self) -> bool:
        return self.verdict in ("killed", "passed") or (self.verdict == "SURVIVED" and self.name in KNOWN_SURVIVORS)


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
        if row.side not in ("control", "equivalent"):
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
    mutants = [r for r in rows if r.side not in ("control", "equivalent")]
    killed = [r for r in mutants if r.verdict == "killed"]
    named = sum(1 for r in killed if r.named)
    control = next((r.verdict for r in rows if r.side == "control"), "not run")
    equivalents = [r for r in rows if r.side == "equivalent"]
    passed = sum(1 for r in equivalents if r.verdict == "passed")
    control += f"; equivalent controls {passed} of {len(equivalents)} passed"
    return (
        f"mutants: {len(killed)} of {len(mutants)} killed ({len(killed) / max(len(mutants), 1):.0%}); "
        f"{named} of {len(killed)} kills named specifically ({named / max(len(killed), 1):.0%}); "
        f"control {control}; {seconds:.0f} s"
    )


def write_kill_table(rows: list[Row], evidence_dir: Path) -> Path:
    """`mutants.json` in the shape `harness.report` reads, beside the session's results, and the run
    report made again over that folder so that it carries the kill table."""
    from harness.report import write_run_report

    evidence_dir.mkdir(parents=True, exist_ok=True)
    table = {
        "mutants": [
            {
                "name": row.name,
                "kind": f"{row.side}: {row.operator}",
                "verdict": row.verdict,
                "failed_tests": list(row.failed),
                "diagnosis": row.diagnosis,
                "seconds": None,
            }
            for row in rows
        ]
    }
    (evidence_dir / "mutants.json").write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    return write_run_report([evidence_dir], evidence_dir / "report.html")


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
        f"--gate-mutants-app={args.app.name}",
        *args.app.pytest_args,
        f"--gate-mutants-report={report}",
        f"--output={args.workdir / 'evidence'}",
        f"--junitxml={args.workdir / 'mutants.xml'}",
    ]
    if args.record_samples is not None:
        command.append("--gate-mutants-record")
    if args.workers > 0:
        command += ["-n", str(args.workers)]  # one worker per mutant: e2e/mutants/_scheduling.py
    else:
        command += ["-n", "0"]
    return [*command, *args.pytest_args]


def _evidence_of(result: dict[str, Any], evidence_root: Path | None) -> str:
    """The kill's evidence file: as the plugin reported it, else found by the test's output folder
    (pytest-playwright names it after the node id)."""
    if result.get("evidence"):
        return str(result["evidence"])
    if evidence_root is None or not result.get("failed"):
        return ""
    slug = re.sub(r"[^a-z0-9]+", "-", result["failed"][0].lower()).strip("-")
    found = [d / "evidence.json" for d in evidence_root.glob(f"*{slug}") if (d / "evidence.json").is_file()]
    return str(found[0]) if found else ""


def _rule_of(evidence: Path) -> str:
    diagnosis = evidence.with_name("diagnosis.txt")
    return diagnosis.read_text(encoding="utf-8").split("]", 1)[0].lstrip("[") if diagnosis.is_file() else ""


def record_samples(results: list[dict[str, Any]], folder: Path, evidence_root: Path | None = None) -> str:
    """The evidence of each kill and of each passing control test, copied into `folder` with an index."""
    folder.mkdir(parents=True, exist_ok=True)
    index: dict[str, dict[str, str]] = {}
    for result in results:
        evidence = _evidence_of(result, evidence_root) if result["verdict"] == "killed" else ""
        if evidence:
            name = f"gate_{result['name']}"
            shutil.copyfile(evidence, folder / f"{name}.json")
            rule = result.get("rule") or _rule_of(Path(evidence))
            index[name] = {"rule": rule, "line": result["diagnosis"], "operator": result["operator"]}
        for test, evidence in result.get("healthy", {}).items():
            name = "healthy_gate_" + test.split("[")[0].removeprefix("test_")
            shutil.copyfile(evidence, folder / f"{name}.json")
            index[name] = {"rule": "", "line": "", "operator": "control"}
    (folder / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return f"mutants: recorded {len(index)} evidence samples (schema version {SCHEMA_VERSION}) into {folder}"


_SECTION_HEADER = re.compile(r"^_{3,} (?P<test>\S.*?) _{3,}$")


def failure_sections(log: str, tests: Sequence[str]) -> str:
    """The FAILURES sections of pytest's output (`____ test_x[chromium-control] ____` to the next
    header) for these tests: a failing control or equivalent must show why as a plain pytest run
    would, not only its name in the table."""
    wanted, kept, keep = set(tests), [], False
    for line in log.splitlines():
        header = _SECTION_HEADER.match(line)
        if header is not None or line.startswith("===="):
            keep = header is not None and header["test"] in wanted
        if keep:
            kept.append(line)
    return "\n".join(kept)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.mutants", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="pytest-xdist workers (default: twice the cores, at most 8: the catalogue mostly waits; "
        "0 runs in this process's pytest serially)",
    )
    parser.add_argument(
        "--app",
        default=REFERENCE,
        choices=sorted(APPS),
        help=f"the app under the mutants (default {REFERENCE}; production_shape: the example of examples/, "
        "its generated client, wire and page mutants)",
    )
    parser.add_argument("--only", default="", help="comma-separated mutant names (the control always runs)")
    parser.add_argument("--fail-fast", action="store_true", help="kept for old callers: every mutant is fail-fast")
    parser.add_argument("--list", action="store_true", help="list the catalogue and exit")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="generated mutants, the results, the JUnit report and evidence (default .mutants/, "
        ".mutants/APP/ for another app)",
    )
    parser.add_argument(
        "--record-samples",
        type=Path,
        nargs="?",
        const=REPO_ROOT / "tests" / "evidence_samples",
        default=None,
        help="copy each kill's evidence (gate_<mutant>.json) and each control test's (healthy_gate_<test>.json) "
        "into this folder (default tests/evidence_samples/), with index.json naming the rule of each",
    )
    parser.add_argument(
        "--from-results",
        action="store_true",
        help="do not run pytest: print the table (and record samples) from the last run's results.json",
    )
    parser.add_argument(
        "--write-kill-order",
        action="store_true",
        help=f"record each mutant's killing test in {_kill_order.KILL_ORDER_FILE.relative_to(REPO_ROOT)} "
        "(this app's section), so that the next run tries it first; commit the file",
    )
    parser.add_argument("pytest_args", nargs="*", help="passed on to pytest (after --)")
    args = parser.parse_args(argv)

    app: MutantApp = mutant_app(args.app)
    args.app = app
    default_workdir = REPO_ROOT / ".mutants" if app.name == REFERENCE else REPO_ROOT / ".mutants" / app.name
    args.workdir = (args.workdir or default_workdir).resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    catalogue = all_mutants(args.workdir, app)
    if args.list:
        for mutant in catalogue:
            print(f"{mutant.name:34} {mutant.side:8} {mutant.operator:24} {mutant.summary}")
        return 0
    if args.only:
        unknown = {n.strip() for n in args.only.split(",") if n.strip()} - {
            m.name for m in (*catalogue, *equivalent_mutants(args.workdir, app))
        }
        if unknown:
            parser.error(f"unknown mutants {sorted(unknown)}; see --list")

    report = args.workdir / "results.json"
    started = time.monotonic()
    if not args.from_results:
        report.unlink(missing_ok=True)
        count = len(args.only.split(",")) if args.only else len(catalogue)  # + the equivalent controls
        print(
            f"mutants: {count} mutants of {app.name} + the control in one pytest session; files in {args.workdir}",
            flush=True,
        )
        skipped = not_applicable(app)
        if skipped:
            print(f"mutants: not applicable to {app.name}'s client (its code differs there): {', '.join(skipped)}")
        command = pytest_command(args, report)
        completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        (args.workdir / "pytest.log").write_text(completed.stdout + completed.stderr, encoding="utf-8")
        if not report.is_file():
            print(completed.stdout[-3000:] + completed.stderr[-3000:], file=sys.stderr)
            print(f"mutants: pytest wrote no results (exit {completed.returncode})", file=sys.stderr)
            return 1
    elif not report.is_file():
        parser.error(f"--from-results: no {report}")
    seconds = float(json.loads(report.read_text(encoding="utf-8"))["seconds"]) if args.from_results else 0.0
    results = json.loads(report.read_text(encoding="utf-8"))["results"]
    rows = [Row.from_json(r) for r in results]
    if args.write_kill_order:
        kills = _kill_order.write(_kill_order.KILL_ORDER_FILE, app.name, results)
        print(f"mutants: {len(kills)} killing tests of {app.name} written to {_kill_order.KILL_ORDER_FILE}")
    if args.record_samples is not None:
        print(record_samples(results, args.record_samples, args.workdir / "evidence"))
    print(f"mutants: run report with the kill table: {write_kill_table(rows, args.workdir / 'evidence')}")
    print(format_table(rows))
    print()
    print(format_operators(rows))
    print(format_totals(rows, seconds or time.monotonic() - started))
    for row in rows:
        if row.expected_rule and row.verdict == "killed":
            print(f"mutants: {row.name} failed {len(row.failed)} scenarios, each named by {row.expected_rule}")
    bad = [row for row in rows if not row.ok]
    must_pass = [test for row in bad if row.side in ("control", "equivalent") for test in row.failed]
    if must_pass:
        print(failure_sections((args.workdir / "pytest.log").read_text(encoding="utf-8"), must_pass), file=sys.stderr)
    for row in bad:
        why = f": {'; '.join(row.errors)[:300]}" if row.errors else ""
        print(f"mutants: {row.name}: {row.verdict}{why}; log: {args.workdir / 'pytest.log'}", file=sys.stderr)
    if not any(row.name == CONTROL.name for row in rows):
        print("mutants: the control did not run", file=sys.stderr)
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
