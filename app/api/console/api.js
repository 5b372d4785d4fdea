// The public HTTP API, as any client uses it: relative URLs (the console works under a path
// prefix), the key as a bearer header (kept in sessionStorage, never in a URL or a cookie), and
// errors in the contract's shape {"error": {"code", "message"}}.

const KEY = "whisper-jobs.key";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const key = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

function headers(extra = {}) {
  const h = { Accept: "application/json", ...extra };
  const k = key.get();
  if (k) h.Authorization = `Bearer ${k}`;
  return h;
}

async function failure(response) {
  let code = "http_" + response.status;
  let message = response.statusText || "The request failed.";
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch { /* not JSON: keep the status line */ }
  return new ApiError(response.status, code, message);
}

export async function request(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { ...options, headers: headers(options.headers) });
  } catch (e) {
    throw new ApiError(0, "network_error", "The service could not be reached.");
  }
  if (!response.ok) throw await failure(response);
  return response;
}

export async function json(path, options) {
  const response = await request(path, options);
  return response.status === 204 ? null : response.json();
}

export const serviceIndex = () => json("./", { headers: { Accept: "application/json" } });
export const models = () => json("v1/models");
// The transcript formats the service renders (its registry), asked once per page.
let formatList;
export const formats = () => (formatList ??= json("v1/formats").then((body) => body.data));
export const job = (id) => json(`v1/jobs/${encodeURIComponent(id)}`);
export const remove = (id) => json(`v1/jobs/${encodeURIComponent(id)}`, { method: "DELETE" });

export function jobs({ status, after, limit = 20 } = {}) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (status) query.set("status", status);
  if (after) query.set("after", after);
  return json(`v1/jobs?${query}`);
}

export function submit(form, idempotencyKey) {
  return json("v1/jobs", {
    method: "POST", body: form, headers: { "Idempotency-Key": idempotencyKey },
  });
}

// The transcript in one format, and the file name the API gives it (Content-Disposition).
// `limits`: subtitle limits ({ max_line_width: 42, ... }); empty values are left to the server.
export async function transcript(id, format, limits = {}) {
  const query = new URLSearchParams({ format });
  for (const [name, value] of Object.entries(limits)) if (value !== "") query.set(name, value);
  const response = await request(
    `v1/jobs/${encodeURIComponent(id)}/transcript?${query}`,
    { headers: { Accept: "*/*" } },
  );
  const disposition = response.headers.get("Content-Disposition") || "";
  const name = (disposition.match(/filename="([^"]+)"/) || [])[1] || `${id}.${format}`;
  return { blob: await response.blob(), name };
}

export async function text(path) {
  return (await request(path, { headers: { Accept: "text/plain" } })).text();
}

// Server-Sent Events over fetch (EventSource cannot send an Authorization header).
export async function events(id, onEvent, signal) {
  const response = await request(`v1/jobs/${encodeURIComponent(id)}/events`, {
    headers: { Accept: "text/event-stream" }, signal,
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let kind = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) kind = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) onEvent(kind, JSON.parse(data));
    }
  }
}
