"""`python -m harness.report`: timelines, the run report, and the README's screenshot.

python -m harness.report merge DIR... [-o report.html]   one report over runs/shards' output folders
python -m harness.report timeline DIR                    (re)write DIR/timeline.html from its evidence
python -m harness.report screenshot PNG [--sse-client JS] the production bug's timeline as a PNG
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from harness.report._names import REPORT_FILE
from harness.report._run_report import markdown_summary, write_run_report
from harness.report._timeline_html import write_timeline

ORIGINAL_CLIENT = Path("e2e/mutants/clients/original_onmessage.js")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.report", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    merge = commands.add_parser("merge", help="one run report over several output folders (shards)")
    merge.add_argument("dirs", nargs="+", type=Path)
    merge.add_argument("-o", "--out", type=Path, default=Path(REPORT_FILE))
    summary = commands.add_parser("summary", help="Markdown: failures and their first lines (job summary)")
    summary.add_argument("dirs", nargs="+", type=Path)
    summary.add_argument("--artifact-url", default="")
    timeline = commands.add_parser("timeline", help="write timeline.html into an evidence folder")
    timeline.add_argument("dir", type=Path)
    shot = commands.add_parser("screenshot", help="run the production bug and screenshot its timeline")
    shot.add_argument("png", type=Path)
    shot.add_argument("--sse-client", type=Path, default=ORIGINAL_CLIENT, help="default: %(default)s")
    shot.add_argument("--keep", type=Path, help="keep the run's output folder here")
    args = parser.parse_args(argv)
    try:
        if args.command == "merge":
            print(write_run_report(args.dirs, args.out))
        elif args.command == "summary":
            print(markdown_summary(args.dirs, args.artifact_url), end="")
        elif args.command == "timeline":
            print(write_timeline(args.dir))
        else:
            from harness.report._demo import run_production_bug  # runs pytest and a browser: only when asked
            from harness.report._screenshot import screenshot

            if not args.sse_client.is_file():
                parser.error(f"--sse-client {args.sse_client}: no such file (run from the repository's root)")
            with tempfile.TemporaryDirectory(prefix="sse-gate-shot-") as scratch:
                folder = run_production_bug(args.sse_client, args.keep or Path(scratch))
                print(screenshot(folder / "timeline.html", args.png))
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"python -m harness.report {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
