// The caller's jobs, newest first: a status filter, pages (`after` = the last id of the page),
// live status and progress (an event stream per running job, at most LIVE_STREAMS at once; the
// page is re-read every REFRESH_MS for the rest), cancel and delete.

import * as api from "./api.js";
import { h, replace, when, clock, toast } from "./dom.js";
import { submitPanel } from "./submit.js";

const PAGE = 20;
const LIVE_STREAMS = 5;
const REFRESH_MS = 4000;
const STATUSES = ["", "queued", "processing", "completed", "failed", "canceled"];
export const TERMINAL = new Set(["completed", "failed", "canceled"]);

export function jobLabel(job) {
  return job.filename || job.source_url || job.id;
}

export function statusBadge(status) {
  return h("span", { class: `badge ${status}`, "data-status": status }, status);
}

export function jobsView(main, session, onUnauthorized) {
  const streams = new Map(); // job id -> AbortController
  const cursors = []; // the `after` of each page before this one
  let after = null;
  let timer = null;
  let stopped = false;
  const filter = h("select", { id: "status-filter", name: "status" },
    STATUSES.map((s) => h("option", { value: s }, s || "all")));
  const body = h("tbody");
  const table = h("table", { class: "jobs" },
    h("caption", { class: "visually-hidden" }, "Your jobs, newest first"),
    h("thead", {}, h("tr", {}, ["Recording", "Status", "Progress", "Created", "Audio", ""].map(
      (t) => h("th", { scope: "col" }, t)))),
    body);
  const newer = h("button", { type: "button", disabled: true }, "Newer");
  const older = h("button", { type: "button", disabled: true }, "Older");
  const empty = h("p", { class: "empty", hidden: true }, "No jobs yet.");
  main.append(
    submitPanel(session, (created) => {
      if (created.length === 1) location.hash = `#/jobs/${created[0].id}`;
      else { cursors.length = 0; after = null; load(); }
    }),
    h("section", { class: "card", "aria-labelledby": "jobs-title" },
      h("div", { class: "row" }, h("h2", { id: "jobs-title" }, "Jobs"),
        h("label", { for: "status-filter" }, "Status"), filter),
      h("div", { class: "scroll" }, table), empty,
      h("nav", { class: "pager", "aria-label": "Pages" }, newer, older)));

  filter.addEventListener("change", () => { cursors.length = 0; after = null; load(); });
  older.addEventListener("click", () => { cursors.push(after); after = body.lastChild?.dataset.id; load(); });
  newer.addEventListener("click", () => { after = cursors.pop() ?? null; load(); });

  function row(job) {
    const progress = h("progress", { max: 1, value: job.progress,
      "aria-label": `Progress of ${jobLabel(job)}` });
    const action = TERMINAL.has(job.status)
      ? h("button", { type: "button", class: "danger", onclick: () => act(job, "Deleted") }, "Delete")
      : h("button", { type: "button", onclick: () => act(job, "Canceled") }, "Cancel");
    return h("tr", { dataset: { id: job.id } },
      h("td", {}, h("a", { href: `#/jobs/${job.id}` }, jobLabel(job))),
      h("td", { class: "status" }, statusBadge(job.status)),
      h("td", {}, progress),
      h("td", {}, when(job.created_at)),
      h("td", {}, clock(job.audio_seconds)),
      h("td", {}, action));
  }

  async function act(job, done) {
    try {
      await api.remove(job.id);
      toast(`${done}: ${jobLabel(job)}`);
    } catch (e) {
      toast(`Could not change ${jobLabel(job)} (${e.code}): ${e.message}`);
    }
    load();
  }

  function follow(job) {
    if (streams.has(job.id) || streams.size >= LIVE_STREAMS) return;
    const control = new AbortController();
    streams.set(job.id, control);
    const update = (status, progress) => {
      const tr = body.querySelector(`tr[data-id="${job.id}"]`); // rows are redrawn on reload
      if (!tr) return;
      if (status) replace(tr.querySelector(".status"), statusBadge(status));
      if (progress !== undefined) tr.querySelector("progress").value = progress;
    };
    api.events(job.id, (kind, data) => {
      if (kind === "processing") update("processing", 0);
      else if (kind === "progress") update(null, data.progress);
      else if (TERMINAL.has(kind)) {
        update(kind, data.job.progress);
        if (!stopped) setTimeout(load, 0); // its actions change
      }
    }, control.signal).catch(() => {}).finally(() => {
      streams.delete(job.id);
    });
  }

  async function load() {
    clearTimeout(timer);
    let page;
    try {
      page = await api.jobs({ status: filter.value || null, after, limit: PAGE });
    } catch (e) {
      if (e.status === 401) { onUnauthorized(`The key stopped working (${e.code}): ${e.message}`); return; }
      toast(`Jobs could not be listed (${e.code}): ${e.message}`);
      page = null;
    }
    if (stopped) return;
    if (page) {
      const seen = new Set(page.data.map((j) => j.id));
      for (const [id, control] of streams) if (!seen.has(id)) control.abort();
      replace(body, page.data.map(row));
      empty.hidden = page.data.length > 0;
      older.disabled = !page.has_more;
      newer.disabled = after === null;
      for (const job of page.data) {
        if (!TERMINAL.has(job.status)) follow(job);
      }
    }
    timer = setTimeout(load, REFRESH_MS);
  }

  load();
  return () => {
    stopped = true;
    clearTimeout(timer);
    for (const control of streams.values()) control.abort();
  };
}
