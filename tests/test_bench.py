"""The benchmark's pure parts: statistics, judgement against targets, the results document, the tables.

No timing here: `make bench` measures; these tests only check that what it reports is computed right.
"""

from __future__ import annotations

import json

import pytest

from bench.machine import MachineInfo, ProcessMemory, TreeMemory, browser_tree_memory
from bench.records import BatchRecord, IterationTiming, LatencyRecord, LatencySample
from bench.results import (
    SCHEMA_VERSION,
    Results,
    SuiteRun,
    judge,
    latency_figures,
    memory_figures,
    overhead_figures,
    startup_figures,
    suite_figures,
    targets_for,
)
from bench.stats import percentile, ratio, summarize
from bench.table import format_table, render

BROWSER = TreeMemory(processes=5, peak_rss_sum_mb=600.0, pss_sum_mb=200.0, driver_peak_rss_mb=140.0)


def batch(kind: str, walls: list[float], *, spawned: float = 100.0, peak_rss_mb: float = 80.0) -> BatchRecord:
    return BatchRecord.model_validate(
        {
            "kind": kind,
            "ready_at": {"frontend": spawned + 1.0, "backend": spawned + 1.5, "browser": spawned + 2.5},
            "first_flow_at": spawned + 3.0,
            "iterations": [IterationTiming(wall_s=wall, phases={"call": wall / 2}) for wall in walls],
            "peak_rss_mb": peak_rss_mb,
            "browser": BROWSER,
        }
    )


def run(wall_s: float, cpu_s: float) -> SuiteRun:
    return SuiteRun(wall_s=wall_s, cpu_s=cpu_s, exit_code=0)


# --- statistics ------------------------------------------------------------------------------------


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile(list(range(101)), 0.95) == pytest.approx(95.0)
    assert percentile([1.0, 2.0], 0.5) == pytest.approx(1.5)
    assert percentile([1.0, 3.0, 2.0], 0.0) == 1.0
    assert percentile([1.0, 3.0, 2.0], 1.0) == 3.0
    assert percentile([4.0], 0.95) == 4.0


def test_percentile_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match="1.5"):
        percentile([1.0], 1.5)


def test_summary_of_samples() -> None:
    summary = summarize([0.3, 0.1, 0.2, 0.4])
    assert (summary.n, summary.min, summary.max) == (4, 0.1, 0.4)
    assert summary.median == pytest.approx(0.25)
    assert summary.p95 == pytest.approx(0.385)
    with pytest.raises(ValueError, match="empty"):
        summarize([])


def test_ratio_refuses_a_zero_denominator() -> None:
    assert ratio(3.0, 2.0) == 1.5
    with pytest.raises(ValueError, match="0.0"):
        ratio(1.0, 0.0)


# --- judgement -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "comparison", "limit", "met"),
    [(1.25, "<=", 1.25, True), (1.26, "<=", 1.25, False), (1.6, ">=", 1.6, True), (1.59, ">=", 1.6, False)],
)
def test_judge_compares_in_the_stated_direction(value: float, comparison: str, limit: float, met: bool) -> None:
    assert judge("x", value, comparison, limit, "x").met is met  # type: ignore[arg-type]


def test_overhead_drops_warm_up_and_session_closing_flows() -> None:
    # Harness: first (session set-up) and last (session teardown) are outliers and must not count.
    harness = batch("harness", [9.0, 1.2, 1.2, 1.2, 9.0])
    # Bare: only the first (cold page) is dropped.
    bare = batch("bare", [9.0, 1.0, 1.0, 1.0])
    figures = overhead_figures([(harness, bare)])
    assert figures.harness.n == figures.bare.n == 3
    assert figures.ratio == pytest.approx(1.2)
    assert figures.round_ratios == [pytest.approx(1.2)]
    assert figures.harness_phases == {"call": pytest.approx(0.6)}


