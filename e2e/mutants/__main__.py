"""`python -m e2e.mutants` (`make mutants`): the e2e suite against every mutant in one pytest session.

One pytest session (`-p e2e.mutants.plugin`) runs the browser tests once per mutant and once for the
control (the correct system, which must pass in full), the browser launched once, servers swapped
per mutant, each mutant stopped at its first failing test. The table shows, per mutant, its
operator, the verdict, the killing test and the first line of the gate's diagnosis, and whether
that line was named by a rule (or is the fallback summary); then the kill rate per operator.
Exit status 1 when a mutant survives, a mutant errors or the control fails, so `make test` fails.
`--app A --app B` runs both apps' catalogues at once, a pytest session each, then prints their
tables one after the other (`make test` does, for the reference backend and the second app).
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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2e.mutants import _kill_order
from e2e.mutants._table import Row, format_operators, format_table, format_totals
from e2e.mutants.apps import APPS, REFERENCE, MutantApp, mutant_app
from e2e.mutants.catalogue import CONTROL, all_mutants, equivalent_mutants, not_applicable
from harness.evidence import SCHEMA_VERSION

REPO_ROOT = Path(__file__).resolve().parents[2]
MUTANTS_ROOT = REPO_ROOT / ".mutants"  # each app's files: the reference's here, another's in a folder of its name


# Workers for the catalogue: twice the cores, at most 8. Its work waits more than it computes (a kill
# is mostly an `expect` running out, 2 s of an idle browser): on 2 cores, one run of the reference
# catalogue kept 0.71 CPUs busy under `-n 2` (192.6 s, 137.5 CPU-s), and took 113 s under `-n 4` and
# 105 s under `-n 6` (the same CPU-s), before the tests of the mutants that run in full were spread.
def default_workers(cpus: int | None = None) -> int:
    return min(8, 2 * (cpus or os.cpu_count() or 1))


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


def pytest_command(args: argparse.Namespace, run: AppRun) -> list[str]:
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
        # pytest's unraisable-exception plugin collects garbage over the whole heap at the end of
        # every worker (a catalogue's session holds ~3000 items and their reports) for warnings that
        # do not change a verdict: both apps' catalogues at once took 253 CPU-s without it, 278 with.
        "-p",
        "no:unraisableexception",
        "-p",
        "e2e.mutants.plugin",
        f"--gate-mutants={args.only or 'all'}",
        f"--gate-mutants-dir={run.workdir}",
        f"--gate-mutants-app={run.app.name}",
        *run.app.pytest_args,
        f"--gate-mutants-report={run.report}",
        f"--output={run.workdir / 'evidence'}",
        f"--junitxml={run.workdir / 'mutants.xml'}",
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


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python -m e2e.mutants", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="pytest-xdist workers of each app's session (default: twice the cores, at most 8: the catalogue "
        "mostly waits; 0 runs in this process's pytest serially)",
    )
    parser.add_argument(
        "--app",
        action="append",
        choices=sorted(APPS),
        help=f"the app under the mutants (default {REFERENCE}; production_shape: the example of examples/, "
        "its generated client, wire and page mutants); given twice, both catalogues run at once, each in its "
        "own pytest session, and their tables follow one another",
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
    return parser, parser.parse_args(argv)


@dataclass(frozen=True)
class AppRun:
    """One app's catalogue: where its files go, its pytest session's results and log."""

    app: MutantApp
    workdir: Path

    @property
    def report(self) -> Path:
        return self.workdir / "results.json"

    @property
    def log(self) -> Path:
        return self.workdir / "pytest.log"


def start(args: argparse.Namespace, run: AppRun) -> subprocess.Popen[bytes]:
    """The app's pytest session, started (its output goes to its log, read when it has ended)."""
    run.report.unlink(missing_ok=True)
    count = len(args.only.split(",")) if args.only else len(all_mutants(run.workdir, run.app))
    print(f"mutants: {count} mutants of {run.app.name} + the control in one pytest session; files in {run.workdir}")
    skipped = not_applicable(run.app)
    if skipped:
        print(f"mutants: not applicable to {run.app.name}'s client (its code differs there): {', '.join(skipped)}")
    sys.stdout.flush()
    with run.log.open("wb") as log:  # the child keeps its own descriptor
        return subprocess.Popen(pytest_command(args, run), cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)


