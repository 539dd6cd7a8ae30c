"""`python -m drafts_api`: serve the API with production timings (embedded fakeredis unless told)."""

from __future__ import annotations

import argparse
import gc
import sys

import uvicorn

from drafts_api.app import create_app
from drafts_api.generation import DeterministicGenerator
from drafts_api.settings import InvalidSettings, load_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="drafts-api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--redis-url", help="a real Redis (default: $REDIS_URL, else embedded fakeredis)")
    parser.add_argument("--cors-origin", action="append", default=None, help="an allowed page origin (repeatable)")
    parser.add_argument(
        "--phase-delay", type=float, default=1.0, help="seconds between generation phases, to watch them"
    )
    args = parser.parse_args(argv)
    overrides: dict[str, object] = {}
    if args.redis_url:
        overrides["redis_url"] = args.redis_url
    if args.cors_origin:
        overrides["cors_origins"] = args.cors_origin
    try:
        settings = load_settings(**overrides)
    except InvalidSettings as exc:
        # One line naming the setting and the value, before anything starts; no traceback.
        print(f"drafts-api: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    app = create_app(settings, generator=DeterministicGenerator(phase_delay=args.phase_delay))
    # Everything imported and built so far lives as long as the process: keep it out of the cyclic
    # GC, whose full passes over it would otherwise pause the event loop for every client.
    gc.freeze()
    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
