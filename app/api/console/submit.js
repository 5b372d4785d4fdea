// The submission form: files (picked or dropped) and audio URLs, every job option, and an
// Idempotency-Key per submission that lives until that submission succeeded, so a double click
// or a retry makes one job, not two.

import * as api from "./api.js";
import { h, replace, field } from "./dom.js";

const STATUS_OK = "ok";

function optionControls(models) {
  const select = (name, values, chosen) => h("select", { name },
    values.map(([value, label]) => h("option", { value, selected: value === chosen }, label)));
  const number = (name, attrs) => h("input", { type: "number", name, ...attrs });
  const check = (name) => h("input", { type: "checkbox", name, value: "true" });
  const offered = models.filter((m) => !m.alias_of);
  const model = select("model", offered.map((m) => [m.id, m.id + (m.default ? " (default)" : "")]),
    (offered.find((m) => m.default) || offered[0] || {}).id);
  return h("details", { class: "options" },
    h("summary", {}, "Options"),
    h("div", { class: "grid" },
      field("Model", model),
      field("Language", h("input", { name: "language", maxlength: 10, placeholder: "detect",
        autocomplete: "off" }), "ISO code, e.g. en; empty: detect"),
      field("Task", select("task", [["transcribe", "transcribe"], ["translate", "translate to English"], ["detect_language", "detect the language only"]], "transcribe")),
      field("Word timestamps", check("word_timestamps")),
      field("Batched", select("batched", [["auto", "auto"], ["true", "yes"], ["false", "no"]], "auto")),
      field("Channels", select("channels", [["mix", "mix"], ["split", "split (stereo: two speakers)"]], "mix")),
      field("Who spoke (diarize)", check("diarize"), "label each segment's speaker"),
      field("Speakers", number("num_speakers", { min: 1, max: 20, placeholder: "estimate" }),
        "with diarize: how many, if known"),
      field("Beam size", number("beam_size", { min: 1, max: 10, placeholder: "5" })),
      field("Temperature", h("input", { name: "temperature", placeholder: "0,0.2,0.4,0.6,0.8,1.0",
        maxlength: 200 }), "a number or a comma-separated fallback list"),
      field("VAD filter", check("vad_filter")),
      field("VAD threshold", number("vad_threshold", { min: 0.01, max: 0.99, step: 0.01 })),
      field("VAD min silence (ms)", number("vad_min_silence_ms", { min: 0, step: 50 })),
      field("VAD speech pad (ms)", number("vad_speech_pad_ms", { min: 0, step: 50 })),
      field("Initial prompt", h("textarea", { name: "initial_prompt", rows: 2, maxlength: 2000 })),
      field("Hotwords", h("input", { name: "hotwords", maxlength: 2000 })),
      field("Metadata", h("textarea", { name: "metadata", rows: 2, placeholder: '{"ticket": 42}' }),
        "a JSON object, echoed on the job and in its webhook"),
      field("Webhook URL", h("input", { type: "url", name: "webhook_url", placeholder: "https://example.com/hook" })),
    ));
}

function chosenOptions(form) {
  const data = new FormData(form);
  const options = [];
  for (const [name, value] of data.entries()) {
    if (name === "files" || name === "urls" || value === "") continue;
    options.push([name, value]);
  }
  return options;
}

export function submitPanel(session, onSubmitted) {
  const pending = new Map(); // File or URL string -> its Idempotency-Key, until it succeeds
  const fileInput = h("input", { type: "file", name: "files", multiple: true,
    accept: "audio/*,video/*", id: "files" });
  const urls = h("textarea", { name: "urls", rows: 2, id: "urls",
    placeholder: "https://example.com/recording.mp3 (one per line)" });
  const status = h("ul", { class: "submit-status", "aria-live": "polite" });
  const button = h("button", { type: "submit" }, "Transcribe");
  const optionsSlot = h("div");
  const drop = h("div", { class: "drop" },
    h("label", { for: "files" }, "Drop recordings here, or choose files"), fileInput);
  const form = h("form", { class: "card submit", "aria-label": "Submit audio" },
    h("h2", {}, "Transcribe"), drop, field("Or audio URLs", urls), optionsSlot, button, status);

  api.models().then((list) => replace(optionsSlot, optionControls(list.data)))
    .catch((e) => replace(optionsSlot, h("p", { class: "error" }, `Models: ${e.message}`)));

  let dropped = [];
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    dropped = [...e.dataTransfer.files];
    replace(status, h("li", {}, `${dropped.length} file(s) ready: `, dropped.map((f) => f.name).join(", ")));
  });
  fileInput.addEventListener("change", () => { dropped = []; });

  const keyFor = (item) => {
    if (!pending.has(item)) pending.set(item, crypto.randomUUID());
    return pending.get(item);
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    const files = dropped.length ? dropped : [...fileInput.files];
    const links = urls.value.split("\n").map((u) => u.trim()).filter(Boolean);
    if (!files.length && !links.length) {
      replace(status, h("li", { class: "error" }, "Choose a file or give an audio URL first."));
      return;
    }
    button.disabled = true;
    replace(status);
    const options = chosenOptions(form);
    const created = [];
    for (const item of [...files, ...links]) {
      const body = new FormData();
      if (typeof item === "string") body.append("audio_url", item);
      else body.append("file", item, item.name);
      for (const [name, value] of options) body.append(name, value);
      const name = typeof item === "string" ? item : item.name;
      try {
        const job = await api.submit(body, keyFor(item));
        pending.delete(item);
        if (typeof item !== "string") {
          session.local.set(job.id, { url: URL.createObjectURL(item), name });
        }
        created.push(job);
        status.append(h("li", { class: STATUS_OK }, `${name}: queued as `,
          h("a", { href: `#/jobs/${job.id}` }, job.id)));
      } catch (e) {
        status.append(h("li", { class: "error" }, `${name}: refused (${e.code}): ${e.message}`));
      }
    }
    button.disabled = false;
    if (created.length) {
      fileInput.value = "";
      dropped = [];
      urls.value = links.filter((l) => pending.has(l)).join("\n");
      onSubmitted(created);
    }
  });
  return form;
}
