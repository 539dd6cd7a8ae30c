"""Scenarios for failure classes no other test reaches: the last progress right before the terminal
event, a stream accepted and closed without an event again and again, a stream kept open after `done`."""

from __future__ import annotations

import time

import httpx
import pytest
from playwright.sync_api import Page, expect

from harness.contract import AppContract
from harness.pages import EditorPage, NewDraftPage
from harness.plugin import StartGeneration
from harness.proxy import CutAfterBytes, FaultProxy
from harness.recording import EvidenceCollector
from harness.scripting import Fail, Progress, ScriptedGenerator, Succeed
from harness.servers import FrontendConfig, LiveBackend
from harness.state import RedisProvider
from harness.waiting import wait_until

CONNECTION_LOST = "Connection lost. Please try again."
TERMINAL = ("success", "error")
STATUS = ("pending", "started", "progress")  # other names are ignored: a page ignores what it does not hear


@pytest.mark.parametrize("outcome", ["succeed", "fail"])
def test_last_progress_right_before_the_terminal_event_keeps_the_terminal_event_last(
    outcome: str,
    gate_new_draft: NewDraftPage,
    gate_scripted: ScriptedGenerator,
    gate_page: Page,
    gate_evidence: EvidenceCollector,
) -> None:
    """A real generator's last phase reports progress and returns (or fails) at once.

    Fails if: the stream sends a status event after the terminal event (a held-back or reordered
    progress the page would never show), repeats the terminal event, or ends without `done` after it."""
    last = Succeed(title="Polished") if outcome == "succeed" else Fail("The model gave up at the last step.")
    gate_scripted.autoplay(Progress("Polishing the draft..."), last)
    gate_new_draft.generate()
    if outcome == "succeed":
        expect(EditorPage(gate_page).heading).to_have_text("Polished")
    else:
        expect(gate_new_draft.alert).to_have_text("The model gave up at the last step.")
    wait_until(
        gate_evidence.wire_streams,
        lambda streams: any(s.ended_by for s in streams),
        timeout=5.0,
        what="the stream's end",
    )
    for stream in gate_evidence.wire_streams():
        names = [frame.event for frame in stream.events if frame.event in (*TERMINAL, *STATUS, "done")]
        if not any(name in TERMINAL for name in names):
            continue
        after = names[[i for i, name in enumerate(names) if name in TERMINAL][0] + 1 :]
        assert after == ["done"], f"the terminal event is not the last before done: {names}"


def test_the_started_state_is_shown_while_the_generation_is_held(
    gate_new_draft: NewDraftPage,
    gate_scripted: ScriptedGenerator,
    gate_contract: AppContract,
    gate_evidence: EvidenceCollector,
) -> None:
    """The worker took the task and the generator holds before its first step: the page hears that.

    Fails if: the stream drops or renames the `started` event, the page has no listener for it (it
    stays at its first text), or the event loses the text the contract says it shows."""
    started = "started"
    if started not in gate_contract.events.status:
        pytest.skip(f"contract {gate_contract.name!r} has no `started` event: {gate_contract.events.status}")
    gate_new_draft.generate()
    run = gate_scripted.next_run()
    wait_until(
        lambda: gate_evidence.dispatched(started),
        bool,
        timeout=5.0,
        what=f"the `{started}` event in the page",
    )
    heard = [d.listeners_called for d in gate_evidence.dispatched(started)]
    assert any(heard), f"the page dispatched `{started}` to no listener of its own (listeners called: {heard})"
    if gate_contract.messages.started is not None:
        expect(gate_new_draft.status).to_have_text(gate_contract.messages.started)
    run.succeed()


