// Parley's public /v1 API, the only thing the console talks to. The tenant's API key lives in
// sessionStorage (gone when the tab closes), is sent as a bearer token, and never goes into a
// URL, the page or a log.
const KEY = "parley.key";
const AGENT = "parley.agent";
let base = "";

export class ApiError extends Error {
  constructor(status, detail) {
    super(describe(detail) || `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
  }
}

// A 422's detail: a string, or a list of {loc, msg, line?, column?}.
export function describe(detail) {
  if (detail == null) return "";
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((e) => (e.loc && e.loc.length ? `${e.loc.join(".")}: ` : "") + e.msg).join("; ");
  }
  return JSON.stringify(detail);
}

export async function configure() {
  const resp = await fetch("config.json", { cache: "no-store" });
  if (resp.ok) base = (await resp.json()).api_base || "";
}

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  get agent() { return sessionStorage.getItem(AGENT) || ""; },
  signIn(key, agent) {
    sessionStorage.setItem(KEY, key);
    sessionStorage.setItem(AGENT, agent);
  },
  signOut() {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(AGENT);
  },
};

function headers(extra, key) {
  return { Authorization: `Bearer ${key || session.key}`, ...extra };
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === "") continue;
    for (const item of Array.isArray(v) ? v : [v]) q.append(k, item);
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

// call("GET", "/v1/flows"), call("POST", path, {json}), {yaml: text}, {accept: "application/yaml"}
export async function call(method, path, opts = {}) {
  const extra = {};
  let body;
  if (opts.json !== undefined) {
    extra["Content-Type"] = "application/json";
    body = JSON.stringify(opts.json);
  } else if (opts.yaml !== undefined) {
    extra["Content-Type"] = "application/yaml";
    body = opts.yaml;
  }
  if (opts.accept) extra.Accept = opts.accept;
  const resp = await fetch(base + path + query(opts.params), {
    method, body, headers: headers(extra, opts.key), cache: "no-store", credentials: "omit",
  });
  const type = resp.headers.get("content-type") || "";
  const data = resp.status === 204 ? null
    : type.includes("json") ? await resp.json() : await resp.text();
  if (!resp.ok) {
    if (resp.status === 401 && !opts.key) window.dispatchEvent(new CustomEvent("parley:signed-out"));
    throw new ApiError(resp.status, data && typeof data === "object" ? data.detail : data);
  }
  return data;
}

export const get = (path, params, opts) => call("GET", path, { ...opts, params });
export const post = (path, json, opts) => call("POST", path, { ...opts, json });

// A server-sent event stream read with fetch (EventSource cannot send the key): calls
// onEvent(name, data) per event, reconnects after a pause when the stream ends or fails, and
// reports the connection state through onState("live" | "reconnecting"). Returns a stop function.
export function stream(path, onEvent, onState) {
  const controller = new AbortController();
  let stopped = false;

  async function once() {
    const resp = await fetch(base + path, {
      headers: headers({ Accept: "text/event-stream" }), signal: controller.signal, cache: "no-store",
      credentials: "omit",
    });
    if (!resp.ok) throw new ApiError(resp.status, null);
    onState("live");
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message";
        const data = [];
        for (const line of frame.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data.push(line.slice(6));
        }
        if (data.length) onEvent(event, JSON.parse(data.join("\n")));
      }
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await once();
      } catch (err) {
        if (stopped) return;
        if (err instanceof ApiError && err.status === 401) {
          window.dispatchEvent(new CustomEvent("parley:signed-out"));
          return;
        }
      }
      if (stopped) return;
      onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })();
  return () => {
    stopped = true;
    controller.abort();
  };
}
