"""Client mutants: the production EventSource client with one small, named change each.

Each mutant is a list of exact text replacements applied to `stub_frontend/lib/draft-stream.js` when
the mutants run, so the mutants follow the client as it evolves instead of going stale as copies
would. A replacement that no longer finds its text (exactly once) is an error that names the mutant:
the client changed under it, and the mutant must be rewritten. `tests/test_mutant_catalogue.py`
checks that every one still applies.

The one client that is not derived is `clients/original_onmessage.js`: the production client as it
shipped, kept verbatim as the regression fixture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PRODUCTION_CLIENT = Path(__file__).resolve().parents[2] / "stub_frontend" / "lib" / "draft-stream.js"


class MutantDrift(RuntimeError):
    """The production client changed: a mutant's replacement no longer applies."""


@dataclass(frozen=True)
class ClientMutant:
    name: str
    summary: str
    description: str  # what is broken, the failure mode it models, the guarantee that kills it
    replacements: tuple[tuple[str, str], ...]
    operator: str = ""  # the mutation operator that produced it; the name when hand-written

    def render_production(self) -> str:
        return self.render(PRODUCTION_CLIENT.read_text(encoding="utf-8"))

    def render(self, source: str) -> str:
        """The client with this mutant's replacements applied; each must match exactly once."""
        for old, new in self.replacements:
            found = source.count(old)
            if found != 1:
                raise MutantDrift(
                    f"client mutant {self.name!r}: expected the text {old[:60]!r}... once in the client, "
                    f"found it {found} times; the production client changed, rewrite the mutant"
                )
            source = source.replace(old, new)
        header = "\n".join(
            f"// {line}".rstrip() for line in [f"MUTANT: {self.summary}", *self.description.splitlines()]
        )
        return f"{header}\n\n{source}"

    def write(self, directory: Path, source: str | None = None) -> Path:
        text = self.render(source if source is not None else PRODUCTION_CLIENT.read_text(encoding="utf-8"))
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}.js"
        path.write_text(text, encoding="utf-8")
        return path


