// Records how the page uses EventSource, without changing what the page sees.
//
// Installed as a Playwright init script, so it runs in every document before any page script.
// It replaces window.EventSource with a subclass of the native one that records:
//   construct  - new EventSource(url, init)
//   listen     - addEventListener types; handler - onopen/onmessage/onerror assignments
//   dispatch   - every event the native object dispatches of a type someone listens for, plus
//                open/message/error and the configured protocol types (even when the page has no
//                listener for them: that is exactly the named-event bug)
//   deliver    - each call of a page listener for such a dispatch ("0 of 6 delivered")
//   close      - close() calls, with readyState before
// Every record goes to the window-global array, which Python reads when it asks (one evaluate, at
// the end of a test or on a query), so recording costs no round trip to Python per event. The array
// dies with its document when the page navigates (e.g. to the editor right after `success`), so when
// a navigation starts (`beforeunload`) the records Python has not seen go to the Python binding in one
// call, and every record after that, until the document is gone, goes at once, one by one. Why
// `beforeunload` and not `pagehide`: Chromium reports the old document's execution context destroyed
// before `pagehide` runs, and Playwright drops a binding call from a destroyed context (measured:
// 0 of 10 pagehide calls arrived, 10 of 10 beforeunload ones). Not covered: a page closed by
// `page.close()` (no beforeunload): its records are read only while it is open.
//
// Why a subclass and wrapped listeners: instanceof, EventSource.CLOSED, readyState, the event
// objects and the listener order stay the native ones; page listeners are wrapped only to count
// their calls, and removeEventListener is mapped back to the same wrapper.
// Not covered: EventSource in workers (init scripts do not run there) and listeners added through
// EventTarget.prototype.addEventListener.call(source, ...), which bypass the subclass.
((config) => {
  "use strict";
  // The config global is only a way to pass parameters into this script: remove it from the page.
  delete globalThis.__sseGateRecorderConfig;
  const Native = globalThis.EventSource;
  const MARK = Symbol.for("sse-gate.eventsource-recorder");
  if (typeof Native !== "function" || Native[MARK]) return;

  const bindingName = config.bindingName || "__sseGateRecord";
  const logName = config.logName || "__sseGateLog";
  const observeTypes = Array.isArray(config.observeTypes) ? config.observeTypes.map(String) : [];
  const alwaysObserved = [...new Set(["open", "message", "error", ...observeTypes])];
  const log = [];
  Object.defineProperty(globalThis, logName, { value: log, configurable: true, enumerable: false });

  // One id per document, so records from the page before a navigation stay distinct from after.
  const docId = Math.random().toString(36).slice(2, 10) + Date.now().toString(36);
  let recordSeq = 0;
  let sourceSeq = 0;
  let dispatchSeq = 0;
  // Same clock as Python's time.time() (see harness/evidence): the epoch, but to the 0.1 ms that Chromium
  // gives performance.now(), not Date.now()'s whole milliseconds, which truncate: a frame the page got
  // within a millisecond of the server's stamp could otherwise read as dispatched before it was sent.
  const now = () => (performance.timeOrigin + performance.now()) / 1000;

  let sent = 0; // log[0..sent) has gone to Python through the binding
  let unloading = false;

  function send(records) {
    const binding = globalThis[bindingName];
    if (typeof binding !== "function" || records.length === 0) return;
    try {
      const pending = binding(records);
      // A failed delivery to Python must never surface in the page as an unhandled rejection.
      if (pending && typeof pending.catch === "function") pending.catch(() => {});
    } catch (_) {
      // The binding is gone: the window log still has the records for a reader of this document.
    }
  }

  function flush() {
    send(log.slice(sent));
    sent = log.length;
  }

  function emit(record) {
    record.seq = ++recordSeq;
    record.doc = docId;
    record.t = now();
    record.page_url = String(globalThis.location && globalThis.location.href);
    log.push(record);
    if (unloading) flush();
  }

  // On window, registered before any page script. A page whose own beforeunload handler cancels the
  // navigation stays in one-by-one mode: slower, never lossy.
  globalThis.addEventListener(
    "beforeunload",
    () => {
      unloading = true;
      flush();
    },
    true,
  );

  const nativeAdd = EventTarget.prototype.addEventListener;
  const nativeRemove = EventTarget.prototype.removeEventListener;
  const nativeClose = Native.prototype.close;
  const handlerProps = ["onopen", "onmessage", "onerror"];
  const handlerDescriptors = {};
  for (const name of handlerProps) {
    handlerDescriptors[name] = Object.getOwnPropertyDescriptor(Native.prototype, name);
  }

  const states = new WeakMap(); // EventSource -> recorder state
  const dispatchOf = new WeakMap(); // Event -> dispatch record, for counting deliveries

  function noteDelivery(event, via) {
    const record = dispatchOf.get(event);
    if (record) emit({ kind: "deliver", source: record.source, dispatch: record.dispatch, via });
  }

  // Registered with capture so it runs before every page listener of the type, capturing ones too
  // (at the target, capture listeners run first).
  function beginDispatch(event) {
    const state = states.get(this);
    if (!state) return;
    const isMessage = typeof MessageEvent === "function" && event instanceof MessageEvent;
    const record = {
      kind: "dispatch",
      source: state.id,
      dispatch: ++dispatchSeq,
      type: event.type,
      data: isMessage ? String(event.data) : null,
      message_event: isMessage,
      trusted: event.isTrusted,
      ready_state: this.readyState,
      last_event_id: isMessage ? String(event.lastEventId) : null,
    };
    dispatchOf.set(event, record);
    emit(record);
  }

  function observe(source, state, type) {
    if (state.observed.has(type)) return;
    state.observed.add(type);
    nativeAdd.call(source, type, beginDispatch, true);
  }

  function isCapture(options) {
    return typeof options === "boolean" ? options : Boolean(options && options.capture);
  }

  function wrapperFor(state, listener, type, capture) {
    let byKey = state.wrappers.get(listener);
    if (!byKey) {
      byKey = new Map();
      state.wrappers.set(listener, byKey);
    }
    const key = `${capture ? 1 : 0}:${type}`;
    let wrapper = byKey.get(key);
    if (!wrapper) {
      wrapper = function (event) {
        noteDelivery(event, "addEventListener");
        if (typeof listener === "function") return listener.call(this, event);
        return listener.handleEvent(event);
      };
      byKey.set(key, wrapper);
    }
    return wrapper;
  }

  class EventSource extends Native {
    constructor(...args) {
      super(...args);
      const state = {
        id: `${docId}:${++sourceSeq}`,
        observed: new Set(),
        wrappers: new WeakMap(),
        handlers: new Map(),
      };
      states.set(this, state);
      emit({
        kind: "construct",
        source: state.id,
        url: String(args[0]),
        resolved_url: this.url,
        with_credentials: this.withCredentials,
        observed_types: alwaysObserved,
      });
      for (const type of alwaysObserved) observe(this, state, type);
    }

    addEventListener(...args) {
      const state = states.get(this);
      if (state && args.length >= 2) {
        const type = String(args[0]);
        observe(this, state, type);
        emit({ kind: "listen", source: state.id, type });
        const listener = args[1];
        if (listener !== null && (typeof listener === "function" || typeof listener === "object")) {
          args[1] = wrapperFor(state, listener, type, isCapture(args[2]));
        }
      }
      return nativeAdd.apply(this, args);
    }

    removeEventListener(...args) {
      const state = states.get(this);
      const listener = args[1];
      if (state && args.length >= 2 && listener !== null && (typeof listener === "function" || typeof listener === "object")) {
        const byKey = state.wrappers.get(listener);
        const wrapper = byKey && byKey.get(`${isCapture(args[2]) ? 1 : 0}:${String(args[0])}`);
        if (wrapper) {
          args[1] = wrapper;
          emit({ kind: "unlisten", source: state.id, type: String(args[0]) });
        }
      }
      return nativeRemove.apply(this, args);
    }

    close() {
      const state = states.get(this);
      if (state) emit({ kind: "close", source: state.id, ready_state_before: this.readyState });
      return nativeClose.call(this);
    }
  }

  for (const name of handlerProps) {
    const native = handlerDescriptors[name];
    if (!native || !native.get || !native.set) continue;
    Object.defineProperty(EventSource.prototype, name, {
      configurable: true,
      enumerable: true,
      get() {
        const state = states.get(this);
        return state && state.handlers.has(name) ? state.handlers.get(name) : native.get.call(this);
      },
      set(value) {
        const state = states.get(this);
        if (!state) return native.set.call(this, value);
        emit({
          kind: "handler",
          source: state.id,
          property: name,
          assigned: typeof value === "function" ? "function" : value === null ? "null" : typeof value,
        });
        if (typeof value === "function") {
          const wrapped = function (event) {
            noteDelivery(event, name);
            return value.call(this, event);
          };
          native.set.call(this, wrapped);
          state.handlers.set(name, value);
        } else {
          native.set.call(this, value);
          state.handlers.delete(name);
        }
      },
    });
  }

  // `constructor(...args)` has length 0; the native constructor's is 1.
  Object.defineProperty(EventSource, "length", { value: Native.length, configurable: true });
  Object.defineProperty(EventSource, MARK, { value: true });
  Object.defineProperty(globalThis, "EventSource", {
    value: EventSource,
    writable: true,
    configurable: true,
    enumerable: false,
  });
})(globalThis.__sseGateRecorderConfig || {});
