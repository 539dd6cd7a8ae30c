"""CI shards: run one shard of a pytest suite (pytest-split), and merge the shards' JUnit XML.

    python scripts/shards.py run --shard 2/3 -- e2e -m 'not slow' -n 2 ...
    python scripts/shards.py merge --output merged.xml [--report-dir DIR ...] JUNIT_OR_DIR ...

`run` is pytest with `--splits N --group I --splitting-algorithm least_duration --durations-path
.test_durations` added. least_duration hands the longest tests out first, each to the group with the
least time so far, so every group gets a test whenever there are at least N tests (duration_based_chunks,
pytest-split's default, can leave a group empty). A shard that selects nothing (more shards than tests,
or `-k` deselected its share) makes pytest exit 5; `run` reports that and exits 0, because the shard
did not fail: whether the shards together ran anything is `merge`'s question (a merged report with no
test fails), so an empty selection overall still closes the gate.

`merge` merges the shards' JUnit files with junitparser (each suite renamed after its file, so a
failure names its shard), prints the totals and exits 1 if a file is unreadable, a test failed or
errored, or there is no test at all. With `--report-dir`, it also merges the shards' run reports into
`report.html` beside the merged JUnit file (`python -m harness.report merge DIR... -o ...`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from junitparser import JUnitXml, TestSuite

PYTEST_NO_TESTS_COLLECTED = 5
DEFAULT_DURATIONS = ".test_durations"
SPLITTING_ALGORITHM = "least_duration"
REPORT_MODULE = "harness.report"


@dataclass(frozen=True)
class Shard:
    index: int
    """1-based, as pytest-split's `--group` and the GitHub matrix count."""
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`"2/3"` -> Shard(2, 3); a clear error for anything else."""
        index_text, slash, count_text = text.partition("/")
        if not slash or not index_text.strip().isdigit() or not count_text.strip().isdigit():
            raise ValueError(f"a shard is INDEX/COUNT, e.g. 1/2; got {text!r}")
        shard = cls(int(index_text), int(count_text))
        if not 1 <= shard.index <= shard.count:
            raise ValueError(f"shard index must be between 1 and the count; got {text!r}")
        return shard

    def pytest_args(self, durations: Path) -> list[str]:
        return [
            f"--splits={self.count}",
            f"--group={self.index}",
            f"--splitting-algorithm={SPLITTING_ALGORITHM}",
            f"--durations-path={durations}",
        ]


def run_shard(shard: Shard, pytest_args: Sequence[str], durations: Path) -> int:
    command = [sys.executable, "-m", "pytest", *pytest_args, *shard.pytest_args(durations)]
    print(f"shards: shard {shard.index}/{shard.count}: {' '.join(command)}", flush=True)
    exit_code = subprocess.call(command)
    if exit_code == PYTEST_NO_TESTS_COLLECTED:
        print(
            f"shards: shard {shard.index}/{shard.count} selected no test (pytest exit 5): more shards than "
            f"tests, or the filters deselected this shard's share; not a failure of this shard (the merged "
            f"report fails if no shard ran a test)",
            flush=True,
        )
        return 0
    return exit_code


@dataclass(frozen=True)
class Totals:
    files: int
    tests: int
    failures: int
    errors: int
    skipped: int

    @property
    def ok(self) -> bool:
        return self.tests > 0 and self.failures == 0 and self.errors == 0

    def line(self) -> str:
        return (
            f"{self.tests} tests from {self.files} file(s): {self.failures} failed, {self.errors} errors, "
            f"{self.skipped} skipped"
        )


def junit_files(paths: Sequence[Path]) -> list[Path]:
    """The files given, and every `*.xml` below each directory given, in a stable order."""
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(path.rglob("*.xml")) if path.is_dir() else [path])
    return found


def merge_junit(inputs: Sequence[Path], output: Path) -> Totals:
    """Merge `inputs` into `output`; raises ValueError naming a file that is not JUnit XML."""
    merged = JUnitXml()
    for path in inputs:
        try:
            parsed = JUnitXml.fromfile(str(path))
        except Exception as exc:  # junitparser raises lxml's or ElementTree's own errors
            raise ValueError(f"{path} is not a JUnit XML file: {exc}") from exc
        suites = [parsed] if isinstance(parsed, TestSuite) else list(parsed)
        # The artifact's folder (one per shard) and the pass: "junit-chromium-py3.11-shard1/e2e".
        label = f"{path.parent.name}/{path.stem}"
        for suite in suites:
            # pytest names every suite "pytest", which says nothing; another tool's name is kept.
            suite.name = label if suite.name in (None, "", "pytest") else f"{label}/{suite.name}"
            merged.add_testsuite(suite)
    merged.update_statistics()  # type: ignore[no-untyped-call]
    output.parent.mkdir(parents=True, exist_ok=True)
    merged.write(str(output))
    return Totals(
        files=len(inputs),
        tests=int(merged.tests or 0),
        failures=int(merged.failures or 0),
        errors=int(merged.errors or 0),
        skipped=int(merged.skipped or 0),
    )


def merge_reports(report_dirs: Sequence[Path], out: Path) -> int:
    """The run report over every shard's output (`python -m harness.report merge DIR... -o OUT`)."""
    existing = [str(d) for d in report_dirs if d.is_dir()]
    if not existing:
        print(f"shards: no run report directory among {[str(d) for d in report_dirs]}: nothing to merge", flush=True)
        return 1
    return subprocess.call([sys.executable, "-m", REPORT_MODULE, "merge", *existing, "-o", str(out)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/shards.py", description=(__doc__ or "").splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one shard: pytest ARGS with pytest-split's options added")
    run.add_argument("--shard", required=True, help="INDEX/COUNT, 1-based, e.g. 1/2")
    run.add_argument("--durations", type=Path, default=Path(DEFAULT_DURATIONS), help="pytest-split durations file")
    run.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: the pytest arguments")
    merge = commands.add_parser("merge", help="merge JUnit XML files (or directories of them) into one")
    merge.add_argument("--output", type=Path, required=True)
    merge.add_argument("--report-dir", type=Path, action="append", default=[], help="a shard's run report folder")
    merge.add_argument("inputs", type=Path, nargs="+")
    args = parser.parse_args(argv)

    if args.command == "run":
        try:
            shard = Shard.parse(args.shard)
        except ValueError as exc:
            parser.error(str(exc))
        pytest_args = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
        return run_shard(shard, pytest_args, args.durations)

    files = junit_files(args.inputs)
    if not files:
        print(f"shards: no JUnit XML file in {[str(p) for p in args.inputs]}: no shard reported", file=sys.stderr)
        return 1
    try:
        totals = merge_junit(files, args.output)
    except ValueError as exc:
        print(f"shards: {exc}", file=sys.stderr)
        return 1
    print(f"shards: merged into {args.output}: {totals.line()}", flush=True)
    report_status = merge_reports(args.report_dir, args.output.with_name("report.html")) if args.report_dir else 0
    if totals.tests == 0:
        print("shards: the shards ran no test at all: the gate cannot pass on nothing", file=sys.stderr)
        return 1
    return (0 if totals.ok else 1) or report_status


if __name__ == "__main__":
    sys.exit(main())
