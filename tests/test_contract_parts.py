"""The contract's extensions, Redis routing, task-state scripting, frontend overlays: no browser."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest
import redis
import redis.asyncio

from examples.production_shape.contract import CONTRACT as PRODUCTION_SHAPE
from harness.contract import DRAFTS_API, ContractSpecError, FormField, load_contract, write_path
from harness.scripting import GenerationReleased, ScriptedCrash, ScriptedGenerationError, TaskStateScripter
from harness.servers import STUB_FRONTEND_DIR, BackgroundLoop, FrontendConfig, LiveServer, ResetHooks, frontend_app
from harness.state import FAKE_REDIS_HOST, FakeRedisProvider, route_fake_url

# --- the contract -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "typed", "sent"),
    [
        ("text", "a b", "a b"),
        ("lines", " one \n\n two\n", ["one", "two"]),
        ("number", "120", 120),
        ("select", "x", "x"),
    ],
)
def test_form_field_says_what_the_page_must_send(kind: str, typed: str, sent: object) -> None:
    """Fails if: a field kind's JSON drifts from what stub_frontend/app.js sends (fieldValue)."""
    assert FormField("f", "F", "f", kind=kind).to_json(typed) == sent  # type: ignore[arg-type]


def test_write_path_nests_and_keeps_siblings() -> None:
    assert write_path({"type": "status"}, "message", "hi") == {"type": "status", "message": "hi"}
    assert write_path({"options": {"a": 1}}, "options.word_count", 3) == {"options": {"a": 1, "word_count": 3}}


def test_editor_pattern_captures_the_draft_id_under_any_route() -> None:
    """Fails if: the editor pattern misses a campaign segment or captures the wrong placeholder."""
    drafts = DRAFTS_API.editor_url_pattern().search("http://x/dashboard/drafts/d-1/edit")
    assert drafts is not None and drafts[1] == "d-1"
    url = "http://x" + PRODUCTION_SHAPE.editor_path("d-2")
    production = PRODUCTION_SHAPE.editor_url_pattern().search(url)
    assert production is not None and production[1] == "d-2"
    assert PRODUCTION_SHAPE.editor_url_pattern().search("http://x/dashboard/drafts/d-2/edit") is None
    assert "(?P<" not in PRODUCTION_SHAPE.editor_url_pattern().pattern  # Playwright runs it as a JS RegExp


def test_generate_url_regex_matches_full_urls_of_the_route_only() -> None:
    regex = PRODUCTION_SHAPE.generate.url_regex()
    assert regex.search(f"http://127.0.0.1:1/campaigns/{PRODUCTION_SHAPE.campaign_id}/drafts/generate")
    assert not regex.search("http://127.0.0.1:1/campaigns/c/drafts/generate/stream/t")


def test_frontend_config_carries_routes_form_and_stream_url_source() -> None:
    config = PRODUCTION_SHAPE.frontend_config()
    assert config["streamUrlField"] is None
    assert config["routes"]["editorPage"] == "/dashboard/campaigns/{campaign_id}/drafts/{draft_id}/edit"
    assert [f["bodyPath"] for f in config["form"]] == ["brief", "channel", "options.word_count"]
    assert DRAFTS_API.frontend_config()["streamUrlField"] == "stream_url"


def test_load_contract_names_what_is_wrong() -> None:
    assert load_contract("examples.production_shape.contract:CONTRACT") is PRODUCTION_SHAPE
    with pytest.raises(ContractSpecError, match="wants MODULE:ATTR"):
        load_contract("no-colon")
    with pytest.raises(ContractSpecError, match="cannot import 'no_such_module'"):
        load_contract("no_such_module:X")
    with pytest.raises(ContractSpecError, match="is not an AppContract: 'production_shape'"):
        load_contract("examples.production_shape.contract:CONTRACT.name")


# --- Redis for any client ---------------------------------------------------------------------------


