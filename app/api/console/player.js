// A transcript beside its audio: segments (and words, with word timestamps) that seek the
// player when clicked, and the segment and word being played highlighted. Speakers (diarized
// jobs, or split channels) each get a colour, and a name the reader may give them in this view
// (click the label). Text goes in as text nodes only.

import { h, clock } from "./dom.js";

const COLOURS = 6; // .speaker-0 … .speaker-5 in console.css, reused in turn

export function speaker(segment) {
  if (segment.speaker) return segment.speaker;
  return segment.channel === null || segment.channel === undefined ? null : String.fromCharCode(65 + segment.channel);
}

export class Transcript {
  constructor(audio) {
    this.audio = audio; // an <audio> element, or null when the recording is not in this browser
    this.list = h("ol", { class: "transcript", "aria-label": "Transcript" });
    this.segments = []; // [{start, end, el, words: [{start, end, el}]}]
    this.ids = new Set();
    this.speakers = new Map(); // label -> {index, name, els: [label elements]}
    if (audio) audio.addEventListener("timeupdate", () => this.highlight(audio.currentTime));
  }

  seek(seconds) {
    if (!this.audio) return;
    this.audio.currentTime = seconds;
    this.highlight(seconds);
    this.audio.play().catch(() => {}); // no audio device, or autoplay refused: the seek stands
  }

  add(segment) {
    if (this.ids.has(segment.id)) return;
    this.ids.add(segment.id);
    const who = speaker(segment);
    const words = [];
    const text = h("span", { class: "text" });
    if (segment.words && segment.words.length) {
      for (const word of segment.words) {
        const el = h("span", { class: "word", dataset: { start: word.start } }, word.word);
        if (this.audio) el.addEventListener("click", () => this.seek(word.start));
        words.push({ start: word.start, end: word.end, el });
        text.append(el);
      }
    } else {
      text.append(segment.text.trim());
    }
    const time = `${clock(segment.start)} – ${clock(segment.end)}`;
    const stamp = this.audio
      ? h("button", { type: "button", class: "seek", dataset: { start: segment.start },
        "aria-label": `Play from ${clock(segment.start)}`, onclick: () => this.seek(segment.start) }, time)
      : h("span", { class: "seek" }, time);
    const el = h("li", { class: `segment${who ? ` speaker-${this.speakerOf(who).index % COLOURS}` : ""}`,
      dataset: { id: segment.id, start: segment.start, speaker: who || "" } },
      stamp, who ? this.label(who) : null, text);
    this.segments.push({ start: segment.start, end: segment.end, el, words });
    this.list.append(el);
  }

  speakerOf(label) {
    if (!this.speakers.has(label)) {
      this.speakers.set(label, { index: this.speakers.size, name: `Speaker ${label}`, els: [] });
    }
    return this.speakers.get(label);
  }

  label(who) {
    const known = this.speakerOf(who);
    const el = h("button", { type: "button", class: "speaker", title: "Rename this speaker in this view" },
      known.name);
    el.addEventListener("click", () => this.rename(who, el));
    known.els.push(el);
    return el;
  }

  // Renaming in place (no dialogs in the console): the label becomes a field; Enter or leaving
  // it names every segment of that speaker, Escape keeps the old name.
  rename(who, el) {
    const known = this.speakerOf(who);
    const input = h("input", { class: "speaker-name", value: known.name, maxlength: 60,
      "aria-label": `A name for ${known.name}` });
    let done = false;
    const finish = (keep) => {
      if (done) return;
      done = true;
      const name = input.value.trim();
      if (keep && name) {
        known.name = name;
        for (const label of known.els) label.textContent = name;
      }
      input.remove();
      el.hidden = false;
      el.focus();
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") finish(true);
      if (e.key === "Escape") finish(false);
    });
    input.addEventListener("blur", () => finish(true));
    el.hidden = true;
    el.after(input);
    input.focus();
    input.select();
  }

  highlight(t) {
    for (const segment of this.segments) {
      const on = t >= segment.start && t < segment.end;
      segment.el.classList.toggle("current", on);
      if (on) segment.el.setAttribute("aria-current", "true");
      else segment.el.removeAttribute("aria-current");
      for (const word of segment.words) word.el.classList.toggle("current", on && t >= word.start && t < word.end);
    }
  }
}
