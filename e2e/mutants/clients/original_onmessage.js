// MUTANT: the production client as it shipped (the regression fixture).
// Broken: listens only with `eventSource.onmessage`, which fires only for UNNAMED events, and
//   expects the old payload shape (`state`, `status`, `result.draft_id`, `error`). The backend
//   sends named events (pending/started/progress/success/error/done), so nothing is ever
//   handled; when the server ends the stream, `onerror` fires and the page shows
//   "Connection lost. Please try again." even though the draft was saved.
// Models: sse-failure-modes.md #1 (named events vs onmessage), also #2 and #8.
// Killed by: the happy-path test (progress text shown in order, then the editor heading); the
//   status text never leaves "Starting..." and the alert says "Connection lost".

export function subscribeToDraftGeneration(streamUrl, { onProgress, onSuccess, onFailure }, options = {}) {
  const eventSource = new EventSource(streamUrl);

  eventSource.onmessage = (event) => {
    const data = JSON.parse(event.data);
    if (data.state === "PROGRESS") {
      onProgress(data.status);
    } else if (data.state === "SUCCESS") {
      eventSource.close();
      onSuccess(data.result.draft_id);
    } else if (data.state === "FAILURE") {
      eventSource.close();
      onFailure(data.error);
    }
  };

  eventSource.onerror = () => {
    eventSource.close();
    onFailure("Connection lost. Please try again.");
  };

  return {
    close() {
      eventSource.close();
    },
  };
}