def test_fake_url_reaches_the_worker_fakeredis_however_the_client_is_built(own_loop: BackgroundLoop) -> None:
    """Fails if: a sync, async or pool-built client of the gate's URL misses the worker's FakeServer."""
    provider = FakeRedisProvider(worker_index=2)
    assert FAKE_REDIS_HOST in provider.url and provider.url.endswith("/2")
    with route_fake_url(provider):
        from redis import from_url  # bound inside: the routing is on the pool, looked up per call

        from_url(provider.url, decode_responses=True).set("k", "v")
        assert redis.Redis.from_url(provider.url).get("k") == b"v"
        assert redis.Redis(connection_pool=redis.ConnectionPool.from_url(provider.url)).get("k") == b"v"

        async def read() -> bytes | None:
            client = redis.asyncio.from_url(provider.url)
            try:
                value: bytes | None = await client.get("k")  # type: ignore[assignment]
                return value
            finally:
                await client.aclose()

        assert own_loop.run(read(), timeout=10) == b"v"
    assert provider.sync_client().get("k") == b"v"


def _url_builders() -> tuple[object, object]:
    """redis-py's `from_url` class attributes, sync and async, as the routing replaces them."""
    return redis.ConnectionPool.__dict__["from_url"], redis.asyncio.ConnectionPool.__dict__["from_url"]


def test_routing_leaves_other_urls_and_ends_with_its_block() -> None:
    """Fails if: the routing leaks: another URL (tests/api's real Redis) gets fakeredis, or the
    routing outlives its block. Checked by identity, not by connecting to the fake URL after it: on a
    pytest-xdist worker where a gate test ran earlier, that session's backend routes its own fake URL
    for the whole session (correctly), and the URL connects."""
    provider = FakeRedisProvider()
    before = _url_builders()
    with route_fake_url(provider):
        other = redis.ConnectionPool.from_url("redis://127.0.0.1:1/0")
        assert type(other) is redis.ConnectionPool and other.connection_kwargs["port"] == 1
        assert _url_builders()[0] is not before[0] and _url_builders()[1] is not before[1]  # routing
        fake = redis.ConnectionPool.from_url(provider.url)
        assert fake.connection_class.__module__.startswith("fakeredis"), fake  # the block's own URL
    after = _url_builders()
    assert after[0] is before[0] and after[1] is before[1], (before, after)


def test_reset_hooks_run_in_order_each_time() -> None:
    calls: list[str] = []
    hooks = ResetHooks()
    hooks(lambda: calls.append("a"))
    hooks(lambda: calls.append("b"))
    hooks.run()
    hooks.run()
    assert calls == ["a", "b", "a", "b"]


# --- task-state scripting ---------------------------------------------------------------------------


@pytest.fixture
def scripter() -> TaskStateScripter:
    provider = FakeRedisProvider()
    return TaskStateScripter(PRODUCTION_SHAPE, provider.sync_client)


def _held(scripter: TaskStateScripter, task_id: str) -> tuple[threading.Thread, dict[str, object]]:
    outcome: dict[str, object] = {}

    def worker() -> None:
        try:
            outcome["content"] = scripter.hold(task_id, {"brief": "The brief", "channel": "email"})
        except BaseException as exc:  # what the app's worker would see
            outcome["raised"] = exc

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    return thread, outcome


def _record(scripter: TaskStateScripter, task_id: str) -> dict[str, object]:
    raw = scripter._redis().get(f"task:{task_id}")
    assert raw is not None
    record: dict[str, object] = json.loads(raw)
    return record


def test_progress_is_written_as_the_apps_worker_writes_it(scripter: TaskStateScripter) -> None:
    """Fails if: the key, JSON shape, TTL or stamp differ from the contract's TaskStateShape."""
    thread, _ = _held(scripter, "t1")
    run = scripter.next_run(timeout=2)
    assert (run.task_id, run.request_body["brief"]) == ("t1", "The brief")
    run.progress("Drafting...")
    first = _record(scripter, "t1")
    assert {k: first[k] for k in ("state", "meta")} == {
        "state": "PROGRESS",
        "meta": {"type": "status", "message": "Drafting..."},
    }
    assert 0 < scripter._redis().ttl("task:t1") <= 3600
    run.progress("Drafting...")
    assert _record(scripter, "t1")["updated_at"] != first["updated_at"]  # equal texts, two changes
    scripter.reset()
    thread.join(2)


