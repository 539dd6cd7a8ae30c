"""What the machine is and how busy it was, and the memory of a process tree, read from /proc (Linux)."""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

PROC = Path("/proc")
# Names of the browser's own processes (the main one, renderers, GPU/utility processes, crashpad).
BROWSER_PROCESS_MARKERS: tuple[str, ...] = ("chrom", "headless_shell")


class MachineInfo(BaseModel):
    nproc: int
    cpu_model: str
    python: str
    platform: str


def machine_info() -> MachineInfo:
    return MachineInfo(
        nproc=os.cpu_count() or 0,
        cpu_model=_cpu_model(),
        python=sys.version.split()[0],
        platform=platform.platform(),
    )


def _cpu_model() -> str:
    try:
        for line in (PROC / "cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def own_peak_rss_mb() -> float:
    """Peak resident set of this process (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(frozen=True)
class ProcessMemory:
    pid: int
    name: str
    peak_rss_kb: int  # VmHWM: the process's own high-water mark
    rss_kb: int  # VmRSS now
    pss_kb: int  # proportional set now: shared pages divided among their users, so sums are fair


class TreeMemory(BaseModel):
    """Memory of the browser processes below one process, in MiB."""

    processes: int
    peak_rss_sum_mb: float
    """Sum of each process's VmHWM: an upper bound of the peak (shared pages are counted per process)."""
    pss_sum_mb: float
    """Sum of each process's PSS at the moment of measuring: the fair current footprint."""
    driver_peak_rss_mb: float
    """Playwright's Node driver (VmHWM), kept apart from the browser."""


def _status_fields(pid: int) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _kb(value: str) -> int:
    return int(value.split()[0]) if value else 0


def _pss_kb(pid: int) -> int:
    try:
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return _kb(line.split(":", 1)[1])
    except OSError:
        pass
    return 0


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(_status_fields(int(entry.name)).get("PPid", "0"))
        except (OSError, ValueError):
            continue  # the process ended while we looked
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def descendants(root_pid: int) -> list[ProcessMemory]:
    """Every live process below `root_pid`, with its memory figures."""
    children = _children_map()
    found: list[ProcessMemory] = []
    stack = list(children.get(root_pid, []))
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            fields = _status_fields(pid)
            name = Path(os.readlink(PROC / str(pid) / "exe")).name
        except OSError:
            continue
        found.append(
            ProcessMemory(
                pid=pid,
                name=name,
                peak_rss_kb=_kb(fields.get("VmHWM", "")),
                rss_kb=_kb(fields.get("VmRSS", "")),
                pss_kb=_pss_kb(pid),
            )
        )
    return found


def is_browser_process(name: str) -> bool:
    return any(marker in name for marker in BROWSER_PROCESS_MARKERS)


def browser_tree_memory(processes: list[ProcessMemory]) -> TreeMemory:
    browser = [p for p in processes if is_browser_process(p.name)]
    driver = [p for p in processes if p.name == "node"]
    return TreeMemory(
        processes=len(browser),
        peak_rss_sum_mb=sum(p.peak_rss_kb for p in browser) / 1024,
        pss_sum_mb=sum(p.pss_kb for p in browser) / 1024,
        driver_peak_rss_mb=sum(p.peak_rss_kb for p in driver) / 1024,
    )


def browser_memory_below(root_pid: int) -> TreeMemory:
    """The browser's memory: Chromium processes below `root_pid` (Playwright's driver is their parent)."""
    return browser_tree_memory(descendants(root_pid))


def cpu_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all CPUs; /proc/stat's first line)."""
    fields = (PROC / "stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU seconds of this process's finished children (and the descendants they waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


_PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>


def become_subreaper() -> bool:
    """Adopt our orphaned descendants (Linux `PR_SET_CHILD_SUBREAPER`); True if it worked.

    Chromium's helper processes outlive their parents at shutdown and are re-parented; without this
    they go to init, and their CPU time never reaches our `RUSAGE_CHILDREN` (about half of a flow's).
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def reap_orphans() -> int:
    """Wait for adopted descendants that have exited, so that their CPU time is counted; how many."""
    reaped = 0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped += 1


class BackgroundMeter:
    """How much of the machine other work used while we measured: the noise behind a figure.

    Machine-wide busy CPU time minus our own (this process and its descendants, orphans included once
    `become_subreaper()` was called), over the wall time, as a fraction of all CPUs. The load average
    cannot tell: it counts our own processes too.
    """

    def __init__(self) -> None:
        self._machine = 0.0
        self._ours = 0.0
        self._wall = 0.0
        self._start: tuple[float, float, float] | None = None

    def _sample(self) -> tuple[float, float, float]:
        reap_orphans()
        own = resource.getrusage(resource.RUSAGE_SELF)
        return cpu_busy_seconds(), children_cpu_seconds() + own.ru_utime + own.ru_stime, time.monotonic()

    def __enter__(self) -> BackgroundMeter:
        self._start = self._sample()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._start is not None, "BackgroundMeter exited without entering"
        machine, ours, wall = self._sample()
        self._machine += machine - self._start[0]
        self._ours += ours - self._start[1]
        self._wall += wall - self._start[2]
        self._start = None

    @property
    def fraction(self) -> float:
        """Share of all CPUs busy with other work while inside the meter (0..1)."""
        if self._wall <= 0:
            return 0.0
        others = max(0.0, self._machine - self._ours)
        return min(1.0, others / (self._wall * (os.cpu_count() or 1)))


QUIET_WINDOW_S = 1.0
QUIET_WINDOWS_NEEDED = 3


def wait_for_quiet(max_wait_s: float, threshold: float) -> tuple[float, float]:
    """Wait until other work uses less than `threshold` of all CPUs for a few seconds in a row, or
    `max_wait_s` passed; returns (seconds waited, busy fraction of the last window).

    Sampled in one-second windows: there is no event for "the machine is idle", and the load
    average reacts over a minute. Call it while running nothing of our own.
    """
    started = time.monotonic()
    quiet_windows = 0
    fraction = 1.0
    pause = threading.Event()  # never set: each wait is one sampling window
    while time.monotonic() - started < max_wait_s:
        before, at = cpu_busy_seconds(), time.monotonic()
        pause.wait(QUIET_WINDOW_S)
        fraction = (cpu_busy_seconds() - before) / ((time.monotonic() - at) * (os.cpu_count() or 1))
        quiet_windows = quiet_windows + 1 if fraction < threshold else 0
        if quiet_windows >= QUIET_WINDOWS_NEEDED:
            break
    return time.monotonic() - started, fraction
