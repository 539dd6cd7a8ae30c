"""`make bench` (`python bench/run.py`): how fast the gate is, against the floor of a bare Playwright script.

Measures, in one run (each in fresh subprocesses, so every figure starts from a cold process):
- start-up: from spawning the process until backend, frontend and browser are all ready;
- per-test overhead: the e2e happy path through the harness (pytest, `bench/scenarios`) against the
  same flow by a bare Playwright script (`bench.bare_flow`), in alternating batches so that machine
  noise hits both sides; median walls and their ratio;
- the e2e suite's wall time serially and with `-n 2` (skipped by `--quick`);
- event latency, state written to Redis -> text on the page, at the test and production poll intervals;
- peak memory of the test process and of the browser;
- load (`bench/load.py`): concurrent POSTs and held streams against the API in its own process:
  every status, streams held, server memory per stream, time to first event.
Prints tables and writes `.bench/results.json`. Exits 0 even when a target is missed (it is a report);
non-zero only when the benchmark itself could not run.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    # Run as a script (`python bench/run.py`), Python puts bench/ itself on the path, not the
    # repository: add it so that `bench.*`, `harness` and `drafts_api` import the same way as in tests.
    sys.path.insert(0, str(REPO))

from bench.load import DEFAULT_POSTS, DEFAULT_STREAMS, LoadFigures  # noqa: E402
from bench.machine import (  # noqa: E402
    BackgroundMeter,
    become_subreaper,
    children_cpu_seconds,
    load_average,
    machine_info,
    reap_orphans,
    wait_for_quiet,
)
from bench.records import BatchRecord, LatencyRecord  # noqa: E402
from bench.results import (  # noqa: E402
    Results,
    SuiteRun,
    latency_figures,
    memory_figures,
    overhead_figures,
    startup_figures,
    suite_figures,
    targets_for,
)
from bench.stack import PRODUCTION_POLL_INTERVAL_S, TEST_POLL_INTERVAL_S  # noqa: E402
from bench.table import render  # noqa: E402

DEFAULT_OUTPUT = REPO / ".bench" / "results.json"
WORK_DIR = REPO / ".bench" / "work"
HAPPY_PATH_MODULE = "bench/scenarios/test_happy_path_bench.py"
SUITE_ARGS = ("e2e", "-m", "not slow")
BATCH_TIMEOUT_S = 600.0
SUITE_TIMEOUT_S = 1200.0
LOG_TAIL_LINES = 25
NOISY_BACKGROUND = 0.10  # other work above this share of the CPUs while measuring: say so


class BenchError(RuntimeError):
    """The benchmark itself could not run (a subprocess failed, timed out, or wrote no record)."""


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _tail(path: Path) -> str:
    lines = path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    return "\n".join(f"    {line}" for line in lines)


@dataclass(frozen=True)
class Finished:
    """A measuring subprocess that ended: spawned at `spawned_at` (wall clock), ran `wall_s`, used
    `cpu_s` of CPU with all its descendants (all of them only once we are their subreaper)."""

    args: list[str]
    log_path: Path
    spawned_at: float
    wall_s: float
    cpu_s: float
    exit_code: int

    def check(self) -> Finished:
        if self.exit_code != 0:
            raise BenchError(
                f"`{' '.join(self.args)}` exited with {self.exit_code}; the end of its output "
                f"({self.log_path}):\n{_tail(self.log_path)}"
            )
        return self


def run_process(args: Sequence[str], log_path: Path, timeout_s: float = BATCH_TIMEOUT_S) -> Finished:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    reap_orphans()
    cpu_before = children_cpu_seconds()
    with log_path.open("w") as log:
        start = time.perf_counter()
        spawned_at = time.time()
        # Its own session, so that a timeout kills the whole tree (pytest, Node driver, Chromium).
        process = subprocess.Popen(list(args), cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            exit_code = process.wait(timeout_s)
        except BaseException as exc:  # the timeout, or Ctrl-C: never leave a browser behind
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            if isinstance(exc, subprocess.TimeoutExpired):
                raise BenchError(
                    f"`{' '.join(args)}` did not finish within {timeout_s:.0f} s; output: {log_path}"
                ) from None
            raise
        wall_s = time.perf_counter() - start
    reap_orphans()
    return Finished(list(args), log_path, spawned_at, wall_s, children_cpu_seconds() - cpu_before, exit_code)


def _read_record(path: Path, process: Finished) -> BatchRecord:
    if not path.is_file():
        raise BenchError(f"`{' '.join(process.args)}` wrote no record at {path}; output:\n{_tail(process.log_path)}")
    return BatchRecord.read(path)


def harness_batch(index: int, flows: int) -> tuple[BatchRecord, float]:
    """`flows` steady flows need two more tests: the warm-up and the session-closing last one."""
    record = WORK_DIR / f"harness-{index}.json"
    args = [
        sys.executable,
        "-m",
        "pytest",
        HAPPY_PATH_MODULE,
        "-q",
        "--browser",
        "chromium",
        # Its own --output: pytest-playwright empties that folder when a session starts.
        "--output",
        str(WORK_DIR / "test-results" / f"harness-{index}"),
        f"--bench-iterations={flows + 2}",
        f"--bench-record={record}",
    ]
    process = run_process(args, WORK_DIR / "logs" / f"harness-{index}.log").check()
    return _read_record(record, process), process.spawned_at


def bare_batch(index: int, flows: int) -> tuple[BatchRecord, float]:
    record = WORK_DIR / f"bare-{index}.json"
    args = [sys.executable, "-m", "bench.bare_flow", "--iterations", str(flows + 1), "--record", str(record)]
    process = run_process(args, WORK_DIR / "logs" / f"bare-{index}.log").check()
    return _read_record(record, process), process.spawned_at


def latency_run(poll_interval: float, samples: int) -> LatencyRecord:
    record = WORK_DIR / f"latency-{poll_interval:g}.json"
    args = [
        sys.executable,
        "-m",
        "bench.latency",
        "--poll",
        str(poll_interval),
        "--samples",
        str(samples),
        "--record",
        str(record),
    ]
    process = run_process(args, WORK_DIR / "logs" / f"latency-{poll_interval:g}.log").check()
    if not record.is_file():
        raise BenchError(f"the latency run wrote no record; output:\n{_tail(process.log_path)}")
    return LatencyRecord.read(record)


def suite_run(workers: int, index: int) -> Finished:
    args = [
        sys.executable,
        "-m",
        "pytest",
        *SUITE_ARGS,
        "-n",
        str(workers),
        "--browser",
        "chromium",
        "-q",
        "--output",
        str(WORK_DIR / "test-results" / f"suite-n{workers}-{index}"),
    ]
    return run_process(args, WORK_DIR / "logs" / f"suite-n{workers}-{index}.log", SUITE_TIMEOUT_S)


def suite_record(run: Finished) -> SuiteRun:
    lines = [line.strip() for line in run.log_path.read_text(errors="replace").splitlines() if line.strip()]
    # pytest's last line: "29 passed, 1 deselected in 34.13s".
    return SuiteRun(wall_s=run.wall_s, cpu_s=run.cpu_s, exit_code=run.exit_code, summary=lines[-1] if lines else "")


class Conditions:
    """Waits for a quiet machine before each measured process (`--settle`), and meters other work."""

    def __init__(self, settle_s: float, threshold: float) -> None:
        self.settle_s = settle_s
        self.threshold = threshold
        self.waited_s = 0.0
        self.meters: dict[str, BackgroundMeter] = {}

    def before(self, section: str) -> BackgroundMeter:
        if self.settle_s > 0:
            waited, fraction = wait_for_quiet(self.settle_s, self.threshold)
            self.waited_s += waited
            if fraction >= self.threshold:
                say(f"the machine is still busy ({fraction:.0%} of the CPUs) after {waited:.0f} s; measuring anyway")
        return self.meters.setdefault(section, BackgroundMeter())

    def background(self) -> dict[str, float]:
        return {section: meter.fraction for section, meter in self.meters.items()}


LOAD_TIMEOUT_S = 300.0


def load_run(streams: int, posts: int) -> LoadFigures:
    """`python -m bench.load` in a fresh process (it starts the API in one more); its figures."""
    output = WORK_DIR / "load.json"
    log = WORK_DIR / "load.log"
    command = [sys.executable, "-m", "bench.load", "--streams", str(streams), "--posts", str(posts)]
    with log.open("w") as sink:
        try:
            code = subprocess.run(
                [*command, "--json-out", str(output)],
                cwd=REPO,
                stdout=sink,
                stderr=subprocess.STDOUT,
                timeout=LOAD_TIMEOUT_S,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            raise BenchError(f"the load run took over {LOAD_TIMEOUT_S:g} s; output: {log}") from None
    if code != 0 or not output.exists():
        raise BenchError(f"the load run exited with {code}; output: {log}\n{_tail(log)}")
    return LoadFigures.model_validate_json(output.read_text())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python bench/run.py", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the e2e suite timing (about 3 minutes)")
    parser.add_argument("--rounds", type=int, default=3, help="harness/bare batch pairs (default 3)")
    parser.add_argument("--flows", type=int, default=8, help="measured flows per batch (default 8)")
    parser.add_argument("--suite-rounds", type=int, default=1, help="serial + -n 2 suite runs (default 1)")
    parser.add_argument("--latency-samples", type=int, default=40, help="at the test poll (default 40)")
    parser.add_argument(
        "--production-latency-samples", type=int, default=16, help="at the production poll (default 16)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=20.0,
        help="before each measured process, wait up to this many seconds for other work to drop below "
        "--quiet-below (default 20; 0 disables)",
    )
    parser.add_argument(
        "--quiet-below",
        type=float,
        default=0.25,
        help="what counts as a quiet machine: busy share of all CPUs (default 0.25)",
    )
    parser.add_argument(
        "--load-streams", type=int, default=DEFAULT_STREAMS, help=f"concurrent streams (default {DEFAULT_STREAMS})"
    )
    parser.add_argument(
        "--load-posts", type=int, default=DEFAULT_POSTS, help=f"concurrent POSTs (default {DEFAULT_POSTS})"
    )
    parser.add_argument("--no-load", action="store_true", help="skip the load section (bench/load.py)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"JSON results (default {DEFAULT_OUTPUT})")
    args = parser.parse_args(argv)
    for name in ("rounds", "flows", "suite_rounds", "latency_samples", "production_latency_samples"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    return args


def measure(args: argparse.Namespace) -> Results:
    if not become_subreaper():
        say("cannot adopt orphaned browser processes here: the share of other work will read high")
    started = time.perf_counter()
    started_at = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    load_start = load_average()
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    WORK_DIR.mkdir(parents=True)

    conditions = Conditions(args.settle, args.quiet_below)

    def harness(index: int) -> tuple[BatchRecord, float]:
        with conditions.before("per-test rounds"):
            return harness_batch(index, args.flows)

    def bare(index: int) -> tuple[BatchRecord, float]:
        with conditions.before("per-test rounds"):
            return bare_batch(index, args.flows)

    rounds: list[tuple[tuple[BatchRecord, float], tuple[BatchRecord, float]]] = []
    for index in range(args.rounds):
        # Alternate which side goes first, so that neither always meets the same moment of a noisy machine.
        say(f"round {index + 1}/{args.rounds}: {args.flows} flows through the harness and by the bare script")
        if index % 2 == 0:
            harness_record = harness(index)
            bare_record = bare(index)
        else:
            bare_record = bare(index)
            harness_record = harness(index)
        rounds.append((harness_record, bare_record))

    latency = []
    for poll, samples in (
        (TEST_POLL_INTERVAL_S, args.latency_samples),
        (PRODUCTION_POLL_INTERVAL_S, args.production_latency_samples),
    ):
        say(f"event latency at poll {poll:g} s: {samples} samples")
        with conditions.before("latency"):
            latency.append(latency_figures(latency_run(poll, samples)))

    suite = None
    notes: list[str] = []
    if not args.quick:
        serial: list[Finished] = []
        parallel: list[Finished] = []
        for index in range(args.suite_rounds):
            for workers in (0, 2) if index % 2 == 0 else (2, 0):
                say(f"e2e suite with -n {workers} (run {index + 1}/{args.suite_rounds})")
                with conditions.before("e2e suite"):
                    process = suite_run(workers, index)
                (serial if workers == 0 else parallel).append(process)
                if process.exit_code != 0:
                    notes.append(
                        f"the e2e suite with -n {workers} exited with {process.exit_code} (failures make its "
                        f"wall time unrepresentative); output: {process.log_path}"
                    )
        suite = suite_figures(
            f"pytest {' '.join(SUITE_ARGS)} -n 0|2",
            serial=[suite_record(run) for run in serial],
            parallel=[suite_record(run) for run in parallel],
            nproc=os.cpu_count() or 1,
        )

    load = None
    if not args.no_load:
        say(f"load: {args.load_posts} POSTs, then {args.load_streams} streams held at once (bench/load.py)")
        with conditions.before("load"):
            load = load_run(args.load_streams, args.load_posts)

    load_end = load_average()
    machine = machine_info()
    background = conditions.background()
    noisy = {section: share for section, share in background.items() if share > NOISY_BACKGROUND}
    if noisy:
        notes.append(
            "other work used "
            + ", ".join(f"{share:.0%} of the CPUs during the {section}" for section, share in noisy.items())
            + ": absolute figures are inflated and spread; the harness/bare ratio, from alternating batches, "
            "less so. Re-run on a quiet machine for reference figures"
        )
    overhead = overhead_figures([(harness, bare) for (harness, _), (bare, _) in rounds])
    return Results(
        started_at=started_at,
        duration_s=time.perf_counter() - started,
        settings={
            "quick": args.quick,
            "rounds": args.rounds,
            "flows_per_batch": args.flows,
            "suite_rounds": args.suite_rounds,
            "latency_samples": args.latency_samples,
            "production_latency_samples": args.production_latency_samples,
            "settle_s": args.settle,
            "quiet_below": args.quiet_below,
            "load_streams": 0 if args.no_load else args.load_streams,
            "load_posts": 0 if args.no_load else args.load_posts,
        },
        machine=machine,
        load_start=load_start,
        background_cpu=background,
        settle_waited_s=conditions.waited_s,
        load_end=load_end,
        startup=startup_figures([harness for harness, _ in rounds], [bare for _, bare in rounds]),
        overhead=overhead,
        suite=suite,
        latency=latency,
        memory=memory_figures([h for (h, _), _ in rounds], [b for _, (b, _) in rounds]),
        load=load,
        targets=targets_for(overhead, suite, latency),
        notes=notes,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        results = measure(args)
    except BenchError as exc:
        say(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    print(render(results))
    results.write(args.output)
    print(f"\nresults: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
