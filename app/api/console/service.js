// What the service is doing, from the same public endpoints a monitoring system reads:
// `/metrics` (queue depth per model, jobs by status, completed per minute, the real-time-factor
// distribution) and `/readyz` (which models have a live worker), refreshed while the page is open.

import * as api from "./api.js";
import { h, replace } from "./dom.js";
import { bars, columns } from "./charts.js";

const REFRESH_MS = 5000;

// Prometheus' text format -> [{name, labels, value}] (comments and blank lines skipped).
export function parseMetrics(text) {
  const samples = [];
  const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const raw of text.split("\n")) {
    if (!raw || raw.startsWith("#")) continue;
    const m = raw.match(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] || "").matchAll(label)) labels[l[1]] = l[2].replace(/\\(.)/g, "$1");
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

const sum = (samples, name, by) => {
  const out = new Map();
  for (const s of samples) {
    if (s.name !== name) continue;
    const k = by(s.labels);
    out.set(k, (out.get(k) || 0) + s.value);
  }
  return out;
};

export function serviceView(main) {
  let timer = null;
  let stopped = false;
  const history = []; // [time, completed total] for the per-minute rate
  const workers = h("div", { "aria-live": "polite" });
  const depth = h("div");
  const statuses = h("div");
  const rate = h("p", { id: "rate" }, "–");
  const rtf = h("div");
  main.append(
    h("h2", {}, "Service"),
    h("div", { class: "cards" },
      h("section", { class: "card", "aria-labelledby": "w-title" }, h("h3", { id: "w-title" }, "Workers"), workers),
      h("section", { class: "card", "aria-labelledby": "q-title" }, h("h3", { id: "q-title" }, "Queue depth"), depth),
      h("section", { class: "card", "aria-labelledby": "s-title" }, h("h3", { id: "s-title" }, "Jobs by status"), statuses),
      h("section", { class: "card", "aria-labelledby": "r-title" }, h("h3", { id: "r-title" }, "Completed per minute"), rate),
      h("section", { class: "card", "aria-labelledby": "f-title" },
        h("h3", { id: "f-title" }, "Real-time factor (completed jobs)"), rtf)));

  async function refresh() {
    try {
      const response = await fetch("readyz", { headers: { Accept: "application/json" } });
      const ready = await response.json();
      const models = ready.models || {};
      replace(workers, h("p", {}, response.ok ? "Ready." : `Not ready: ${ready.error?.message ?? ""}`),
        h("ul", {}, Object.entries(models).map(([model, alive]) =>
          h("li", {}, `${model}: ${alive ? "a live worker" : "no live worker"}`))));
    } catch {
      replace(workers, h("p", { class: "error" }, "The readiness probe did not answer."));
    }
    try {
      const samples = parseMetrics(await api.text("metrics"));
      const queues = sum(samples, "whisper_jobs_queue_depth", (l) => l.queue);
      replace(depth, bars([...queues].map(([label, value]) => ({ label: label.replace(/^transcribe\./, ""), value })),
        { title: "Messages waiting per queue" }));
      const open = sum(samples, "whisper_jobs_jobs", (l) => l.status);
      const ended = sum(samples, "whisper_jobs_jobs_finished_total", (l) => l.status);
      replace(statuses, bars([...open, ...ended].map(([label, value]) => ({ label, value })),
        { title: "Jobs by status" }));
      const completed = ended.get("completed") || 0;
      const now = Date.now();
      history.push([now, completed]);
      while (history.length > 2 && now - history[0][0] > 5 * 60_000) history.shift();
      const [t0, c0] = history[0];
      rate.textContent = now - t0 >= 10_000
        ? `${(((completed - c0) * 60_000) / (now - t0)).toFixed(1)} jobs/min (over the last ${Math.round((now - t0) / 1000)} s)`
        : "measuring…";
      const buckets = samples.filter((s) => s.name === "whisper_jobs_job_real_time_factor_bucket");
      const byBound = sum(buckets, "whisper_jobs_job_real_time_factor_bucket", (l) => l.le);
      const bounds = [...byBound.keys()].sort((a, b) => Number(a) - Number(b));
      let previous = 0;
      replace(rtf, columns(bounds.map((le) => {
        const value = byBound.get(le) - previous; // cumulative counts -> per bucket
        previous = byBound.get(le);
        return { label: le === "+Inf" ? ">" : `≤${le}`, value };
      }), { title: "Completed jobs by real-time factor" }));
    } catch (e) {
      replace(depth, h("p", { class: "error" }, `Metrics: ${e.message}`));
    }
    if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
  }

  refresh();
  return () => { stopped = true; clearTimeout(timer); };
}
