"""The run report: one HTML page over every test of a run (every xdist worker), mergeable across shards.

Each pytest process appends one JSON line per test outcome to `<output>/sse-gate-results.<worker>.jsonl`
while it runs; the report is rendered from those lines and the per-test folders next to them, so the
same code renders one run (at session end) and several shards' downloaded `test-results/` folders
(`python -m harness.report merge DIR... -o report.html`).

Hand-written rather than pytest-html: pytest-html renders one pytest run from its own in-memory
results, with no way to merge shards afterwards, and the report must also carry the mutant kill
table; the gate still feeds pytest-html (a link to the timeline and the diagnosis line as extras,
when it is installed and `--html` is given) and JUnit XML (`sse_gate_diagnosis` properties).

The mutant kill table is read from `mutants.json` in any given folder, of this shape (the mutant
runner, or anything else, writes it):

    {"mutants": [{"name": "original_onmessage", "kind": "client", "verdict": "killed",
                  "failed_tests": ["e2e/test_x.py::test_y[chromium]"], "diagnosis": "backend sent ...",
                  "seconds": 12.3}]}
"""

from __future__ import annotations

import html
import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from harness.report._names import EVIDENCE_FILE, MUTANTS_FILE, RESULTS_PREFIX, TIMELINE_FILE

BAD_OUTCOMES: Final = ("failed", "error", "xpassed")


@dataclass(frozen=True)
class ResultEntry:
    """One test's outcome, as a pytest process recorded it."""

    test_id: str
    outcome: str  # passed | failed | error | skipped | xfailed | xpassed
    when: str
    duration: float
    first_line: str = ""
    folder: str = ""  # the test's output folder, relative to the results root ("" when none)
    worker: str = "main"
    t: float = 0.0


def record_result(results_root: Path, entry: ResultEntry) -> Path:
    """Append `entry` to this worker's results file (one file per worker: no two writers share one)."""
    results_root.mkdir(parents=True, exist_ok=True)
    path = results_root / f"{RESULTS_PREFIX}.{entry.worker}.jsonl"
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")
    return path


@dataclass(frozen=True)
class LoadedEntry:
    root: Path
    entry: ResultEntry


