// One job: status and timeline, the detected language (top 5 as a chart), the transcript (live
// while it decodes, then final; with the player when the recording was submitted from this
// browser), downloads in every format, copy, metadata, the webhook's deliveries, the error.

import * as api from "./api.js";
import { h, replace, when, clock, toast } from "./dom.js";
import { bars } from "./charts.js";
import { Transcript } from "./player.js";
import { TERMINAL, jobLabel, statusBadge } from "./jobs.js";

function term(label, value) {
  return [h("dt", {}, label), h("dd", {}, value)];
}

function timeline(job) {
  const started = job.started_at ? new Date(job.started_at) : null;
  const finished = job.completed_at ? new Date(job.completed_at) : null;
  const seconds = started && finished ? (finished - started) / 1000 : null;
  const audio = job.result ? job.result.duration : job.audio_seconds;
  const rtf = seconds !== null && audio ? (seconds / audio).toFixed(3) : "–";
  return h("dl", { class: "timeline" },
    term("Created", when(job.created_at)), term("Started", when(job.started_at)),
    term("Finished", when(job.completed_at)), term("Audio", clock(audio)),
    term("Processing", seconds === null ? "–" : `${seconds.toFixed(1)} s`),
    term("Real-time factor", rtf), term("Attempts", String(job.attempts)),
    term("Model", job.options.model), term("Task", job.options.task));
}

function language(result) {
  if (!result) return null;
  const top = (result.language_probabilities || []).map((p) => ({ label: p.language, value: p.probability }));
  return h("section", { class: "card", "aria-labelledby": "lang-title" },
    h("h3", { id: "lang-title" }, "Language"),
    h("p", { id: "language" }, result.language
      ? `${result.language} (probability ${(result.language_probability * 100).toFixed(1)} %)`
      : "No speech detected."),
    top.length ? bars(top, { title: "Language detection, top 5", max: 1,
      format: (v) => `${(v * 100).toFixed(1)} %` }) : null);
}

function webhookLog(webhook) {
  if (!webhook) return null;
  return h("section", { class: "card", "aria-labelledby": "hook-title" },
    h("h3", { id: "hook-title" }, "Webhook"),
    h("dl", { class: "timeline" },
      term("URL", webhook.url), term("Attempts", String(webhook.attempts)),
      term("Last answer", webhook.last_status_code === null ? "–" : String(webhook.last_status_code)),
      term("Last error", webhook.last_error || "–"), term("Delivered", when(webhook.delivered_at)),
      term("Next attempt", when(webhook.next_attempt_at))));
}

// Subtitle limits for the SRT and VTT downloads; empty: the server's defaults (shown).
const CUE_LIMITS = [
  ["max_line_width", "Characters a line", 42, 1, 1000],
  ["max_line_count", "Lines a cue", 2, 1, 10],
  ["max_cue_seconds", "Seconds a cue", 7, 0.1, 3600],
];

function cueLimits() {
  const inputs = CUE_LIMITS.map(([name, label, placeholder, min, max]) =>
    h("label", {}, label, " ", h("input", {
      type: "number", name, placeholder: String(placeholder), min: String(min), max: String(max),
      step: name === "max_cue_seconds" ? "0.1" : "1", inputmode: "decimal", class: "cue-limit",
    })));
  const box = h("fieldset", { class: "cue-limits" }, h("legend", {}, "Subtitles (srt, vtt)"), inputs);
  const values = () => Object.fromEntries(
    [...box.querySelectorAll("input")].map((input) => [input.name, input.value.trim()]));
  return { box, values };
}

function downloads(job) {
  const limits = cueLimits();
  const save = async (format, subtitles) => {
    try {
      const asked = subtitles ? limits.values() : {};
      const { blob, name } = await api.transcript(job.id, format, asked);
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      toast(`Download failed (${e.code}): ${e.message}`);
    }
  };
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(job.result.text.trim());
      toast("Transcript copied.");
    } catch {
      toast("The browser did not allow copying.");
    }
  };
  const group = h("div", { class: "downloads", role: "group", "aria-label": "Download the transcript" },
    h("button", { type: "button", onclick: copy }, "Copy text"), limits.box);
  api.formats().then((list) => group.prepend(...list.map((f) => h("button", {
    type: "button", title: f.description, dataset: { format: f.name },
    onclick: () => save(f.name, f.subtitles),
  }, f.name))), (e) => toast(`The formats could not be read (${e.code}): ${e.message}`));
  return group;
}

