"""`python -m harness.serve` (`make serve`): the backend and the stub frontend, to click through by hand.

Production timings (1.5 s poll, 15 s heartbeat) and the deterministic generator with a pause between
phases, so a person sees each progress message. Embedded fakeredis unless `--redis-url`/`REDIS_URL`.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from drafts_api.app import create_app
from drafts_api.generation import DeterministicGenerator
from drafts_api.settings import Settings
from harness.contract import DRAFTS_API
from harness.redaction import redact_url
from harness.servers import STUB_FRONTEND_DIR, FrontendConfig, LiveServer, frontend_app, origin_of


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--frontend-port", type=int, default=3000)
    parser.add_argument("--frontend-dir", type=Path, default=STUB_FRONTEND_DIR)
    parser.add_argument("--sse-client", type=Path, default=None, help="serve this EventSource module instead")
    parser.add_argument("--phase-delay", type=float, default=2.0, help="seconds between generation phases")
    parser.add_argument("--redis-url", default=None, help="a real Redis (default: $REDIS_URL, else fakeredis)")
    args = parser.parse_args(argv)

    # Ctrl-C (or SIGTERM) only asks to stop: a KeyboardInterrupt raised mid-start-up (measured: a
    # SIGINT right after the first banner line, 2 times in 3) skipped the servers' stops and ended
    # in a traceback; under load the process outlived a 30 s wait for its exit.
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        _serve(args, stopping)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)


def _serve(args: argparse.Namespace, stopping: threading.Event) -> None:
    config = FrontendConfig(apiBase="", reconnectTimeoutMs=15000, **DRAFTS_API.frontend_config())
    frontend = LiveServer(frontend_app(args.frontend_dir, config, args.sse_client), port=args.frontend_port)
    with frontend:
        overrides = {"redis_url": args.redis_url} if args.redis_url else {}
        settings = Settings(cors_origins=[origin_of(frontend.url)], **overrides)
        api = LiveServer(
            create_app(settings, generator=DeterministicGenerator(phase_delay=args.phase_delay)),
            port=args.api_port,
            log_level="info",
        )
        with api:
            config.update(apiBase=api.url)
            redis = redact_url(settings.redis_url) if settings.redis_url else "embedded fakeredis"
            print(f"API:      {api.url}  (docs: {api.url}/docs; Redis: {redis})")
            print(f"Open:     {frontend.url}{DRAFTS_API.new_draft_page.fill(campaign_id=DRAFTS_API.campaign_id)}")
            print("Ctrl-C stops both.", flush=True)
            stopping.wait()


if __name__ == "__main__":
    main()
