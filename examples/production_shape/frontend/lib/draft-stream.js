// The production-shaped app's EventSource client (served over the stub page: `--frontend-dir
// examples/production_shape/frontend` is an overlay of this one file). The same client as
// stub_frontend/lib/draft-stream.js but for the status events: `pending` and `started` carry only
// `{"state": ...}`, with no text to show, while `progress` carries `{"type": "status", "message"}`.
//
// Follows one draft generation over Server-Sent Events.
//
// The drafts API sends NAMED events only (event: pending / started / progress / success / error /
// done), so `onmessage` would never fire: every event gets its own listener here. That mismatch was
// the production bug this module replaces.

const CONNECTION_LOST = "Connection lost. Please try again.";
const UNEXPECTED_RESPONSE = "Unexpected response from the server.";
const DEFAULT_RECONNECT_TIMEOUT_MS = 15000;
const EXPLAIN_TIMEOUT_MS = 5000;
const STATUS_EVENTS = ["pending", "started", "progress"];

/**
 * @param {string} streamUrl absolute URL of the task's stream
 * @param {{onProgress(message: string): void, onSuccess(draftId: string): void, onFailure(message: string): void}} handlers
 * @param {{reconnectTimeoutMs?: number, campaignId?: string}} [options]
 * @returns {{close(): void}}
 */
export function subscribeToDraftGeneration(streamUrl, { onProgress, onSuccess, onFailure }, options = {}) {
  const reconnectTimeoutMs = options.reconnectTimeoutMs ?? DEFAULT_RECONNECT_TIMEOUT_MS;
  const source = new EventSource(streamUrl);
  let finished = false; // no more events are handled: an outcome is on its way, or the caller closed
  let closedByCaller = false;
  let reconnectTimer = null;

  function clearReconnectTimer() {
    if (reconnectTimer !== null) {
      clearTimeout(reconnectTimer);
      reconnectTimer = null;
    }
  }

  // Closing before the server ends the response matters: a normal end of stream looks like a
  // transport error to EventSource, which would then reconnect and replay the terminal event.
  function finish() {
    finished = true;
    clearReconnectTimer();
    source.close();
  }

  // The page gets exactly one outcome, whatever arrives afterwards.
  function fail(message) {
    if (finished) return;
    finish();
    onFailure(message);
  }

  // EventSource gives up for good on a non-200 answer and cannot read its body. One plain request
  // to the same URL can: the API's own JSON error (unknown or expired task, store down) tells the
  // user more than "Connection lost".
  async function failWithServerExplanation() {
    if (finished) return;
    finish();
    const message = await explainRefusedStream(streamUrl);
    if (!closedByCaller) onFailure(message);
  }

  function succeed(draftId) {
    if (finished) return;
    finish();
    onSuccess(draftId);
  }

  // A payload we cannot read ends the generation with a clear message instead of an uncaught
  // exception that would freeze the page at its last progress text.
  function readPayload(event) {
    try {
      const payload = JSON.parse(event.data);
      return payload !== null && typeof payload === "object" ? payload : null;
    } catch {
      return null;
    }
  }

  function onStatusEvent(event) {
    if (finished) return;
    clearReconnectTimer();
    const payload = readPayload(event);
    if (payload === null) return fail(UNEXPECTED_RESPONSE);
    if (typeof payload.message === "string") return onProgress(payload.message);
    // `pending`/`started`: a state, no text. Anything else is a payload we cannot read.
    if (typeof payload.state !== "string") return fail(UNEXPECTED_RESPONSE);
  }

  function onSuccessEvent(event) {
    if (finished) return;
    const draftId = readPayload(event)?.draft?.id;
    if (typeof draftId !== "string" || draftId === "") return fail(UNEXPECTED_RESPONSE);
    succeed(draftId);
  }

  // `error` means two things: the server's own `event: error` (a MessageEvent carrying data, a
  // message for the user) and EventSource's transport error (a plain Event, no data).
  function onErrorEvent(event) {
    if (finished) return;
    if (event instanceof MessageEvent) {
      const message = readPayload(event)?.message;
      return fail(typeof message === "string" ? message : UNEXPECTED_RESPONSE);
    }
    onTransportError();
  }

  // EventSource retries by itself while readyState is CONNECTING (e.g. a backend restart); give it
  // a bounded time so the page never waits forever. CLOSED means it has given up for good (a
  // non-200 or non-event-stream answer, first connect or reconnect): nothing to wait for.
  function onTransportError() {
    if (source.readyState === EventSource.CLOSED) return failWithServerExplanation();
    if (reconnectTimer === null) {
      reconnectTimer = setTimeout(() => fail(CONNECTION_LOST), reconnectTimeoutMs);
    }
  }

  // `done` always follows a terminal event, which has already closed the source. Reaching it
  // unfinished means the server ended the task without an outcome; waiting would only reconnect.
  function onDoneEvent() {
    if (finished) return;
    fail(UNEXPECTED_RESPONSE);
  }

  for (const name of STATUS_EVENTS) source.addEventListener(name, onStatusEvent);
  source.addEventListener("success", onSuccessEvent);
  source.addEventListener("error", onErrorEvent);
  source.addEventListener("done", onDoneEvent);
  // Not on `open`: a server that accepts the connection and then closes it without an event would
  // reset the bound on every attempt. Every (re)connection to the real stream starts with the
  // current state, so a received event is proof enough that the stream is back.

  return {
    close() {
      closedByCaller = true;
      if (!finished) finish();
    },
  };
}

// The API's `detail` for a refused stream URL, else CONNECTION_LOST (a proxy's error page, the
// server gone, or a 200 again); never throws, never waits long.
async function explainRefusedStream(streamUrl) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), EXPLAIN_TIMEOUT_MS);
  try {
    const response = await fetch(streamUrl, { cache: "no-store", signal: controller.signal });
    if (response.ok) return CONNECTION_LOST;
    const detail = (await response.json())?.detail;
    return typeof detail === "string" && detail !== "" ? detail : CONNECTION_LOST;
  } catch {
    return CONNECTION_LOST;
  } finally {
    clearTimeout(timer);
    // Also ends the request if the URL answered with a stream this time.
    controller.abort();
  }
}