CLIENT_MUTANTS: tuple[ClientMutant, ...] = (
    ClientMutant(
        name="wrong_draft_id_field",
        operator="client: read another field path",
        summary="reads the draft id from the old payload shape.",
        description="""Broken: on `success` it reads `data.result.draft_id` (the shape of the old state-polling API)
  instead of `data.draft.id`, and, trusting the server, does not check it: the id is
  `undefined`, the page navigates to /dashboard/drafts/undefined/edit and shows "Draft not found."
Models: sse-failure-modes.md #8 (payload shape drift: `draft.id` vs `result.draft_id`).
Killed by: the happy-path test asserting the editor URL carries the draft's id and its level-1
  heading equals the draft's title.
""",
        replacements=(
            (
                """    const draftId = readPayload(event)?.draft?.id;
    if (typeof draftId !== "string" || draftId === "") return fail(UNEXPECTED_RESPONSE);
    succeed(draftId);""",
                """    const draftId = readPayload(event)?.result?.draft_id;
    succeed(draftId);""",
            ),
        ),
    ),
    ClientMutant(
        name="never_closes",
        operator="client: never close",
        summary="never closes the EventSource on the terminal event.",
        description="""Broken: `finish()` forgets `source.close()` (and so the one-outcome guard is gone too; there
  is no `done` handling). When the server ends the response after `success`/`error`,
  EventSource treats it as a dropped connection, reconnects after the `retry:` delay, the
  stateless stream replays the terminal event, and the handlers run again: another navigation,
  or the failure shown again, with one more stream request every few seconds, forever.
Models: sse-failure-modes.md #3 (normal end of stream fires `error` and EventSource
  reconnects), and #12 (terminal event handled twice).
Killed by: the guarantee "the client closes its EventSource on the terminal event, and each
  generation makes exactly one stream request" (EventSource recorder / server request count),
  most visibly in the server-failure test where the page stays put.
""",
        replacements=(
            (
                """  let finished = false; // no more events are handled: an outcome is on its way, or the caller closed
""",
                "",
            ),
            (
                """  async function failWithServerExplanation() {
    if (finished) return;
    finish();""",
                """  async function failWithServerExplanation() {
    finish();""",
            ),
            (
                """  function finish() {
    finished = true;
    clearReconnectTimer();
    source.close();
  }""",
                """  function finish() {
    clearReconnectTimer();
  }""",
            ),
            (
                """  function fail(message) {
    if (finished) return;
    finish();""",
                """  function fail(message) {
    finish();""",
            ),
            (
                """  function succeed(draftId) {
    if (finished) return;
    finish();""",
                """  function succeed(draftId) {
    finish();""",
            ),
            (
                """  function onStatusEvent(event) {
    if (finished) return;
""",
                """  function onStatusEvent(event) {
""",
            ),
            (
                """  function onSuccessEvent(event) {
    if (finished) return;
""",
                """  function onSuccessEvent(event) {
""",
            ),
            (
                """  function onErrorEvent(event) {
    if (finished) return;
""",
                """  function onErrorEvent(event) {
""",
            ),
            (
                """  // `done` always follows a terminal event, which has already closed the source. Reaching it
  // unfinished means the server ended the task without an outcome; waiting would only reconnect.
  function onDoneEvent() {
    if (finished) return;
    fail(UNEXPECTED_RESPONSE);
  }

""",
                "",
            ),
            (
                """  source.addEventListener("done", onDoneEvent);
""",
                "",
            ),
            (
                """    close() {
      closedByCaller = true;
      if (!finished) finish();
    },""",
                """    close() {
      closedByCaller = true;
      finish();
      source.close();
    },""",
            ),
            (
                """  // Closing before the server ends the response matters: a normal end of stream looks like a
  // transport error to EventSource, which would then reconnect and replay the terminal event.
  function finish() {""",
                """  // The server ends the response after the terminal event, so the subscription ends with it.
  function finish() {""",
            ),
            (
                """  // The page gets exactly one outcome, whatever arrives afterwards.
  function fail(message) {""",
                "  function fail(message) {",
            ),
        ),
    ),
    ClientMutant(
        name="server_error_as_connection_lost",
        operator="client: server error taken for a lost connection",
        summary="every `error` event is taken for a lost connection.",
        description="""Broken: the `error` listener does not tell the server's `event: error` (a MessageEvent with a
  message for the user) from EventSource's transport error (a plain Event): a task failure shows
  "Connection lost. Please try again." instead of the server's message, and a real blip ends the
  generation at once instead of letting EventSource reconnect.
Models: sse-failure-modes.md #2 (server `event: error` collides with the transport `error`).
Killed by: the scripted-failure test asserting the alert shows the server's message verbatim
  (also the backend-restart test, which expects recovery).
""",
        replacements=(
            (
                """  // `error` means two things: the server's own `event: error` (a MessageEvent carrying data, a
  // message for the user) and EventSource's transport error (a plain Event, no data).
  function onErrorEvent(event) {
    if (finished) return;
    if (event instanceof MessageEvent) {
      const message = readPayload(event)?.message;
      return fail(typeof message === "string" ? message : UNEXPECTED_RESPONSE);
    }
    onTransportError();
  }""",
                """  // EventSource reports a dropped connection as `error`.
  function onErrorEvent() {
    if (finished) return;
    fail(CONNECTION_LOST);
  }""",
            ),
        ),
    ),
    ClientMutant(
        name="drops_progress",
        operator="client: stop listening to a name",
        summary="ignores `progress` events.",
        description="""Broken: only `pending` and `started` are listened to (the list was written when the backend
  had no progress phases): the status text stays at the first status message until the page
  leaves for the editor. Nothing errors.
Models: sse-failure-modes.md #1 in miniature (an event name the client does not listen to is
  silently dropped), with the symptom of #15 (the page does not follow each step).
Killed by: the progress test that holds the task at each barrier and asserts the status text
  equals that step's exact message before releasing it.
""",
        replacements=(
            (
                'const STATUS_EVENTS = ["pending", "started", "progress"];',
                'const STATUS_EVENTS = ["pending", "started"];',
            ),
        ),
    ),
    ClientMutant(
        name="reconnects_forever",
        operator="client: endless grace",
        summary="waits for EventSource to reconnect, without a bound.",
        description="""Broken: a transport error is left entirely to EventSource's own retrying: no timer and no
  check of readyState CLOSED. When the backend stays down, or answers the reconnect with a
  non-200 / non-event-stream response (EventSource then gives up for good), the page keeps
  showing the last progress text forever, never an error, and "Generate" stays disabled.
Models: sse-failure-modes.md #14 (a non-200 on reconnect closes EventSource permanently) and
  #10 (unknown or expired task id).
Killed by: the stream-lost test (backend stopped for good, or the stream answering 404/502)
  expecting "Connection lost. Please try again." within the configured reconnect timeout.
""",
        replacements=(
            (
                """  // EventSource retries by itself while readyState is CONNECTING (e.g. a backend restart); give it
  // a bounded time so the page never waits forever. CLOSED means it has given up for good (a
  // non-200 or non-event-stream answer, first connect or reconnect): nothing to wait for.
  function onTransportError() {
    if (source.readyState === EventSource.CLOSED) return failWithServerExplanation();
    if (reconnectTimer === null) {
      reconnectTimer = setTimeout(() => fail(CONNECTION_LOST), reconnectTimeoutMs);
    }
  }""",
                """  // EventSource reconnects by itself; nothing to do until it does.
  function onTransportError() {}""",
            ),
        ),
    ),
    ClientMutant(
        name="first_progress_only",
        operator="client: dedupe by event name",
        summary="shows only the first `progress` message.",
        description="""Broken: status events are de-duplicated on the event NAME instead of the message ("the server
  may repeat a state after a reconnect, don't flicker"). `pending` and `started` come once
  each, so they look fine; every `progress` after the first has the same name and is dropped.
  The status text freezes at the first step until the editor opens. Nothing errors.
Models: the symptom of sse-failure-modes.md #15/#16 (the page does not follow each step),
  caused by client state instead of buffering; checked the way #8 asks: exact visible text.
Killed by: the progress test asserting each step's exact message in order (at a barrier per
  step); a test that only waits for the editor heading lets it through.
""",
        replacements=(
            (
                """  let reconnectTimer = null;
""",
                """  let reconnectTimer = null;
  let lastStatusEvent = null;
""",
            ),
            (
                """  function onStatusEvent(event) {
    if (finished) return;
    clearReconnectTimer();
""",
                """  function onStatusEvent(event) {
    if (finished) return;
    clearReconnectTimer();
    if (event.type === lastStatusEvent) return;
    lastStatusEvent = event.type;
""",
            ),
        ),
    ),
)