def test_startup_is_the_last_part_ready_after_spawn() -> None:
    figures = startup_figures([(batch("harness", [1.0]), 100.0)], [(batch("bare", [1.0], spawned=50.0), 50.0)])
    assert figures.harness.median == pytest.approx(2.5)  # the browser, the last of the three
    assert figures.bare.median == pytest.approx(2.5)
    assert list(figures.harness_steps) == ["frontend", "backend", "browser", "first_page"]
    assert figures.harness_steps["first_page"] == pytest.approx(3.0)


def test_startup_refuses_a_batch_that_never_became_ready() -> None:
    incomplete = batch("harness", [1.0])
    del incomplete.ready_at["browser"]
    with pytest.raises(ValueError, match="browser"):
        startup_figures([(incomplete, 100.0)], [(batch("bare", [1.0]), 100.0)])


def test_latency_uses_the_conservative_bound_for_the_target() -> None:
    record = LatencyRecord(
        poll_interval_s=0.05,
        clock_offset_s=0.0,
        clock_offset_uncertainty_s=0.0005,
        samples=[LatencySample(before_write=10.0, after_write=10.01, on_page=10.0 + d) for d in (0.03, 0.05, 0.11)],
    )
    figures = latency_figures(record)
    assert figures.after_write.median == pytest.approx(0.04)
    assert figures.before_write.median == pytest.approx(0.05)
    assert figures.target_s == pytest.approx(0.1)
    overhead = overhead_figures([(batch("harness", [1, 1, 1]), batch("bare", [1, 1]))])
    latency_target = targets_for(overhead, None, [figures])[-1]
    assert latency_target.value == pytest.approx(figures.before_write.p95)
    assert latency_target.met is False  # p95 of (0.03, 0.05, 0.11) is above 0.1


def test_targets_cover_the_suite_only_when_it_was_measured() -> None:
    overhead = overhead_figures([(batch("harness", [1, 1, 1]), batch("bare", [1, 1]))])
    assert [t.name for t in targets_for(overhead, None, [])] == ["per-test overhead (harness / bare)"]
    suite = suite_figures("pytest e2e", [run(90.0, 126.0)], [run(60.0, 100.0)], nproc=2)
    names = [t.name for t in targets_for(overhead, suite, [])]
    assert names[-1] == "e2e suite speed-up (serial / -n 2)"
    assert suite.speedup == pytest.approx(1.5)


def test_suite_ceiling_is_what_the_cpus_allow() -> None:
    # Serial: 90 s wall, 126 CPU-s (1.4 CPUs busy). -n 2: 100 CPU-s on 2 CPUs take at least 50 s.
    suite = suite_figures("pytest e2e", [run(90.0, 126.0)], [run(60.0, 100.0)], nproc=2)
    assert suite.serial_cores_busy == pytest.approx(1.4)
    assert suite.parallel_cores_busy == pytest.approx(100.0 / 60.0)
    assert suite.speedup_ceiling == pytest.approx(90.0 / 50.0)


# --- the document and the tables -------------------------------------------------------------------


def sample_results() -> Results:
    harness, bare = batch("harness", [5.0, 1.5, 1.5, 1.5, 5.0]), batch("bare", [5.0, 1.0, 1.0, 1.0])
    overhead = overhead_figures([(harness, bare)])
    suite = suite_figures("pytest e2e", [run(90.0, 90.0)], [run(50.0, 80.0)], nproc=2)
    latency = [
        latency_figures(
            LatencyRecord(
                poll_interval_s=0.05,
                clock_offset_s=0.0,
                clock_offset_uncertainty_s=0.0,
                samples=[LatencySample(before_write=1.0, after_write=1.001, on_page=1.03)],
            )
        )
    ]
    return Results(
        started_at="2026-01-01T00:00:00+00:00",
        duration_s=300.0,
        settings={"quick": False, "rounds": 1},
        machine=MachineInfo(nproc=2, cpu_model="test CPU", python="3.11.7", platform="Linux"),
        load_start=(0.5, 0.4, 0.3),
        load_end=(0.6, 0.5, 0.4),
        background_cpu={"per-test rounds": 0.05},
        settle_waited_s=0.0,
        startup=startup_figures([(harness, 100.0)], [(bare, 100.0)]),
        overhead=overhead,
        suite=suite,
        latency=latency,
        memory=memory_figures([harness], [bare]),
        targets=targets_for(overhead, suite, latency),
        notes=["a note"],
    )


