"""Load: many concurrent progress streams and generation requests against the drafts API in its own process.

`python -m bench.load` starts the API (production timings, its default bounded Redis pool, fakeredis
or `--redis-url`) in a subprocess on a loopback port, POSTs `--posts` generations at once, then opens
`--streams` streams at once over those tasks and holds them all open. Tasks stay PENDING (the
runner never starts them), as a slow generation would, so each stream gets its `pending` event and
then only heartbeats. Reports every status seen, the streams held (`/health`'s `live_streams` with
all open), the server's RSS per held stream, and the time from opening a stream to its first event.
`tests/api/test_load.py` runs the same against the same server and asserts that all are served.

Streams are read incrementally (httpx's async client, `aiter_raw`, the harness's SSE parser): a
buffered stream would count as not served.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
from pydantic import BaseModel

REPO: Final = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as `python bench/load.py` too
    sys.path.insert(0, str(REPO))

from drafts_api.protocol import generate_path, stream_path  # noqa: E402
from harness.servers import BackgroundLoop  # noqa: E402
from harness.sse import SSEDecoder, SSEEvent  # noqa: E402

DEFAULT_STREAMS: Final = 500
DEFAULT_POSTS: Final = 300
SERVER_START_S: Final = 20.0
BODY: Final = {"topic": "Load test draft", "audience": "Everyone", "tone": "friendly", "length": "short"}


class IdleRunner:
    """A `TaskRunner` that never starts a job: tasks stay PENDING and their streams stay open."""

    def submit(self, job: Any) -> None:
        pass

    async def aclose(self) -> None:
        pass


def serve(redis_url: str | None, key_prefix: str, *, unbounded_pool: bool = False) -> None:
    """The server process: the API on a free loopback port, printed on stdout once listening.

    `unbounded_pool` builds the broken variant: redis-py's default pool (100 connections, then
    `MaxConnectionsError` at once), which is what the API used before its pool was bounded on purpose.
    """
    import gc

    import fakeredis
    import uvicorn
    from redis.asyncio import Redis

    from drafts_api.app import create_app
    from drafts_api.settings import load_settings

    overrides: dict[str, Any] = {"key_prefix": key_prefix}
    if redis_url:
        overrides["redis_url"] = redis_url
    parts: dict[str, Any] = {}
    if unbounded_pool:
        fake = fakeredis.FakeServer()
        parts["redis_factory"] = (
            (lambda: Redis.from_url(redis_url)) if redis_url else (lambda: fakeredis.FakeAsyncRedis(server=fake))
        )
    app = create_app(load_settings(**overrides), runner=IdleRunner(), **parts)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # see harness LiveServer
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", backlog=2048, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    print(sock.getsockname()[1], flush=True)
    gc.freeze()
    server.run(sockets=[sock])


@dataclass
class LoadResult:
    streams: int
    posts: int
    redis: str
    post_statuses: dict[str, int] = field(default_factory=dict)
    stream_statuses: dict[str, int] = field(default_factory=dict)
    first_events: dict[str, int] = field(default_factory=dict)
    streams_held: int = 0
    rss_idle_mb: float = 0.0
    rss_held_mb: float = 0.0
    first_event_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def memory_per_stream_kb(self) -> float:
        return (self.rss_held_mb - self.rss_idle_mb) * 1024 / max(self.streams_held, 1)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.first_event_s)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")

    def summary(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in asdict(self).items() if k != "first_event_s"},
            "memory_per_stream_kb": round(self.memory_per_stream_kb, 1),
            "first_event_median_s": round(self.percentile(0.5), 3),
            "first_event_p95_s": round(self.percentile(0.95), 3),
            "first_event_max_s": round(max(self.first_event_s, default=float("nan")), 3),
        }


class LoadFigures(BaseModel):
    """What `make bench` reports of a load run (`LoadResult.summary()`, typed)."""

    streams: int
    posts: int
    redis: str
    post_statuses: dict[str, int]
    stream_statuses: dict[str, int]
    streams_held: int
    memory_per_stream_kb: float
    first_event_median_s: float
    first_event_p95_s: float
    first_event_max_s: float
    wall_s: float


def load_table(figures: LoadFigures) -> str:
    from bench.table import format_table

    def counts(statuses: dict[str, int]) -> str:
        return ", ".join(f"{count} x {status}" for status, count in sorted(statuses.items()))

    rows = [
        ["POSTs at once", f"{figures.posts}: {counts(figures.post_statuses)}"],
        ["streams at once", f"{figures.streams}: {counts(figures.stream_statuses)}"],
        ["streams held (/health)", str(figures.streams_held)],
        ["server memory per held stream", f"{figures.memory_per_stream_kb:.1f} KiB"],
        [
            "time to first event, median / p95 / max",
            " / ".join(
                f"{value:.2f} s"
                for value in (figures.first_event_median_s, figures.first_event_p95_s, figures.first_event_max_s)
            ),
        ],
    ]
    return f"load ({figures.redis}, production timings)\n" + format_table(["figure", "value"], rows)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.contextmanager
def api_process(redis_url: str | None, key_prefix: str, *, unbounded_pool: bool = False) -> Iterator[tuple[str, int]]:
    """The API in a subprocess; yields its URL and pid, stops it on exit."""
    command = [sys.executable, "-m", "bench.load", "serve", "--key-prefix", key_prefix]
    if redis_url:
        command += ["--redis-url", redis_url]
    if unbounded_pool:
        command.append("--unbounded-pool")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        if not port.isdigit():
            raise RuntimeError(f"the load server did not start (exit {process.poll()}): {port!r}")
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1.0).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"the load server at {url} did not answer within {SERVER_START_S} s") from None
                time.sleep(0.05)  # a pause between attempts to connect
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


async def _first_event(client: httpx.AsyncClient, path: str, held: asyncio.Event, result: LoadResult) -> None:
    started = time.monotonic()
    try:
        async with client.stream("GET", path) as response:
            key = str(response.status_code)
            result.stream_statuses[key] = result.stream_statuses.get(key, 0) + 1
            if response.status_code != 200:
                await response.aread()
                return
            decoder = SSEDecoder()
            # Held in a name while the stream is held: an abandoned async iterator is closed by the
            # loop's async-generator finalizer, and closing it closes the response (a disconnect).
            chunks = response.aiter_raw()
            async for chunk in chunks:
                events = [o for o in decoder.feed(chunk) if isinstance(o, SSEEvent)]
                if events:
                    result.first_event_s.append(time.monotonic() - started)
                    name = events[0].type
                    result.first_events[name] = result.first_events.get(name, 0) + 1
                    break
            await held.wait()  # keep the stream open until every stream has been counted
            del chunks  # leaving the `async with` closes the response
    except httpx.HTTPError as exc:
        key = type(exc).__name__
        result.stream_statuses[key] = result.stream_statuses.get(key, 0) + 1


async def run_load(url: str, pid: int, *, streams: int, posts: int, redis: str, timeout: float) -> LoadResult:
    result = LoadResult(streams=streams, posts=posts, redis=redis)
    started = time.monotonic()
    limits = httpx.Limits(max_connections=streams + posts + 8, max_keepalive_connections=streams + posts + 8)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=httpx.Timeout(timeout)) as client:
        campaigns = [f"load-{n % 7}" for n in range(posts)]
        answers = await asyncio.gather(
            *(client.post(generate_path(c), json=BODY) for c in campaigns), return_exceptions=True
        )
        accepted: list[tuple[str, str]] = []
        statuses: Counter[str] = Counter()
        for campaign, answer in zip(campaigns, answers, strict=True):
            if isinstance(answer, BaseException):
                statuses[type(answer).__name__] += 1
                continue
            statuses[str(answer.status_code)] += 1
            if answer.status_code == 202:
                accepted.append((campaign, answer.json()["task_id"]))
        result.post_statuses = dict(statuses)
        if not accepted:
            return result
        result.rss_idle_mb = _rss_mb(pid)
        held = asyncio.Event()
        readers = [
            asyncio.create_task(_first_event(client, stream_path(*accepted[n % len(accepted)]), held, result))
            for n in range(streams)
        ]
        deadline = time.monotonic() + timeout
        while len(result.first_event_s) + sum(v for k, v in result.stream_statuses.items() if k != "200") < streams:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)  # a bounded wait for the readers, checked every 50 ms
        result.rss_held_mb = _rss_mb(pid)
        # A connection of its own: a pooled one may have passed the server's keep-alive timeout by now.
        async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(timeout)) as probe:
            result.streams_held = int((await probe.get("/health")).json()["live_streams"])
        held.set()
        await asyncio.wait_for(asyncio.gather(*readers, return_exceptions=True), timeout)
    result.wall_s = time.monotonic() - started
    return result


def measure(
    *,
    streams: int = DEFAULT_STREAMS,
    posts: int = DEFAULT_POSTS,
    redis_url: str | None = None,
    timeout: float = 60.0,
    unbounded_pool: bool = False,
) -> LoadResult:
    key_prefix = f"load:{os.getpid()}:{time.monotonic_ns()}:"
    with api_process(redis_url, key_prefix, unbounded_pool=unbounded_pool) as (url, pid):
        # A loop of its own in a thread, not asyncio.run: the API tests call this on a pytest-xdist
        # worker where an earlier Playwright test left its event loop running in the main thread.
        with BackgroundLoop("bench.load") as loop:
            result = loop.run(
                run_load(url, pid, streams=streams, posts=posts, redis=redis_url or "fakeredis", timeout=timeout),
                timeout=2 * timeout + 30,
            )
    if redis_url:
        import redis

        with redis.Redis.from_url(redis_url, socket_timeout=2.0) as client:
            keys = list(client.scan_iter(match=f"{key_prefix}*", count=1000))
            if keys:
                client.delete(*keys)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    child = sub.add_parser("serve", help="(internal) the server process")
    child.add_argument("--redis-url")
    child.add_argument("--key-prefix", default="load:")
    child.add_argument("--unbounded-pool", action="store_true")
    parser.add_argument("--streams", type=int, default=DEFAULT_STREAMS)
    parser.add_argument("--posts", type=int, default=DEFAULT_POSTS)
    parser.add_argument("--redis-url", help="a real Redis (default: the API's embedded fakeredis)")
    parser.add_argument("--timeout", type=float, default=60.0, help="bound on each phase, seconds")
    parser.add_argument("--json-out", type=Path, help="write the figures (LoadFigures) there as JSON")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.redis_url, args.key_prefix, unbounded_pool=args.unbounded_pool)
        return 0
    result = measure(streams=args.streams, posts=args.posts, redis_url=args.redis_url, timeout=args.timeout)
    figures = LoadFigures.model_validate(result.summary())
    if args.json_out:
        args.json_out.write_text(figures.model_dump_json(indent=2) + "\n")
    print(load_table(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