def test_fail_writes_failure_and_holds_the_worker_until_the_test_ends(scripter: TaskStateScripter) -> None:
    """Fails if: the app's worker gets control back before the test ends (it would overwrite the
    test's FAILURE with its own generic one before the stream read it)."""
    thread, outcome = _held(scripter, "t2")
    run = scripter.next_run(timeout=2)
    run.fail("Model overloaded.")
    assert _record(scripter, "t2")["meta"] == {"type": "error", "message": "Model overloaded."}
    assert run.finished and thread.is_alive() and not outcome
    with pytest.raises(ScriptedGenerationError, match="already ended"):
        run.progress("late")
    scripter.reset()
    thread.join(2)
    assert isinstance(outcome["raised"], GenerationReleased)


def test_succeed_returns_content_and_waits_for_the_apps_success(scripter: TaskStateScripter) -> None:
    """Fails if: `succeed` returns before the app wrote SUCCESS (the page would race the editor), or
    hides that the app never did."""
    thread, outcome = _held(scripter, "t3")
    run = scripter.next_run(timeout=2)
    with pytest.raises(ScriptedGenerationError, match="did not write 'SUCCESS'"):
        run.succeed(title="T", timeout=0.3)  # nobody writes SUCCESS here
    thread.join(2)
    assert outcome["content"] == {"title": "T", "body": "A scripted draft."}


def test_crash_raises_an_unexpected_error_in_the_worker(scripter: TaskStateScripter) -> None:
    thread, outcome = _held(scripter, "t4")
    run = scripter.next_run(timeout=2)
    with pytest.raises(ScriptedGenerationError, match="did not write 'FAILURE'"):
        run.crash("boom", timeout=0.3)
    thread.join(2)
    assert isinstance(outcome["raised"], ScriptedCrash)


def test_next_run_says_what_to_check_when_the_service_is_never_called(scripter: TaskStateScripter) -> None:
    with pytest.raises(ScriptedGenerationError, match="generation service was not called within 0.1 s"):
        scripter.next_run(timeout=0.1)


def test_a_contract_without_task_state_cannot_be_scripted_by_state() -> None:
    with pytest.raises(ValueError, match="declares no task_state"):
        TaskStateScripter(DRAFTS_API, FakeRedisProvider().sync_client)


# --- frontend ---------------------------------------------------------------------------------------


def test_frontend_dir_without_index_is_an_overlay_over_the_stub(tmp_path: Path) -> None:
    """Fails if: an overlay loses the stub's files, or its own file does not win."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "draft-stream.js").write_text("// the team's client\n")
    with LiveServer(frontend_app(tmp_path, FrontendConfig(**DRAFTS_API.frontend_config()))) as server:
        client = httpx.get(server.url + "/lib/draft-stream.js").text
        assert client == "// the team's client\n"
        assert httpx.get(server.url + "/app.js").text == (STUB_FRONTEND_DIR / "app.js").read_text()
        page = httpx.get(server.url + PRODUCTION_SHAPE.new_draft_page.fill(campaign_id="c"))
        assert page.status_code == 200 and "<main" in page.text
        assert '"streamUrlField": "stream_url"' in httpx.get(server.url + "/config.js").text


def test_the_evidence_records_the_contracts_own_event_names(tmp_path: Path) -> None:
    """Fails if: the page recorder observes our app's event names whatever the contract says (an app
    that names its events otherwise would show nothing dispatched to a page without listeners)."""
    from dataclasses import replace

    from harness.contract import DRAFTS_API, EventNames
    from harness.recording import EvidenceCollector, WireLog

    events = EventNames(status=("queued", "working"), success="complete", error="failed", done="end")
    contract = replace(DRAFTS_API, events=events)
    collector = EvidenceCollector("t", None, WireLog(), tmp_path, contract=contract)  # type: ignore[arg-type]
    assert collector.recorder.observe_types == ("queued", "working", "complete", "failed", "end")