def test_results_document_round_trips_with_its_schema_version() -> None:
    results = sample_results()
    document = json.loads(results.model_dump_json())
    assert document["schema_version"] == SCHEMA_VERSION
    assert {"machine", "load_start", "load_end", "startup", "overhead", "suite", "latency", "memory", "targets"} <= set(
        document
    )
    assert [target["met"] for target in document["targets"]] == [False, True, True]
    assert Results.model_validate(document) == results


def test_results_schema_rejects_a_missing_figure() -> None:
    document = json.loads(sample_results().model_dump_json())
    del document["overhead"]["ratio"]
    with pytest.raises(ValueError, match="ratio"):
        Results.model_validate(document)


def test_table_aligns_columns_and_checks_row_width() -> None:
    table = format_table(["a", "bb"], [["xxx", "y"], ["z", "wwww"]])
    assert table.splitlines() == ["a    bb", "---  ----", "xxx  y", "z    wwww"]
    with pytest.raises(ValueError, match="3 cells"):
        format_table(["a", "b"], [["1", "2", "3"]])


def test_render_shows_figures_verdicts_load_and_notes() -> None:
    text = render(sample_results())
    overhead_line = next(line for line in text.splitlines() if line.startswith("per-test overhead"))
    assert "1.50x" in overhead_line and "<= 1.25x" in overhead_line and overhead_line.endswith("MISSED")
    suite_line = next(line for line in text.splitlines() if line.startswith("e2e suite wall"))
    assert "90.00 s / 50.00 s = 1.80x" in suite_line and suite_line.endswith("met")
    assert "serial 1.00, -n 2 1.60 of 2; CPU-bound ceiling of the speed-up 2.25x" in text
    assert "0.50 0.40 0.30 at start" in text
    assert "note: a note" in text


def test_browser_memory_counts_browser_processes_and_the_driver_apart() -> None:
    processes = [
        ProcessMemory(pid=1, name="node", peak_rss_kb=100 * 1024, rss_kb=0, pss_kb=0),
        ProcessMemory(pid=2, name="chromium", peak_rss_kb=300 * 1024, rss_kb=0, pss_kb=50 * 1024),
        ProcessMemory(pid=3, name="chrome_crashpad_handler", peak_rss_kb=10 * 1024, rss_kb=0, pss_kb=2 * 1024),
        ProcessMemory(pid=4, name="cat", peak_rss_kb=999 * 1024, rss_kb=0, pss_kb=999 * 1024),
    ]
    memory = browser_tree_memory(processes)
    assert (memory.processes, memory.peak_rss_sum_mb, memory.pss_sum_mb, memory.driver_peak_rss_mb) == (
        2,
        310.0,
        52.0,
        100.0,
    )


# --- the command -----------------------------------------------------------------------------------


def test_a_broken_benchmark_exits_non_zero_with_a_readable_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench import run

    def broken(args: object) -> Results:
        raise run.BenchError("`pytest ...` exited with 4")

    monkeypatch.setattr(run, "measure", broken)
    assert run.main(["--quick"]) == 1
    assert "bench: error: `pytest ...` exited with 4" in capsys.readouterr().err


def test_nonsense_counts_are_refused() -> None:
    from bench import run

    with pytest.raises(SystemExit) as exit_info:
        run.parse_args(["--rounds", "0"])
    assert exit_info.value.code == 2