def test_a_stream_accepted_and_closed_without_an_event_again_and_again_gives_up_within_the_bound(
    gate_new_draft: NewDraftPage,
    gate_scripted: ScriptedGenerator,
    gate_backend: LiveBackend,
    gate_frontend_config: FrontendConfig,
    gate_fault_proxy: FaultProxy,
    gate_evidence: EvidenceCollector,
) -> None:
    """Every reconnect is accepted and closed before its first event: the page must still give up.

    Fails if: the give-up bound restarts on every `open` (the page then retries forever) or the page
    never gives up."""
    gate_frontend_config.update(reconnectTimeoutMs=1000)
    gate_new_draft.page.reload()
    gate_new_draft.fill().generate()
    run = gate_scripted.next_run()
    run.progress("Writing...")
    expect(gate_new_draft.status).to_have_text("Writing...")
    gate_fault_proxy.set_fault(CutAfterBytes(0, path_contains="/stream/"))
    gate_backend.restart()  # ends the current stream: every reconnect now meets the fault
    expect(gate_new_draft.alert).to_have_text(CONNECTION_LOST, timeout=5000)
    assert gate_evidence.stream_connections() >= 3, "the fault was not met again and again"


def test_the_backend_ends_the_stream_right_after_done(
    gate_backend: LiveBackend,
    gate_scripted: ScriptedGenerator,
    gate_contract: AppContract,
    gate_evidence: EvidenceCollector,
) -> None:
    """Read as a client that never closes: after `done` the response itself must end.

    Fails if: the backend keeps the stream open after `done` (every client that does not close
    holds a connection and a poller for nothing). `gate_evidence` records the wire for the diagnosis."""
    done = gate_contract.events.done
    gate_scripted.autoplay(Succeed(title="Ended"))
    # The read timeout bounds the wait for the end: 2 s of silence after `done` is a stream left open.
    with httpx.Client(base_url=gate_backend.url, timeout=httpx.Timeout(5.0, read=2.0)) as client:
        answer = client.post(
            gate_contract.generate.fill(campaign_id=gate_contract.campaign_id), json=gate_contract.sample_body()
        )
        assert answer.is_success, f"{answer.status_code}: {answer.text}"
        with client.stream("GET", gate_contract.stream_url_of(answer.json())) as response:
            lines = response.iter_lines()
            for line in lines:
                if line == f"event: {done}":
                    break
            else:
                pytest.fail(f"the stream ended without `{done}`")
            done_at = time.monotonic()
            try:
                rest = list(lines)  # returns when the response ends
            except httpx.ReadTimeout:
                pytest.fail(f"the stream stayed open {time.monotonic() - done_at:.1f} s after `{done}`, silent")
            assert time.monotonic() - done_at < 2.0, f"the stream stayed open after `{done}`: {rest}"
            assert all(not line.startswith("event:") for line in rest), rest


def test_the_task_state_outlives_a_long_generation(
    gate_start_generation: StartGeneration,
    gate_redis_provider: RedisProvider,
    gate_evidence: EvidenceCollector,
    gate_contract: AppContract,
) -> None:
    """The worker keeps the task's state in Redis with a TTL: long enough for a generation of minutes
    and the page's reconnects, yet set, so that finished tasks do not pile up in Redis forever.

    Read from Redis while the generation runs (the test does not wait the TTL out). Fails if: a key
    naming the task expires sooner than `Timings.min_task_ttl_s` (a stream polling it would find the
    task gone mid-generation) or has no TTL at all."""
    run = gate_start_generation("Writing...")
    task_ids = {ids[1] for s in gate_evidence.wire_streams() if (ids := gate_contract.stream_ids(s.path))}
    assert task_ids, f"no stream request named a task: {[s.path for s in gate_evidence.wire_streams()]}"
    client = gate_redis_provider.sync_client()
    try:
        ttls = {
            key.decode() if isinstance(key, bytes) else str(key): int(client.ttl(key))
            for task_id in task_ids
            for key in client.scan_iter(match=f"*{task_id}*")
        }
    finally:
        client.close()
    run.succeed()
    assert ttls, f"no Redis key names the task {sorted(task_ids)}"
    bound = gate_contract.timings.min_task_ttl_s
    wrong = {key: ttl for key, ttl in ttls.items() if ttl == -1 or 0 <= ttl < bound}
    assert not wrong, f"task state TTL (s; -1: none) below {bound:.0f} s or unset: {wrong}"
