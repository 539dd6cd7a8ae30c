"""The SSE timeline as one self-contained HTML page (see `harness.report._timeline` for what it shows).

Hand-written HTML because no library draws SSE, and a template engine would be a dependency for one
page. Every text from the server or the page goes through `html.escape` (it is untrusted); no
script, no external resource (a Content-Security-Policy says so too): it opens from an artifact zip,
offline. Bounded in size: heartbeats are folded before, the overview's ticks are bucketed, and the
table keeps its first and last rows within a byte budget.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from harness.report._names import TIMELINE_FILE
from harness.report._timeline import FILE_LINKS, LANES, Row, Timeline, _cut, timeline_for

TABLE_BUDGET_BYTES: Final = 110_000  # with the rest of the page, a timeline stays under 200 KB
BUCKET_PX: Final = 6
MAX_FAILURE_TEXT: Final = 3000


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


_CSS: Final = """
body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#1b1b1b;background:#fff}
h1{font-size:17px;margin:0 0 4px;padding:8px 10px;background:#fdecea;border-left:5px solid #c62828}
h1.ok{background:#eef6ee;border-color:#2e7d32}
.id{color:#555;font-family:ui-monospace,monospace;margin:0 0 8px}
table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ddd;padding:2px 6px;vertical-align:top;text-align:left}
th{background:#f4f4f4;position:sticky;top:0}
.tl td{font-family:ui-monospace,monospace;font-size:12px;max-width:330px;word-break:break-word}
.tl td.t{color:#666;white-space:nowrap;text-align:right}
.mark{display:inline-block;background:#c62828;color:#fff;border-radius:3px;padding:0 4px;margin-left:4px;
  font-family:system-ui,sans-serif}
.warn .mark{background:#e08a00}
tr.bad td.hit{background:#fdecea}
tr.warn td.hit{background:#fff4e0}
.tally td.diff{background:#fdecea;font-weight:bold}
pre{background:#f6f6f6;padding:6px;white-space:pre-wrap;max-height:14em;overflow:auto}
ul.m li{color:#c62828}
.files a{margin-right:10px}
svg text{font:11px system-ui,sans-serif}
.top{display:flex;gap:32px;align-items:flex-start} h2{font-size:15px;margin:10px 0 4px}
"""


def _overview_svg(timeline: Timeline) -> str:
    """A strip per lane with a tick per row: the shape of the run at a glance (red: a mismatch)."""
    width, lane_h, left = 900, 16, 120
    parts = [f'<svg width="{width + left + 10}" height="{lane_h * len(LANES) + 18}" role="img" aria-label="overview">']
    for index, lane in enumerate(LANES):
        y = index * lane_h
        parts.append(f'<text x="0" y="{y + 12}">{_e(lane)}</text>')
        parts.append(f'<line x1="{left}" x2="{left + width}" y1="{y + 8}" y2="{y + 8}" stroke="#ddd"/>')
    # One tick per lane and bucket of BUCKET_PX pixels, coloured by its worst row: bounded in size.
    buckets: dict[tuple[str, int], list[Row]] = {}
    end = max((row.t for row in timeline.rows), default=timeline.t0)
    span = max(end - timeline.t0, 0.001)
    for row in timeline.rows:
        buckets.setdefault((row.lane, int((row.t - timeline.t0) / span * (width // BUCKET_PX))), []).append(row)
    for (lane, bucket), rows in buckets.items():
        worst = next((r for r in rows if r.marks and not r.warn), None) or next((r for r in rows if r.marks), rows[0])
        color = "#e08a00" if worst.warn and worst.marks else "#c62828" if worst.marks else "#3b6fb6"
        label = _cut(worst.text, 60) + (f" (+{len(rows) - 1} more)" if len(rows) > 1 else "")
        parts.append(
            f'<rect x="{left + bucket * BUCKET_PX}" y="{LANES.index(lane) * lane_h + 2}" width="2" height="12" '
            f'fill="{color}"><title>+{worst.t - timeline.t0:.2f} s {_e(label)}</title></rect>'
        )
    axis_y = lane_h * len(LANES) + 12
    for tick in range(6):
        x = left + tick * width / 5
        parts.append(f'<text x="{x:.0f}" y="{axis_y}" text-anchor="middle">+{tick * span / 5:.2f} s</text>')
    parts.append("</svg>")
    return "".join(parts)


def _row_html(row: Row, t0: float) -> str:
    css = "warn" if row.warn else "bad" if row.marks else ""
    badges = "".join(f'<span class="mark">{_e(m)}</span>' for m in row.marks)
    cells = "".join(
        f'<td class="hit">{_e(row.text)}{badges}</td>' if lane == row.lane else "<td></td>" for lane in LANES
    )
    return f'<tr class="{css}" data-lane="{_e(row.lane)}"><td class="t">+{row.t - t0:.3f}</td>{cells}</tr>'


def _within_budget(lines: Sequence[str], budget: int) -> list[str]:
    """All the rows if they fit; else the first and the last that fit in half the budget each (the
    start and the failure are what matter), with a row saying how many were left out."""
    sizes = [len(line.encode("utf-8")) for line in lines]
    if sum(sizes) <= budget:
        return list(lines)
    head, used = 0, 0
    while head < len(lines) and used + sizes[head] <= budget // 2:
        used, head = used + sizes[head], head + 1
    tail, used = len(lines), 0
    while tail > head and used + sizes[tail - 1] <= budget // 2:
        used, tail = used + sizes[tail - 1], tail - 1
    gap = (
        f'<tr class="bad"><td class="t"></td><td colspan="{len(LANES)}">{tail - head} rows left out here '
        "(size bound); evidence.json has them all</td></tr>"
    )
    return [*lines[:head], gap, *lines[tail:]]


def render_timeline(timeline: Timeline, links: Sequence[tuple[str, str]] = ()) -> str:
    out: list[str] = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        # No network: the page may not load anything, whatever the evidence says.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>SSE timeline: {_e(timeline.test_id)}</title><style>{_CSS}</style></head><body>",
        f"<h1>[sse-gate] {_e(timeline.line or 'no diagnosis written')}</h1>",
        f'<p class="id">{_e(timeline.test_id)}{f" &middot; rule {_e(timeline.rule)}" if timeline.rule else ""}</p>',
    ]
    if links:
        out.append(
            '<p class="files">' + "".join(f'<a href="{_e(href)}">{_e(label)}</a>' for href, label in links) + "</p>"
        )
    out.append('<div class="top"><div><h2>Events: sent / dispatched / reached a listener</h2>')
    out.append(
        '<table class="tally"><tr><th>event</th><th>sent</th><th>dispatched</th><th>reached a listener</th></tr>'
    )
    for type_, tally in timeline.tallies.items():
        counts = [tally.sent, tally.dispatched, tally.delivered]
        out.append(
            f"<tr><td>{_e(type_)}</td>"
            + "".join(f'<td class="{"diff" if value != tally.sent else ""}">{value}</td>' for value in counts)
            + "</tr>"
        )
    out.append("</table></div>")
    if timeline.mismatches:
        shown = timeline.mismatches[:20]
        more = len(timeline.mismatches) - len(shown)
        out.append(
            '<div><h2>Mismatches</h2><ul class="m">'
            + "".join(f"<li>{_e(m)}</li>" for m in shown)
            + (f"<li>... and {more} more</li>" if more > 0 else "")
            + "</ul></div>"
        )
    out.append("</div>")
    out.append("<h2>Timeline</h2>")
    out.append(_overview_svg(timeline))
    out.append('<table class="tl"><tr><th>time</th>' + "".join(f"<th>{_e(lane)}</th>" for lane in LANES) + "</tr>")
    lines = [_row_html(row, timeline.t0) for row in timeline.rows]
    out.extend(_within_budget(lines, TABLE_BUDGET_BYTES))
    out.append("</table>")
    if timeline.details:
        out.append(
            "<h2>Diagnosis details</h2><ul>"
            + "".join(f"<li>{_e(_cut(d, 400))}</li>" for d in timeline.details[:12])
            + "</ul>"
        )
    if timeline.failure_text:
        out.append(f"<h2>The test's failure</h2><pre>{_e(_cut(timeline.failure_text, MAX_FAILURE_TEXT))}</pre>")
    out.append("</body></html>\n")
    return "\n".join(out)


def write_timeline(directory: Path | str, *, trace: str | None = None) -> Path:
    """Write `timeline.html` into the evidence folder `directory`; `trace`: the trace file's name to link."""
    folder = Path(directory)
    timeline = timeline_for(folder)
    links = [(name, label) for name, label in FILE_LINKS if (folder / name).is_file()]
    if trace:
        links.insert(0, (trace, "Playwright trace (playwright show-trace)"))
    path = folder / TIMELINE_FILE
    path.write_text(render_timeline(timeline, links), encoding="utf-8")
    return path