def load_results(roots: Iterable[Path]) -> list[LoadedEntry]:
    """Every entry under each root (a run's output folder, or a folder of downloaded shards)."""
    loaded: list[LoadedEntry] = []
    fields = set(ResultEntry.__dataclass_fields__)
    for root in roots:
        if not root.is_dir():
            raise FileNotFoundError(f"not a folder: {root}")
        for path in sorted(root.rglob(f"{RESULTS_PREFIX}.*.jsonl")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    entry = ResultEntry(**{k: v for k, v in row.items() if k in fields})
                except (ValueError, TypeError) as exc:
                    raise ValueError(f"{path}:{number}: not a result entry ({exc}): {line[:200]!r}") from exc
                loaded.append(LoadedEntry(path.parent, entry))
    return loaded


@dataclass(frozen=True)
class MutantRow:
    name: str
    kind: str
    verdict: str
    failed_tests: tuple[str, ...]
    diagnosis: str
    seconds: float | None


def load_mutants(roots: Iterable[Path]) -> list[MutantRow]:
    rows: list[MutantRow] = []
    for root in roots:
        path = root / MUTANTS_FILE
        if not path.is_file():
            continue
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        mutants = data.get("mutants") if isinstance(data, dict) else None
        if not isinstance(mutants, list):
            raise ValueError(f'{path}: expected {{"mutants": [...]}}, got {str(data)[:200]!r}')
        for item in mutants:
            rows.append(
                MutantRow(
                    name=str(item.get("name", "?")),
                    kind=str(item.get("kind", "")),
                    verdict=str(item.get("verdict", "?")),
                    failed_tests=tuple(str(t) for t in item.get("failed_tests") or ()),
                    diagnosis=str(item.get("diagnosis", "")),
                    seconds=float(item["seconds"]) if item.get("seconds") is not None else None,
                )
            )
    return rows


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _links(folder: Path, base: Path) -> list[tuple[str, str]]:
    """Links to what a failed test left in its folder, relative to the report's own folder."""
    if not folder.is_dir():
        return []
    found: list[tuple[str, str]] = []
    named = [(TIMELINE_FILE, "SSE timeline")]
    named += [(p.name, "trace") for p in sorted(folder.glob("trace*.zip"))]
    named += [(p.name, "screenshot") for p in sorted(folder.glob("test-*.png"))]
    named += [(EVIDENCE_FILE, "evidence"), ("diagnosis.txt", "diagnosis")]
    for name, label in named:
        if (folder / name).is_file():
            found.append((os.path.relpath(folder / name, base), label))
    return found


_CSS: Final = """
body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#1b1b1b}
h1{font-size:18px} table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4} .bad{color:#c62828;font-weight:bold} .ok{color:#2e7d32}
td.line{font-family:ui-monospace,monospace;font-size:12px;max-width:700px;word-break:break-word}
a{margin-right:8px}
"""


def render_run_report(entries: Sequence[LoadedEntry], mutants: Sequence[MutantRow], out: Path) -> str:
    base = out.parent.resolve()
    counts: dict[str, int] = {}
    for loaded in entries:
        counts[loaded.entry.outcome] = counts.get(loaded.entry.outcome, 0) + 1
    bad = [loaded for loaded in entries if loaded.entry.outcome in BAD_OUTCOMES]
    workers = sorted({loaded.entry.worker for loaded in entries})
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>SSE gate run report</title><style>{_CSS}</style></head><body>",
        "<h1>SSE gate run report</h1>",
        "<p>"
        + ", ".join(
            f'<span class="{"bad" if o in BAD_OUTCOMES else ""}">{counts[o]} {_e(o)}</span>' for o in sorted(counts)
        )
        + f" &middot; {len(entries)} results from {len(workers)} process(es) in {len({e.root for e in entries})} "
        f"folder(s) &middot; written {_e(time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime()))}</p>",
    ]
    if bad:
        parts.append("<h2>Failures</h2><table><tr><th>test</th><th>first line</th><th>files</th></tr>")
        for loaded in bad:
            entry = loaded.entry
            links = _links(loaded.root / entry.folder, base) if entry.folder else []
            anchors = "".join(f'<a href="{_e(href)}">{_e(label)}</a>' for href, label in links) or "-"
            parts.append(
                f'<tr><td>{_e(entry.test_id)}<br><span class="bad">{_e(entry.outcome)}</span> ({_e(entry.when)})</td>'
                f'<td class="line">{_e(entry.first_line)}</td><td>{anchors}</td></tr>'
            )
        parts.append("</table>")
    else:
        parts.append('<p class="ok">No failures.</p>')
    if mutants:
        killed = sum(1 for m in mutants if m.verdict == "killed")
        parts.append(f"<h2>Mutants: {killed} killed of {sum(1 for m in mutants if m.kind != 'control')}</h2>")
        parts.append(
            "<table><tr><th>mutant</th><th>kind</th><th>verdict</th><th>failing tests</th><th>diagnosis</th></tr>"
        )
        for m in mutants:
            css = "ok" if m.verdict in ("killed", "passed") else "bad"
            tests = "<br>".join(_e(t) for t in m.failed_tests[:8]) + (" ..." if len(m.failed_tests) > 8 else "")
            parts.append(
                f'<tr><td>{_e(m.name)}</td><td>{_e(m.kind)}</td><td class="{css}">{_e(m.verdict)}</td>'
                f'<td>{tests}</td><td class="line">{_e(m.diagnosis)}</td></tr>'
            )
        parts.append("</table>")
    parts.append("<h2>All results</h2><table><tr><th>test</th><th>outcome</th><th>s</th><th>worker</th></tr>")
    for loaded in sorted(entries, key=lambda item: item.entry.test_id):
        entry = loaded.entry
        css = "bad" if entry.outcome in BAD_OUTCOMES else ""
        parts.append(
            f'<tr><td>{_e(entry.test_id)}</td><td class="{css}">{_e(entry.outcome)}</td>'
            f"<td>{entry.duration:.2f}</td><td>{_e(entry.worker)}</td></tr>"
        )
    parts.append("</table></body></html>\n")
    return "\n".join(parts)


def write_run_report(roots: Sequence[Path], out: Path) -> Path:
    """Render the report over `roots` into `out` (its links are relative to `out`'s folder)."""
    entries = load_results(roots)
    if not entries:
        raise FileNotFoundError(
            f"no {RESULTS_PREFIX}.*.jsonl under {', '.join(map(str, roots))}: no gate run wrote there"
        )
    mutants = load_mutants(roots)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_run_report(entries, mutants, out), encoding="utf-8")
    return out


def _md(text: str) -> str:
    """Text for a GitHub Markdown table cell: HTML escaped (the summary renders HTML), pipes and newlines out."""
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ").replace("`", "'")


def markdown_summary(roots: Sequence[Path], artifact_url: str = "", *, limit: int = 30) -> str:
    """The job summary ($GITHUB_STEP_SUMMARY): counts, each failure's first line, where the artifact is."""
    entries = load_results(roots)
    bad = [loaded.entry for loaded in entries if loaded.entry.outcome in BAD_OUTCOMES]
    lines = [f"### SSE gate: {len(bad)} failed of {len(entries)}", ""]
    if artifact_url:
        lines += [
            f"Run report and SSE timelines: [download the artifact]({artifact_url}) "
            f"(open `report.html`; each failure links its `timeline.html`).",
            "",
        ]
    if bad:
        lines += ["| test | first line |", "| --- | --- |"]
        lines += [f"| {_md(entry.test_id)} | {_md(entry.first_line)} |" for entry in bad[:limit]]
        if len(bad) > limit:
            lines.append(f"| ... | {len(bad) - limit} more in the run report |")
    return "\n".join(lines) + "\n"
