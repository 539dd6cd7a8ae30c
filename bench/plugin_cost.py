"""What the installed gate plugin costs a pytest session that does not use it.

`python bench/plugin_cost.py [--runs N]`: runs pytest on a trivial, unrelated test file (two
asserts, in a temporary folder outside the repository) N times with the plugin and N times with
`-p no:harness.plugin`, alternating, and prints the median wall time and the median CPU time
(user + sys of the pytest process) of each, and their differences. CPU time is the figure to
trust on a busy machine: wall time there mostly measures the other work.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRIVIAL_TEST = "def test_arithmetic():\n    assert 1 + 1 == 2\n\n\ndef test_text():\n    assert 'a' in 'abc'\n"


def one_run(folder: Path, extra: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, "test_trivial.py"],
        cwd=folder,
        check=True,
        stdout=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    results: dict[str, list[tuple[float, float]]] = {"with the plugin": [], "-p no:harness.plugin": []}
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "test_trivial.py").write_text(TRIVIAL_TEST)
        one_run(Path(folder), [])  # warm the file cache and bytecode
        for _ in range(runs):
            results["with the plugin"].append(one_run(Path(folder), []))
            results["-p no:harness.plugin"].append(one_run(Path(folder), ["-p", "no:harness.plugin"]))
    medians = {
        name: (statistics.median(wall for wall, _ in runs_), statistics.median(cpu for _, cpu in runs_))
        for name, runs_ in results.items()
    }
    for name, (wall, cpu) in medians.items():
        print(f"{name:24} wall {wall:6.3f} s   cpu {cpu:6.3f} s   (median of {runs})")
    (on_wall, on_cpu), (off_wall, off_cpu) = medians.values()
    print(f"{'plugin cost':24} wall {on_wall - off_wall:+6.3f} s   cpu {on_cpu - off_cpu:+6.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
