// Stub of the dashboard pages that run the production EventSource client.
//
// Accessible contract the e2e suite relies on (change it only together with the tests):
//   /dashboard/campaigns/{campaign_id}/drafts/new  (new-draft page)
//     heading level 1 "New draft"
//     textbox "Topic", textbox "Audience", combobox "Tone" (professional|friendly|playful|formal),
//     combobox "Length" (short|medium|long), textbox "Key points" (one point per line)
//     button "Generate": disabled while a generation runs, enabled again after a failure
//   /dashboard/drafts/{draft_id}/edit  (editor)
//     heading level 1: the draft's title; textbox "Body": the draft's body, editable
//   any other path: heading level 1 "Page not found"
//   On every page:
//     role="status" (aria-live polite): the current progress text ("Starting...", then each server
//       message verbatim); emptied when a generation fails
//     role="alert": the current error, verbatim from the server where it sent one; hidden and empty
//       when there is no error. Fixed texts:
//         "Could not reach the drafts service. Please try again."  (fetch threw: network, CORS)
//         "Connection lost. Please try again."                      (stream lost for good)
//       A stream URL the API refuses (404 unknown/expired task, 503) shows the API's `detail`.
//         "Unexpected response from the server."                    (unreadable answer)
//         "Draft not found."                                        (editor, 404 without detail)
//       A 422 shows the server's detail, then one line per field error ("topic: String should ...").
// All server text is rendered with textContent, never as HTML.

import { subscribeToDraftGeneration } from "/lib/draft-stream.js";

const COULD_NOT_REACH = "Could not reach the drafts service. Please try again.";
const UNEXPECTED_RESPONSE = "Unexpected response from the server.";
const DRAFT_NOT_FOUND = "Draft not found.";

// /config.js is a classic script so the harness can point the page at a live backend without a
// build step; the defaults match `python -m drafts_api`.
const config = {
  apiBase: "http://127.0.0.1:8000",
  reconnectTimeoutMs: 15000,
  ...(window.__DRAFTS_CONFIG__ ?? {}),
};

const TONES = ["professional", "friendly", "playful", "formal"];
const LENGTHS = ["short", "medium", "long"];

const root = document.getElementById("app");

function el(tag, attributes = {}, children = []) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

function apiUrl(path) {
  return new URL(path, config.apiBase).href;
}

// The live regions exist from the first render: screen readers (and the tests) only announce
// changes of a region that was already in the page.
function createMessages() {
  const status = el("p", { role: "status", "aria-live": "polite", id: "status" });
  const alert = el("div", { role: "alert", id: "alert", hidden: "" });
  return {
    elements: [status, alert],
    setStatus(text) {
      status.textContent = text;
    },
    // `lines` after the first are shown one per line (field errors of a 422).
    setAlert(text, lines = []) {
      alert.replaceChildren();
      if (!text) {
        alert.hidden = true;
        return;
      }
      alert.append(el("p", {}, [text]));
      if (lines.length > 0) {
        // The newlines keep the alert's text readable as one string ("detail topic: ...").
        alert.append("\n", el("ul", {}, lines.flatMap((line) => ["\n", el("li", {}, [line])])));
      }
      alert.hidden = false;
    },
  };
}

// Reads an error body defensively: a proxy may answer with HTML instead of the API's JSON.
async function readError(response) {
  try {
    const body = await response.json();
    const detail = typeof body?.detail === "string" ? body.detail : null;
    const errors = Array.isArray(body?.errors) ? body.errors.filter((e) => typeof e === "string") : [];
    return { detail, errors };
  } catch {
    return { detail: null, errors: [] };
  }
}

function labelled(id, label, control) {
  control.id = id;
  return el("div", { class: "field" }, [el("label", { for: id }, [label]), control]);
}

function select(name, options) {
  return el("select", { name }, options.map((option) => el("option", { value: option }, [option])));
}

