// The console's entry: asks for a key when the service needs one, then routes by the URL's
// fragment (#/jobs, #/jobs/<id>, #/service). Views render into <main>; each returns a function
// that stops what it started (streams, timers) when the view is left.

import * as api from "./api.js";
import { h, replace, field } from "./dom.js";
import { jobsView } from "./jobs.js";
import { jobView } from "./job.js";
import { serviceView } from "./service.js";

const main = document.getElementById("main");
const access = document.getElementById("access");
const session = { keysRequired: false, local: new Map() };
let leave = () => {};

function keyPrompt(problem) {
  const input = h("input", { type: "password", name: "key", autocomplete: "off", required: true,
    spellcheck: "false" });
  const message = h("p", { class: "error", role: "alert", id: "key-error" }, problem || "");
  const form = h("form", { class: "card key", "aria-describedby": "key-error" },
    h("h2", {}, "API key"),
    h("p", {}, "This service needs an API key. It is kept for this tab only (sessionStorage) and "
      + "sent as a bearer header."),
    field("Key", input),
    message,
    h("button", { type: "submit" }, "Use this key"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    api.key.set(input.value.trim());
    const problem = await checkKey();
    if (problem) showKeyPrompt(problem);
    else route();
  });
  return form;
}

function showKeyPrompt(problem) {
  leave();
  leave = () => {};
  access.textContent = "Keys required: enter yours to see your jobs.";
  replace(main, keyPrompt(problem));
  main.querySelector("input").focus();
}

async function checkKey() {
  try {
    await api.jobs({ limit: 1 });
    return null;
  } catch (e) {
    if (e.status === 401) {
      api.key.clear();
      return `That key was not accepted (${e.code}): ${e.message}`;
    }
    return `The service did not answer as expected (${e.code}): ${e.message}`;
  }
}

function showAccess() {
  replace(access);
  if (!session.keysRequired) {
    access.append("Open service: no key is needed, and anyone who can reach it sees every job.");
    return;
  }
  access.append("Signed in with a key. ",
    h("button", { type: "button", class: "link", onclick: () => { api.key.clear(); showKeyPrompt(); } },
      "Forget key"));
}

function route() {
  leave();
  if (session.keysRequired && !api.key.get()) {
    showKeyPrompt();
    return;
  }
  showAccess();
  const hash = location.hash || "#/jobs";
  const [, section, id] = hash.split("/");
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  replace(main);
  const onUnauthorized = (problem) => showKeyPrompt(problem);
  if (section === "jobs" && id) leave = jobView(main, decodedOrAsIs(id), session, onUnauthorized);
  else if (section === "service") leave = serviceView(main, session);
  else leave = jobsView(main, session, onUnauthorized);
}

// A hand-typed or truncated link (`#/jobs/%E0%A4%A`) is not valid percent-encoding: the job
// view then says "not found" for the text as typed instead of the page going blank.
function decodedOrAsIs(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

async function boot() {
  try {
    const index = await api.serviceIndex();
    session.keysRequired = Boolean(index.keys_required);
    session.version = index.version;
  } catch (e) {
    replace(main, h("p", { class: "error", role: "alert" },
      `The service could not be reached (${e.code}): ${e.message}`));
    return;
  }
  if (session.keysRequired && api.key.get()) {
    const problem = await checkKey();
    if (problem) {
      showKeyPrompt(problem);
      window.addEventListener("hashchange", route);
      return;
    }
  }
  window.addEventListener("hashchange", route);
  route();
}

boot();
