"""One warmed browser context and page per pytest-xdist worker, reset between the tests that share it.

A fresh context and page per test (pytest-playwright's way) costs ~0.2-0.3 s of a ~1 s flow; the
reset below costs a few round trips. What a test leaves behind and how the reset removes it:

- open EventSources, timers, pending requests: the page navigates to `about:blank` (the browser
  aborts the old document's connections, so the backend sees the stream end before the next test);
- cookies: `context.clear_cookies()`; permissions: `clear_permissions()`; routes: `unroute_all()`;
- localStorage, sessionStorage, IndexedDB, Cache Storage, service workers of the page's origin:
  cleared by script in the page before it leaves;
- extra pages the test opened: closed; the shared page closed by the test: a new one next time;
- the EventSource recorder's records: cleared by the next test's evidence collector.

What a reset cannot undo recycles the context instead (closed, a new one for the next test): a test
that failed (its context may be anywhere), a page that visited more than one origin (storage of an
origin the page is no longer on cannot be cleared by script), a reset that raised. What it does not
see: init scripts, bindings, listeners, extra HTTP headers, geolocation or offline mode a test adds to
the context or page itself; such a test asks for its own context with
`@pytest.mark.gate_fresh_context`, as do tests that pass `@pytest.mark.browser_context_args`, and
every test when `--video` is on (a video covers a whole context).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Frame, Page
from playwright.sync_api import Error as PlaywrightError

from harness.contract import DRAFTS_API
from harness.recording import EventSourceRecorder

# Run in the page before it leaves: everything the origin stored, as far as a script can reach.
_CLEAR_ORIGIN_STORAGE = """async () => {
  try { localStorage.clear(); } catch (_) {}
  try { sessionStorage.clear(); } catch (_) {}
  const quietly = async (work) => { try { await work(); } catch (_) {} };
  // In parallel: each asks the browser process, and the reset is on every test's path.
  await Promise.all([
    quietly(async () => {
      if (!indexedDB.databases) return;
      for (const db of await indexedDB.databases()) if (db.name) indexedDB.deleteDatabase(db.name);
    }),
    quietly(async () => {
      if (globalThis.caches) await Promise.all((await caches.keys()).map((key) => caches.delete(key)));
    }),
    quietly(async () => {
      if (!navigator.serviceWorker) return;
      await Promise.all((await navigator.serviceWorker.getRegistrations()).map((r) => r.unregister()));
    }),
  ]);
}"""


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else None


class ReusedContext:
    """The worker's shared context and page; `acquire()` before a test, `release()` after it."""

    def __init__(
        self, browser: Browser, context_args: dict[str, Any], observe_types: tuple[str, ...] = DRAFTS_API.events.all
    ) -> None:
        """`observe_types`: the app's event names, recorded even where the page has no listener
        (the default contract's when a conftest builds one of its own)."""
        self._browser = browser
        self._context_args = context_args
        self._observe_types = observe_types
        self._context: BrowserContext | None = None
        self._recorder: EventSourceRecorder | None = None
        self._page: Page | None = None
        self._origins: set[str] = set()
        self.contexts_made = 0
        """How many contexts this worker has made (tests: proves reuse happened, or did not)."""

    @property
    def recorder(self) -> EventSourceRecorder:
        """The EventSource recorder installed on the shared context (one per context)."""
        if self._recorder is None:
            raise RuntimeError("no shared context yet: acquire() first")
        return self._recorder

    def owns(self, context: BrowserContext) -> bool:
        return context is self._context

    def acquire(self) -> BrowserContext:
        if self._context is None:
            context = self._browser.new_context(**self._context_args)
            # Installed once, before any page loads: the init script must run in every document.
            self._recorder = EventSourceRecorder(self._observe_types).install(context)
            self._context = context
            self.contexts_made += 1
        return self._context

    def page(self) -> Page:
        """The shared page of the shared context (a new one if the last test closed it)."""
        context = self.acquire()
        if self._page is None or self._page.is_closed():
            self._page = context.new_page()
            self._page.on("framenavigated", self._note_navigation)
        return self._page

    def _note_navigation(self, frame: Frame) -> None:
        origin = _origin(frame.url)
        if origin is not None:
            self._origins.add(origin)

    def release(self, *, failed: bool, before_reset: Callable[[BrowserContext], None] | None = None) -> None:
        """After a test: `before_reset` (tracing, screenshots) on the context as the test left it, then
        the reset, or a recycle when the reset cannot make it clean."""
        context = self._context
        if context is None:
            return
        if before_reset is not None:
            before_reset(context)
        if failed or not self._reset(context):
            self.recycle()

    def _reset(self, context: BrowserContext) -> bool:
        """True when the context is clean for the next test."""
        page, visited, self._origins = self._page, self._origins, set()
        try:
            for other in context.pages:
                if other is not page:
                    other.close()
            if page is not None and not page.is_closed():
                current = _origin(page.url)
                if visited - {current}:
                    return False
                if current is not None:
                    page.evaluate(_CLEAR_ORIGIN_STORAGE)
                page.unroute_all(behavior="ignoreErrors")
                # "commit": the old document, its EventSources and timers are gone once the new one
                # commits; about:blank's load event adds nothing but a wait.
                page.goto("about:blank", wait_until="commit")
            context.clear_cookies()
            context.clear_permissions()
            context.unroute_all(behavior="ignoreErrors")
        except PlaywrightError:
            return False
        return True

    def recycle(self) -> None:
        """Close the shared context; the next test gets a new one."""
        context, self._context, self._page, self._recorder = self._context, None, None, None
        self._origins = set()
        if context is not None:
            try:
                context.close()
            except PlaywrightError:
                pass  # the browser is gone already: nothing left to close