function renderNewDraft(campaignId) {
  const messages = createMessages();
  const topic = el("input", { name: "topic", type: "text", autocomplete: "off" });
  const audience = el("input", { name: "audience", type: "text", autocomplete: "off" });
  const tone = select("tone", TONES);
  const length = select("length", LENGTHS);
  length.value = "medium";
  const keyPoints = el("textarea", { name: "key_points", rows: "4" });
  const generate = el("button", { type: "submit" }, ["Generate"]);
  // novalidate: the server's 422 is the validation the page shows, so the browser must not
  // block the request first.
  const form = el("form", { novalidate: "" }, [
    labelled("topic", "Topic", topic),
    labelled("audience", "Audience", audience),
    labelled("tone", "Tone", tone),
    labelled("length", "Length", length),
    labelled("key-points", "Key points", keyPoints),
    generate,
  ]);
  root.replaceChildren(el("h1", {}, ["New draft"]), form, ...messages.elements);

  function stop(message, lines = []) {
    messages.setStatus("");
    messages.setAlert(message, lines);
    generate.disabled = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    generate.disabled = true;
    messages.setAlert("");
    messages.setStatus("Starting...");
    const body = {
      topic: topic.value,
      audience: audience.value,
      tone: tone.value,
      length: length.value,
      key_points: keyPoints.value.split("\n").map((line) => line.trim()).filter(Boolean),
    };
    let response;
    try {
      response = await fetch(apiUrl(`/v1/campaigns/${encodeURIComponent(campaignId)}/drafts/generate`), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch {
      return stop(COULD_NOT_REACH);
    }
    if (!response.ok) {
      const { detail, errors } = await readError(response);
      return stop(detail ?? `The drafts service answered with HTTP ${response.status}.`, errors);
    }
    let streamUrl;
    try {
      streamUrl = (await response.json()).stream_url;
    } catch {
      streamUrl = undefined;
    }
    if (typeof streamUrl !== "string") return stop(UNEXPECTED_RESPONSE);
    subscribeToDraftGeneration(
      new URL(streamUrl, config.apiBase).href,
      {
        onProgress: (message) => messages.setStatus(message),
        onSuccess: (draftId) => location.assign(`/dashboard/drafts/${encodeURIComponent(draftId)}/edit`),
        onFailure: (message) => stop(message),
      },
      { reconnectTimeoutMs: config.reconnectTimeoutMs },
    );
  });
}

async function renderEditor(draftId) {
  const messages = createMessages();
  const heading = el("h1", {}, ["Edit draft"]);
  root.replaceChildren(heading, ...messages.elements);
  messages.setStatus("Loading draft...");
  let response;
  try {
    response = await fetch(apiUrl(`/v1/drafts/${encodeURIComponent(draftId)}`));
  } catch {
    messages.setStatus("");
    return messages.setAlert(COULD_NOT_REACH);
  }
  if (!response.ok) {
    const { detail } = await readError(response);
    messages.setStatus("");
    const fallback = response.status === 404 ? DRAFT_NOT_FOUND : `The drafts service answered with HTTP ${response.status}.`;
    return messages.setAlert(detail ?? fallback);
  }
  let draft;
  try {
    draft = await response.json();
  } catch {
    draft = null;
  }
  messages.setStatus("");
  if (typeof draft?.title !== "string" || typeof draft?.body !== "string") {
    return messages.setAlert(UNEXPECTED_RESPONSE);
  }
  heading.textContent = draft.title;
  document.title = `${draft.title} - Drafts`;
  const body = el("textarea", { name: "body", rows: "16" });
  body.value = draft.body;
  root.append(labelled("body", "Body", body));
}

function renderNotFound() {
  root.replaceChildren(el("h1", {}, ["Page not found"]), ...createMessages().elements);
}

// Route segments come percent-encoded; an invalid escape is just an unknown page.
function route(pathname) {
  const segments = pathname.split("/").filter(Boolean);
  let decoded;
  try {
    decoded = segments.map(decodeURIComponent);
  } catch {
    return renderNotFound();
  }
  const [a, b, id, c, d] = decoded;
  if (decoded.length === 5 && a === "dashboard" && b === "campaigns" && c === "drafts" && d === "new") {
    return renderNewDraft(id);
  }
  if (decoded.length === 4 && a === "dashboard" && b === "drafts" && decoded[3] === "edit") {
    return renderEditor(decoded[2]);
  }
  return renderNotFound();
}

route(location.pathname);
