// Small SVG charts drawn with DOM calls (no library, no inline style: the CSP forbids it).

import { svg } from "./dom.js";

// Horizontal bars: items = [{label, value}], value in 0..max.
export function bars(items, { title, max = null, format = (v) => String(v) } = {}) {
  const top = max ?? Math.max(1, ...items.map((i) => i.value));
  const rowHeight = 22;
  const height = Math.max(1, items.length) * rowHeight;
  const chart = svg("svg", { class: "chart", viewBox: `0 0 320 ${height}`, role: "img",
    "aria-label": `${title}: ${items.map((i) => `${i.label} ${format(i.value)}`).join(", ") || "none"}` },
  svg("title", {}, title));
  items.forEach((item, n) => {
    const y = n * rowHeight;
    const width = top > 0 ? Math.max(0, (item.value / top) * 190) : 0;
    chart.append(
      svg("text", { x: 0, y: y + 15, class: "label" }, item.label),
      svg("rect", { x: 80, y: y + 4, width: width.toFixed(1), height: 14, rx: 2, class: "bar" }),
      svg("text", { x: 80 + width + 6, y: y + 15, class: "value" }, format(item.value)));
  });
  return chart;
}

// Vertical columns over ordered buckets: items = [{label, value}].
export function columns(items, { title } = {}) {
  const top = Math.max(1, ...items.map((i) => i.value));
  const width = 320;
  const step = width / Math.max(1, items.length);
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${width} 120`, role: "img",
    "aria-label": `${title}: ${items.map((i) => `${i.label} ${i.value}`).join(", ") || "none"}` },
  svg("title", {}, title));
  // Labels that would overlap (many narrow columns) are shown every `every` columns; each
  // column names its bucket on hover.
  const longest = Math.max(1, ...items.map((i) => String(i.label).length));
  const every = Math.max(1, Math.ceil((longest * 6.5 + 4) / step));
  items.forEach((item, n) => {
    const h = (item.value / top) * 90;
    chart.append(
      svg("rect", { x: (n * step + 2).toFixed(1), y: (95 - h).toFixed(1), width: (step - 4).toFixed(1),
        height: h.toFixed(1), class: "bar" }, svg("title", {}, `${item.label}: ${item.value}`)));
    if (n % every === 0) {
      // The first label starts at the left edge, so it is not cut off there.
      const first = n === 0 && longest * 6.5 > step;
      chart.append(svg("text", { x: (first ? 1 : n * step + step / 2).toFixed(1), y: 112,
        class: "tick", "text-anchor": first ? "start" : "middle" }, item.label));
    }
  });
  return chart;
}
