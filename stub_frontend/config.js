// Default configuration for `python -m drafts_api` on its default port. The e2e harness serves
// its own /config.js instead, with the live backend's URL and a short reconnect timeout.
window.__DRAFTS_CONFIG__ = {
  apiBase: "http://127.0.0.1:8000",
  reconnectTimeoutMs: 15000,
};