def finish(args: argparse.Namespace, run: AppRun, exit_code: int | None, seconds: float) -> int:
    """The app's table from its results, the kill order and samples when asked; 1 on a bad verdict."""
    log = run.log.read_text(encoding="utf-8", errors="replace") if run.log.is_file() else ""
    if not run.report.is_file():
        print(log[-6000:], file=sys.stderr)
        print(f"mutants: pytest wrote no results for {run.app.name} (exit {exit_code})", file=sys.stderr)
        return 1
    data = json.loads(run.report.read_text(encoding="utf-8"))
    results = data["results"]
    rows = [Row.from_json(r) for r in results]
    if args.write_kill_order:
        kills = _kill_order.write(_kill_order.KILL_ORDER_FILE, run.app.name, results)
        print(f"mutants: {len(kills)} killing tests of {run.app.name} written to {_kill_order.KILL_ORDER_FILE}")
    if args.record_samples is not None:
        print(record_samples(results, args.record_samples, run.workdir / "evidence"))
    print(f"mutants: run report with the kill table: {write_kill_table(rows, run.workdir / 'evidence')}")
    print(format_table(rows))
    print()
    print(format_operators(rows))
    print(format_totals(rows, float(data["seconds"]) if args.from_results else seconds))
    for row in rows:
        if row.expected_rule and row.verdict == "killed":
            print(f"mutants: {row.name} failed {len(row.failed)} scenarios, each named by {row.expected_rule}")
    sys.stdout.flush()
    bad = [row for row in rows if not row.ok]
    must_pass = [test for row in bad if row.side in ("control", "equivalent") for test in row.failed]
    if must_pass:
        print(failure_sections(log, must_pass), file=sys.stderr)
    for row in bad:
        why = f": {'; '.join(row.errors)[:300]}" if row.errors else ""
        print(f"mutants: {run.app.name}: {row.name}: {row.verdict}{why}; log: {run.log}", file=sys.stderr)
    if not any(row.name == CONTROL.name for row in rows):
        print(f"mutants: the control of {run.app.name} did not run", file=sys.stderr)
        return 1
    return 1 if bad else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser, args = parse_args(argv)
    apps = [mutant_app(name) for name in dict.fromkeys(args.app or [REFERENCE])]
    if len(apps) > 1 and (args.only or args.workdir or args.record_samples is not None):
        parser.error("--only, --workdir and --record-samples take one --app")

    def workdir_of(app: MutantApp) -> Path:
        default = MUTANTS_ROOT if app.name == REFERENCE else MUTANTS_ROOT / app.name
        return (args.workdir or default).resolve()

    runs = [AppRun(app, workdir_of(app)) for app in apps]
    for run in runs:
        run.workdir.mkdir(parents=True, exist_ok=True)
    if args.list:
        for run in runs:
            for mutant in all_mutants(run.workdir, run.app):
                print(f"{mutant.name:34} {mutant.side:8} {mutant.operator:24} {mutant.summary}")
        return 0
    if args.only:
        catalogue = [*all_mutants(runs[0].workdir, apps[0]), *equivalent_mutants(runs[0].workdir, apps[0])]
        unknown = {n.strip() for n in args.only.split(",") if n.strip()} - {m.name for m in catalogue}
        if unknown:
            parser.error(f"unknown mutants {sorted(unknown)}; see --list")
    if args.from_results:
        missing = [str(run.report) for run in runs if not run.report.is_file()]
        if missing:
            parser.error(f"--from-results: no {', '.join(missing)}")
        return max(finish(args, run, 0, 0.0) for run in runs)
    # Every app's session at once: the catalogues mostly wait (see `default_workers`), and two of them
    # side by side took 157 s on 2 cores where one after the other took 113 s each.
    started = time.monotonic()
    processes = [start(args, run) for run in runs]
    status = 0
    for run, process in zip(runs, processes, strict=True):
        exit_code = process.wait()
        status = max(status, finish(args, run, exit_code, time.monotonic() - started))
    return status


if __name__ == "__main__":
    sys.exit(main())
