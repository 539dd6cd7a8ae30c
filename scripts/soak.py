"""`make soak`: the e2e suite N times in a row under pytest-xdist, and a table of every test that failed.

    python scripts/soak.py --runs 10 [--workers 2] [--busy-core] [--redis-url URL] [-- extra pytest args]

Each run is a fresh `pytest e2e -m "not slow" -n WORKERS` with its own output folder
(`test-results/soak/run-NN/`: Playwright artifacts and the gate's SSE evidence, one folder per
failed test), its log (`run-NN.log`) and JUnit XML (`run-NN.xml`). `--busy-core` keeps one CPU
busy during every run (a separate process in a bounded busy loop, stopped with the run) to shake
out timing assumptions. A test that failed in some runs but not all is a flake; the table lists
each failing test with the runs it failed in and its evidence folders. Exit status: 0 when no test
failed in any run, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slugify import slugify

REPO = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_S = 900.0
BUSY_LOOP = "import time, sys\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"


@dataclass
class Failure:
    nodeid: str
    runs: list[int] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    first_line: str = ""


@dataclass
class Run:
    index: int
    exit_code: int
    wall_s: float
    tests: int
    failed: list[tuple[str, str]]  # (nodeid, first line of the failure message)


def _nodeid(case: ET.Element) -> str:
    classname, name = case.get("classname", ""), case.get("name", "")
    module, _, klass = classname.partition(".")
    path = classname.replace(".", "/")
    # JUnit gives `e2e.test_x` (module) or `e2e.test_x.TestClass`; map back to pytest's node id.
    parts = path.split("/")
    for cut in range(len(parts), 0, -1):
        candidate = REPO / ("/".join(parts[:cut]) + ".py")
        if candidate.exists():
            rest = parts[cut:]
            return "::".join(["/".join(parts[:cut]) + ".py", *rest, name])
    return f"{classname}::{name}" if module or klass else name


def read_junit(path: Path) -> tuple[int, list[tuple[str, str]]]:
    if not path.exists():
        return 0, []
    root = ET.parse(path).getroot()
    tests, failed = 0, []
    for case in root.iter("testcase"):
        tests += 1
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            message = (problem.get("message") or problem.text or "").strip().splitlines()
            failed.append((_nodeid(case), message[0][:160] if message else ""))
    return tests, failed


def evidence_folders(run_dir: Path, nodeid: str) -> list[str]:
    """pytest-playwright's per-test output folder is the slug of the node id (parametrized ones too)."""
    slug = slugify(nodeid)
    if not run_dir.is_dir():
        return []
    return sorted(str(p.relative_to(REPO)) for p in run_dir.iterdir() if p.is_dir() and p.name.startswith(slug[:60]))


def soak_once(index: int, args: argparse.Namespace, out: Path) -> Run:
    run_dir = out / f"run-{index:02d}"
    # Beside the run's folder, not in it: the gate empties its --output folder when a session starts.
    junit = out / f"run-{index:02d}.xml"
    log_path = out / f"run-{index:02d}.log"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "e2e",
        "-m",
        "not slow",
        "-n",
        str(args.workers),
        "--browser",
        args.browser,
        "--output",
        str(run_dir),
        f"--junitxml={junit}",
        "-q",
        "-p",
        "no:randomly",
    ]
    if args.redis_url:
        command += ["--redis-url", args.redis_url]
    command += args.pytest_args
    busy = None
    if args.busy_core:
        busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(RUN_TIMEOUT_S)])
    started = time.monotonic()
    try:
        with log_path.open("w") as log:
            try:
                code = subprocess.run(
                    command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, timeout=RUN_TIMEOUT_S
                ).returncode
            except subprocess.TimeoutExpired:
                code = -1
    finally:
        if busy is not None:
            busy.kill()
            busy.wait(10)
    tests, failed = read_junit(junit)
    return Run(index, code, time.monotonic() - started, tests, failed)


def table(runs: Sequence[Run], out: Path) -> str:
    failures: dict[str, Failure] = {}
    for run in runs:
        for nodeid, line in run.failed:
            failure = failures.setdefault(nodeid, Failure(nodeid, first_line=line))
            failure.runs.append(run.index)
            failure.evidence += evidence_folders(out / f"run-{run.index:02d}", nodeid) or [
                str((out / f"run-{run.index:02d}.log").relative_to(REPO))
            ]
    lines = [
        f"soak: {len(runs)} runs, {sum(r.tests for r in runs)} test runs, "
        f"{sum(len(r.failed) for r in runs)} failures in {len(failures)} test(s); "
        f"runs with a failure: {sum(1 for r in runs if r.failed or r.exit_code not in (0,))}",
        "",
        "| run | exit | tests | failed | wall |",
        "| --- | --- | --- | --- | --- |",
        *(f"| {r.index} | {r.exit_code} | {r.tests} | {len(r.failed)} | {r.wall_s:.0f} s |" for r in runs),
    ]
    if failures:
        lines += ["", "| test | failed in runs | kind | first line | evidence |", "| --- | --- | --- | --- | --- |"]
        for failure in sorted(failures.values(), key=lambda f: -len(f.runs)):
            kind = "always" if len(failure.runs) == len(runs) else "flake"
            lines.append(
                f"| {failure.nodeid} | {', '.join(map(str, failure.runs))} | {kind} | {failure.first_line} |"
                f" {' '.join(failure.evidence)} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make soak", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="how many times to run the suite (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (default 2)")
    parser.add_argument("--busy-core", action="store_true", help="keep one CPU busy during each run")
    parser.add_argument("--browser", default="chromium")
    parser.add_argument("--redis-url", help="run on a real Redis (--redis-url for pytest)")
    parser.add_argument("--output", type=Path, default=REPO / "test-results" / "soak")
    parser.add_argument("pytest_args", nargs="*", help="after --: more pytest arguments")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    out = args.output.resolve()
    out.mkdir(parents=True, exist_ok=True)
    runs = []
    for index in range(1, args.runs + 1):
        run = soak_once(index, args, out)
        runs.append(run)
        print(
            f"soak: run {index}/{args.runs}: exit {run.exit_code}, {run.tests} tests, {len(run.failed)} failed, "
            f"{run.wall_s:.0f} s",
            flush=True,
        )
    report = table(runs, out)
    (out / "soak.md").write_text(report + "\n")
    print(report)
    print(f"\nsoak: table in {out / 'soak.md'}")
    return 0 if all(not r.failed and r.exit_code == 0 for r in runs) else 1


if __name__ == "__main__":
    os.chdir(REPO)
    raise SystemExit(main())
