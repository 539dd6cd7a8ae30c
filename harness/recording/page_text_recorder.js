// Records what the page's status and alert regions say, each time it changes.
//
// Installed as a Playwright init script (every document, before page scripts). A MutationObserver
// on the whole document re-reads the regions after each batch of mutations and emits a record only
// when the visible text changed. Records go to the Python binding as they happen (the document, and
// anything kept in it, dies on navigation) and to a window-global array as a fallback.
((config) => {
  "use strict";
  delete globalThis.__sseGatePageTextConfig;
  if (globalThis[config.logName]) return;
  const log = [];
  Object.defineProperty(globalThis, config.logName, { value: log, configurable: true, enumerable: false });
  const docId = Math.random().toString(36).slice(2, 10) + Date.now().toString(36);
  let seq = 0;
  let last = null;

  // Hidden regions (an alert with no error is hidden) count as empty, as a user would see them.
  const visibleText = (selector) =>
    Array.from(document.querySelectorAll(selector))
      .filter((element) => !element.closest("[hidden]") && element.getClientRects().length > 0)
      .map((element) => element.textContent.trim())
      .filter(Boolean)
      .join(" | ");

  function read() {
    const status = visibleText(config.statusSelector);
    const alert = visibleText(config.alertSelector);
    const key = status + "\u0000" + alert;
    if (key === last) return;
    last = key;
    const record = { doc: docId, seq: ++seq, t: (performance.timeOrigin + performance.now()) / 1000, url: String(location.href), status, alert };
    log.push(record);
    const binding = globalThis[config.bindingName];
    if (typeof binding === "function") {
      try {
        const pending = binding(record);
        if (pending && typeof pending.catch === "function") pending.catch(() => {});
      } catch (_) {
        // Unloading: the window log keeps the record.
      }
    }
  }

  function start() {
    read();
    new MutationObserver(read).observe(document, {
      subtree: true, childList: true, characterData: true, attributes: true,
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
  else start();
})(globalThis.__sseGatePageTextConfig);