export function jobView(main, id, session, onUnauthorized) {
  const control = new AbortController();
  let stopped = false;
  const local = session.local.get(id);
  const audio = local ? h("audio", { controls: true, src: local.url, preload: "auto", id: "player" }) : null;
  const transcript = new Transcript(audio);
  const status = h("span", { id: "job-status" });
  const progress = h("progress", { max: 1, value: 0, "aria-label": "Progress" });
  const position = h("span", { class: "position" });
  const title = h("h2", { id: "job-title" }, id);
  const details = h("div", { class: "details" });
  const actions = h("div", { class: "actions" });
  main.append(
    h("p", {}, h("a", { href: "#/jobs" }, "← All jobs")),
    h("section", { class: "card", "aria-labelledby": "job-title" },
      title, h("p", { class: "row" }, "Status: ", status, position, progress), actions, details),
    h("section", { class: "card", "aria-labelledby": "transcript-title" },
      h("h3", { id: "transcript-title" }, "Transcript"),
      audio || h("p", { class: "hint" }, "The player appears for recordings submitted from this browser."),
      transcript.list));

  const setStatus = (value) => replace(status, statusBadge(value));

  function render(job) {
    title.textContent = jobLabel(job);
    setStatus(job.status);
    progress.value = job.progress;
    if (job.status !== "queued") position.textContent = "";
    const remove = async () => {
      try {
        await api.remove(job.id);
        if (TERMINAL.has(job.status)) location.hash = "#/jobs";
        else toast("Cancel requested.");
      } catch (e) {
        toast(`Could not ${TERMINAL.has(job.status) ? "delete" : "cancel"} (${e.code}): ${e.message}`);
      }
    };
    replace(actions, h("button", { type: "button", class: TERMINAL.has(job.status) ? "danger" : "",
      onclick: remove }, TERMINAL.has(job.status) ? "Delete" : "Cancel"),
    job.status === "completed" ? downloads(job) : null);
    replace(details, timeline(job),
      job.error ? h("p", { class: "error", role: "alert", id: "job-error" },
        `${job.error.code}: ${job.error.message}`) : null,
      language(job.result),
      job.metadata ? h("section", { class: "card" }, h("h3", {}, "Metadata"),
        h("pre", { id: "metadata" }, JSON.stringify(job.metadata, null, 2))) : null,
      webhookLog(job.webhook));
    if (job.result) job.result.segments.forEach((s) => transcript.add(s));
  }

  async function reload() {
    const job = await api.job(id);
    if (!stopped) render(job);
    return job;
  }

  async function follow() {
    for (let attempt = 0; attempt < 30 && !stopped; attempt++) {
      try {
        await api.events(id, (kind, data) => {
          if (kind === "segment") transcript.add(data);
          else if (kind === "queued") {
            setStatus("queued");
            position.textContent = data.position ? ` (position ${data.position})` : "";
          } else if (kind === "processing") { setStatus("processing"); position.textContent = ""; }
          else if (kind === "progress") progress.value = data.progress;
          else if (TERMINAL.has(kind)) setStatus(kind);
        }, control.signal);
      } catch (e) {
        if (stopped || e.status === 404) return;
      }
      const job = await reload().catch(() => null);
      if (!job || TERMINAL.has(job.status)) return;
      await new Promise((r) => setTimeout(r, 2000)); // the stream ended early: reconnect
    }
  }

  reload().then((job) => { if (!TERMINAL.has(job.status)) follow(); }).catch((e) => {
    if (e.status === 401) onUnauthorized(`The key stopped working (${e.code}): ${e.message}`);
    else replace(details, h("p", { class: "error", role: "alert" }, `${e.code}: ${e.message}`));
  });
  return () => { stopped = true; control.abort(); };
}
