// A transcript beside its audio: segments (and words, with word timestamps) that seek the
// player when clicked, and the segment and word being played highlighted. Split-channel jobs
// read as two speakers. Text goes in as text nodes only.

import { h, clock } from "./dom.js";

export function speaker(channel) {
  return channel === null || channel === undefined ? null : `Speaker ${channel + 1}`;
}

export class Transcript {
  constructor(audio) {
    this.audio = audio; // an <audio> element, or null when the recording is not in this browser
    this.list = h("ol", { class: "transcript", "aria-label": "Transcript" });
    this.segments = []; // [{start, end, el, words: [{start, end, el}]}]
    this.ids = new Set();
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
    const who = speaker(segment.channel);
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
    const el = h("li", { class: `segment${who ? ` channel-${segment.channel}` : ""}`,
      dataset: { id: segment.id, start: segment.start } },
      stamp, who ? h("span", { class: "speaker" }, who) : null, text);
    this.segments.push({ start: segment.start, end: segment.end, el, words });
    this.list.append(el);
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
